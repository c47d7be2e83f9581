"""The reporter: a position report every report_interval_s, queued on flash for the uplink.

Policy (pure, time as an argument): reports fall on a fixed grid from the first one, so a slow
fix does not push every later report back; if the watch fell more than one interval behind
(a long outage of the modem), it skips ahead instead of firing a burst of catch-up reports.
While an SOS tracks, the interval is the SOS schedule's (30 s, then 2 minutes), and hurry()
starts a report at once.

Alarms (AL) are built here too, from what is known now (no GNSS wait: an SOS must not wait
45 s for a fix) and queued in the alarm outbox, which the uplink sends before any report.
"""
import asyncio

from firmware import clock, log, watchproto
from firmware.compat import const, wait_for_ms
from firmware.drivers.a76xx import csq_percent
from firmware.fix import Fix

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
    def __init__(self, modem, cfg, outbox, positioning, uplink, battery, alarms=None, fast_fn=None):
        """alarms: the alarm outbox; fast_fn() -> a shorter interval in ms while SOS tracks,
        else None."""
        self._m = modem
        self._cfg = cfg
        self._ob = outbox
        self._al = alarms
        self._pos = positioning
        self._up = uplink
        self._batt = battery
        self._fast = fast_fn
        self._hurry = asyncio.Event()
        self.due = None
        self.last_due = None  # when the last report was due (the grid replan() counts from)
        self.progress = None  # ticks when the last report cycle ended (the watchdog reads it)
        self.last_cell = None  # the serving cell at the last report (for alarms)
        self._gsm = 0

    def interval_ms(self):
        ms = self._cfg["report_interval_s"] * 1000
        fast = self._fast() if self._fast is not None else None
        return fast if fast is not None and fast < ms else ms

    def replan(self):
        """The interval changed: the next report falls one new interval after the last one
        (at once if that is past), not at the end of the old interval."""
        if self.last_due is not None:
            self.due = next_due(clock.ticks_ms(), self.last_due, self.interval_ms())
            self._hurry.set()

    def hurry(self):
        """Report now (SOS started): the next report is due at once."""
        self.due = clock.ticks_ms()
        self._hurry.set()

    def position_now(self):
        """(fix, age_s, cell): the best position known without searching, for alarms and SMS.
        fix None if the watch never had one."""
        f = self._pos.last
        now = clock.wall.now()
        age = 0
        if f is not None and now is not None and now > f.t:
            age = now - f.t
        return f, age, self.last_cell

    def alarm(self, status):
        """An AL with `status` (one alarm bit) at the best known position, queued in the alarm
        outbox. Without any fix ever: position 0,0 marked V, with the cell (Traccar can place
        it by the cell with geolocation on). Returns its seq."""
        f, age, cell = self.position_now()
        now = clock.wall.now()
        t = now if now is not None else (f.t if f is not None else 0)
        if f is None:
            fix = Fix(t, 0, 0, False, 0, 0, 0, 0, 0, "none")
        else:
            fix = Fix(t, f.lat, f.lon, age < 60, f.alt, 0, 0, f.sats, f.acc, f.source)
        cells = (cell,) if cell is not None else ()
        try:
            content = watchproto.position("AL", fix, self._gsm, self._batt.percent(), 0, status, cells)
        except ValueError:
            content = watchproto.position("AL", fix, self._gsm, self._batt.percent(), 0, status, ())
        seq = self._al.put(content)
        self._up.kick()
        return seq

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
                self.last_cell = c
            gsm = csq_percent(await self._m.csq())
            self._gsm = gsm
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
                self._hurry.clear()
                try:
                    await wait_for_ms(self._hurry.wait(), wait)
                except asyncio.TimeoutError:
                    pass
                if clock.ticks_diff(self.due, clock.ticks_ms()) > 0:
                    continue  # the interval changed under us: wait for the new due time
            try:
                await self.report_once()
            except OSError as e:
                log.event("error", where="reporter", err=repr(e))
            self.progress = clock.ticks_ms()
            self.last_due = self.due
            self.due = next_due(clock.ticks_ms(), self.due, self.interval_ms())
