"""The reporter: a position report every report_interval_s, queued on flash for the uplink.

Policy (pure, time as an argument): reports fall on a fixed grid from the first one, so a slow
fix does not push every later report back; if the watch fell more than one interval behind
(a long outage of the modem), it skips ahead instead of firing a burst of catch-up reports.
"""
from firmware import clock, log, watchproto
from firmware.compat import const, sleep_ms
from firmware.drivers.a76xx import csq_percent

_CELLS_MAX = const(1)  # the serving cell; neighbours need AT+CPSI's neighbour list (later)
# A periodic report's status word carries no alarm bit: Traccar raises an alarm only when it
# differs from the previous position's, so bits belong to the one message reporting the event
# (watch-protocol.md §6). Alarms (AL) come with geofences and SOS.
_STATUS = const(0)


def next_due(now, due, interval_ms):
    """The report after the one due at `due` (ticks), never in the past by a whole interval."""
    nxt = clock.ticks_add(due, interval_ms)
    if clock.ticks_diff(now, nxt) >= interval_ms:
        late = clock.ticks_diff(now, nxt)
        nxt = clock.ticks_add(nxt, (late // interval_ms) * interval_ms)
    return nxt


class Reporter:
    def __init__(self, modem, cfg, outbox, positioning, uplink, battery):
        self._m = modem
        self._cfg = cfg
        self._ob = outbox
        self._pos = positioning
        self._up = uplink
        self._batt = battery
        self.due = None
        self.progress = None  # ticks when the last report cycle ended (the watchdog reads it)

    async def report_once(self):
        """Cell, fix, battery -> one UD on flash, then wake the uplink. The cell comes first:
        the positioning policy uses it to tell whether the watch went outdoors."""
        cells = ()
        gsm = 0
        c = None
        try:
            c = await self._m.serving_cell()
            if c is not None:
                cells = (c,)
            gsm = csq_percent(await self._m.csq())
        except OSError as e:
            log.event("error", where="cell", err=repr(e))
        fix = await self._pos.locate(self._cfg["gnss_timeout_s"], c)
        batt = self._batt.percent()
        if fix is None:
            log.event("report_skipped", why="no position known yet")
            return None
        try:
            content = watchproto.position("UD", fix, gsm, batt, 0, _STATUS, cells[:_CELLS_MAX])
        except ValueError as e:  # a cell the protocol cannot carry: report without it
            log.event("error", where="report", err=repr(e))
            content = watchproto.position("UD", fix, gsm, batt, 0, _STATUS, ())
        seq = self._ob.put(content)
        log.event("report", seq=seq, valid=fix.valid, src=fix.source, lat=fix.lat, lon=fix.lon,
                  acc=fix.acc, batt=batt, queued=len(self._ob))
        self._up.kick()
        return seq

    async def run(self):
        """Never returns."""
        self.due = clock.ticks_ms()
        while True:
            wait = clock.ticks_diff(self.due, clock.ticks_ms())
            if wait > 0:
                await sleep_ms(wait)
            try:
                await self.report_once()
            except OSError as e:
                log.event("error", where="reporter", err=repr(e))
            self.progress = clock.ticks_ms()
            self.due = next_due(clock.ticks_ms(), self.due, self._cfg["report_interval_s"] * 1000)
