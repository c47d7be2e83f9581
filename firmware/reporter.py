"""The reporter: a position report every report_interval_s, queued on flash for the uplink.

Policy (pure, time as an argument): reports fall on a fixed grid from the first one, so a slow
fix does not push every later report back; if the watch fell more than one interval behind
(a long outage of the modem), it skips ahead instead of firing a burst of catch-up reports.
While an SOS tracks, the interval is the SOS schedule's (30 s, then 2 minutes), and hurry()
starts a report at once.

Alarms (AL) are built here too, from what is known now (no GNSS wait: an SOS must not wait
45 s for a fix) and queued in the alarm outbox, which the uplink sends before any report.

Safe zones (firmware/zones.py) are checked at every position. Between reports the reporter
looks more often where a crossing could otherwise be late: while the child walks within a
minute of a zone edge GNSS stays on and a look comes every 5 s (further away, one GNSS look
when it will be that near); while it stands near an edge a Wi-Fi scan looks for motion often
enough that a walk to the edge is seen in time (still_check_s). Where the board counts
steps (firmware/motion.py) those looks read the counter every 20 s instead and scan only after
a walk, and a report re-sends the last position without a scan or a modem wake while the child
has not walked (never for longer than motion.VERIFY_S, never while it moves). A
crossing queues an AL with exactly one bit (18 exit, 19 enter) at once, then a report every
minute for 5 minutes.
"""
import asyncio
import json

from firmware import clock, fsutil, log, motion, watchproto, wifi, zones
from firmware.compat import const, wait_for_ms
from firmware.drivers.a76xx import csq_percent
from firmware.fix import Fix
from firmware.positioning import WALK_MM_S

_CELLS_MAX = const(1)  # the serving cell; the A76xx has no neighbour list (docs/positioning.md)
# A periodic report's status word carries no alarm bit: Traccar raises an alarm only when it
# differs from the previous position's, so bits belong to the one message reporting the event
# (watch-protocol.md §6). Alarms (AL) come with geofences and SOS.
_STATUS = const(0)
ZONE_EXIT = const(0x40000)  # bit 18: geofenceExit (watch-protocol.md §6)
ZONE_ENTER = const(0x80000)  # bit 19: geofenceEnter
_TRACK_CHECK_MS = const(5000)  # GNSS on near a zone edge: a look every 5 s ...
_TRACK_WITHIN_S = const(60)  # ... once the edge is this near in walking time; further away
_APPROACH_MIN_S = const(20)  # a GNSS look (~11 s on) when it has come that near, not sooner
_TRACK_STILL = const(3)  # looks in a row without motion (or without a fix) that end tracking
_STILL_NEAR_M = const(1000)  # standing within this of a zone edge: look for motion between reports
# ... often enough that a crossing is alerted within _ALERT_S: the fingerprint changes once the
# child is _AP_REACH_M from where it stood, and the fix and the alarm take _ALERT_BUDGET_S
_ALERT_S = const(60)
_AP_REACH_M = const(50)
_ALERT_BUDGET_S = const(45)
_STILL_CHECK_MIN_S = const(60)  # a Wi-Fi scan costs ~0.04 mAh: never more often than this
_ZONE_FAST_MS = const(60000)  # after a crossing: a report every minute ...
_ZONE_FAST_FOR_MS = const(300000)  # ... for 5 minutes
# A held batch: the uplink's own deadline is this much after batch_s, so the report that closes
# the batch (hold_ms) always comes first, however long its scan took
_BATCH_GRACE_MS = const(60000)
_ZONES_FILE_MAX = const(1024)  # zones.json is read up to this (it is ~250 bytes when full)


def still_check_s(edge_m, interval_s):
    """Seconds between Wi-Fi looks for motion while the watch stands edge_m from the nearest
    zone edge (a pure policy), or None when the reports alone are often enough. A walk that
    starts just after a look is seen at the next one; it reaches the edge after
    (edge - _AP_REACH_M) / WALK seconds and may be alerted _ALERT_S after that, of which
    the fix and the alarm take _ALERT_BUDGET_S."""
    if edge_m is None or edge_m > _STILL_NEAR_M:
        return None
    s = (max(0, edge_m - _AP_REACH_M)) * 1000 // WALK_MM_S + _ALERT_S - _ALERT_BUDGET_S
    if s >= interval_s:
        return None
    return max(_STILL_CHECK_MIN_S, s)


def approach_s(edge_m, speed_kmh10, acc_m):
    """Seconds before the child could be at a zone edge edge_m away: at its GNSS speed, at
    least a brisk walk, with the position's accuracy taken off the distance (a pure policy)."""
    mm_s = max(speed_kmh10 * 1000 // 36, WALK_MM_S)  # 0.1 km/h = 27.8 mm/s
    return max(0, edge_m - acc_m) * 1000 // mm_s


def next_due(now, due, interval_ms):
    """The report after the one due at `due` (ticks), never in the past by a whole interval."""
    nxt = clock.ticks_add(due, interval_ms)
    if clock.ticks_diff(now, nxt) >= interval_ms:
        late = clock.ticks_diff(now, nxt)
        nxt = clock.ticks_add(nxt, (late // interval_ms) * interval_ms)
    return nxt


class Reporter:
    def __init__(self, modem, cfg, outbox, positioning, uplink, battery, alarms=None, fast_fn=None,
                 root=None):
        """alarms: the alarm outbox; fast_fn() -> a shorter interval in ms while SOS tracks,
        else None; root: where the zone beliefs are kept across reboots (None: not kept)."""
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
        self.check_due = None  # ticks of the next look between reports (None: none planned)
        self.progress = None  # ticks when the last report cycle ended (the watchdog reads it)
        self.last_cell = None  # the serving cell at the last report (for alarms)
        self._gsm = 0
        self._zpath = root + "/zones.json" if root is not None else None
        self.zones = zones.Watcher(cfg["zones"])
        self._load_zones()
        self._zone_fast_until = None  # ticks: reports every minute after a crossing until then
        self._still_looks = 0  # tracking looks in a row without motion or fix
        self._approach = False  # the next look is a GNSS look on the way to an edge
        self.walking = False  # the last fix said the child walks (_check_zones)
        self.power = None  # firmware/power.py: while critical, a report every critical_report_s, no looks
        # firmware/motion.py where the board counts steps (None: no sensor): a child who has not
        # walked is where it was, so reports and looks near an edge skip the scan and the modem
        self.motion = None
        self._full_t = None  # ticks of the last look that fixed the position (scan or search)
        self._batch_t = None  # ticks the first report of the batch held now was due (hold_ms)

    # ---- zones ----
    def _load_zones(self):
        if self._zpath is None:
            return
        try:
            # 8 names and beliefs: ~250 bytes as we write it; a far bigger file is damage
            d = json.loads(fsutil.read_bytes(self._zpath, _ZONES_FILE_MAX) or b"{}")
            if isinstance(d, dict):
                self.zones.restore(d)
        except Exception as e:  # unreadable: every belief starts unknown. Not JSON: ValueError;
            # CPython also RecursionError on deep nesting (tests/fuzz)
            log.event("error", where="zones", err=repr(e))

    def _save_zones(self):
        if self._zpath is not None:
            fsutil.atomic_write(self._zpath, json.dumps(self.zones.snapshot()))

    def zones_changed(self):
        """The zones setting changed: beliefs about unchanged zones are kept, new ones start
        unknown (the first position decides them silently)."""
        self.zones.set_zones(self._cfg["zones"])
        self._save_zones()
        self._hurry.set()

    def _check_zones(self, fix):
        """Feed a position to the zone watcher; an AL for each crossing. True if any. Also
        decides whether the child walks (a fresh fix's speed, zones.walking)."""
        if fix is None:
            return False
        self.walking = fix.source == "gnss" and zones.walking(fix.speed, self.walking)
        if not self._cfg["zones"] or fix.source == "last":
            return False  # a re-sent position is no new evidence (it must not confirm a crossing)
        events = self.zones.feed(fix.lat, fix.lon, fix.acc, fix.t, fix.course if self.walking else None)
        for name, ev in events:
            seq = self.alarm(ZONE_EXIT if ev == "exit" else ZONE_ENTER, fix)
            log.event("zone", zone=name, event=ev, seq=seq, acc=fix.acc, src=fix.source)
        if events:
            self._save_zones()
            self._zone_fast_until = clock.ticks_add(clock.ticks_ms(), _ZONE_FAST_FOR_MS)
            self.replan()
        return bool(events)

    def interval_ms(self):
        ms = self._cfg["report_interval_s"] * 1000
        if self.power is not None and self.power.critical:  # an SOS's tracking still wins
            ms = max(ms, self._cfg["critical_report_s"] * 1000)
        fast = self._fast() if self._fast is not None else None
        zf = self._zone_fast_until
        if zf is not None:
            if clock.ticks_diff(zf, clock.ticks_ms()) > 0:
                fast = _ZONE_FAST_MS if fast is None else min(fast, _ZONE_FAST_MS)
            else:
                self._zone_fast_until = None
        return fast if fast is not None and fast < ms else ms

    def replan(self):
        """The interval changed: the next report falls one new interval after the last one
        (at once if that is past), not at the end of the old interval."""
        if self.last_due is not None:
            now = clock.ticks_ms()
            d = next_due(now, self.last_due, self.interval_ms())
            # past: at once, and the grid starts again from now (not a second report at the
            # grid point a few seconds later)
            self.due = now if clock.ticks_diff(d, now) < 0 else d
            self._hurry.set()

    def hurry(self):
        """Report now (SOS started): the next report is due at once."""
        self.due = clock.ticks_ms()
        self._hurry.set()

    def position_now(self):
        """(fix, age_s, cell): the best position known without searching, for alarms and SMS:
        the last GNSS fix, or a later learned place. fix None if the watch never had one."""
        f = self._pos.last
        h = self._pos.here
        if h is not None and h.source == "place" and (f is None or h.t >= f.t):
            f = h
        now = clock.wall.now()
        age = 0
        if f is not None and now is not None and now > f.t:
            age = now - f.t
        return f, age, self.last_cell

    def alarm(self, status, at=None):
        """An AL with `status` (one alarm bit) queued in the alarm outbox: at the position `at`
        (a zone crossing's), else the best known now. Without any fix ever: position 0,0
        marked V, with the cell (Traccar can place it by the cell with geolocation on).
        Returns its seq."""
        if at is not None:
            f, age, cell = at, 0, self.last_cell
        else:
            f, age, cell = self.position_now()
        now = clock.wall.now()
        t = now if now is not None else (f.t if f is not None else 0)
        if f is None:
            fix = Fix(t, 0, 0, False, 0, 0, 0, 0, 0, "none")
        else:
            fresh = f.source == "gnss" and age < 60
            fix = Fix(t, f.lat, f.lon, fresh and f.valid, f.alt, 0, 0, f.sats, f.acc, f.source)
        cells = (cell,) if cell is not None else ()
        aps = self._pos.aps if f is not None and f.source == "place" else ()
        seq = self._al.put(self._content("AL", fix, status, cells, aps))
        self._up.kick()
        return seq

    def _content(self, kind, fix, status, cells, aps):
        """The frame content; a cell or AP list the protocol cannot carry is left out."""
        batt = self._batt.percent()
        m = self.motion
        steps = m.total & 0xFFFFFF if m is not None else 0  # Traccar's `steps` (§6)
        try:
            return watchproto.position(kind, fix, self._gsm, batt, steps, status, cells, wifi.block(aps))
        except ValueError as e:
            log.event("error", where="report", err=repr(e))
            return watchproto.position(kind, fix, self._gsm, batt, steps, status, (), ())

    async def _cell(self):
        c = None
        try:
            c = await self._m.serving_cell()
            if c is not None:
                self.last_cell = c
        except OSError as e:
            log.event("error", where="cell", err=repr(e))
            return c
        await self._signal()
        return c

    async def _signal(self):
        """The signal strength for the reports (AT+CSQ as a percentage)."""
        try:
            self._gsm = csq_percent(await self._m.csq())
        except OSError as e:
            log.event("error", where="cell", err=repr(e))

    async def report_once(self):
        """Wi-Fi, cell, position, battery -> one UD on flash, then wake the uplink. The scan and
        the cell come first: they tell the positioning whether the watch moved. The scan goes
        before the modem is woken for the cell, so the modem's awake burst (the cell, the send,
        the ack) is not held open by the ESP32's 1.7 s of scanning; a scan that says the watch
        stands where it stood keeps the last cell and wakes nothing (_same_place). With a step
        counter that says the child has not walked, none of it: the position is re-sent
        (_still)."""
        if self._still():
            await self._signal_if_sent()
            return self._still_report()
        aps = self._pos.scan()
        if self._same_place(aps):
            c = self.last_cell
            await self._signal_if_sent()
        else:
            c = await self._cell()
        fix = await self._pos.locate(self._cfg["gnss_timeout_s"], c, aps, self._m.net_up)
        self._looked()
        if fix is None:
            log.event("report_skipped", why="no position known yet")
            return None
        self._check_zones(fix)
        cells = (c,) if c is not None else ()
        seq = self._put(fix, cells[:_CELLS_MAX], aps)
        await self._plan_looks(fix)
        return seq

    def _put(self, fix, cells, aps, **extra):
        """One UD on flash, logged, and the uplink woken (or told how long it may wait)."""
        if not len(self._ob):
            self._batch_t = None  # nothing held (all delivered): this report may start a batch
        seq = self._ob.put(self._content("UD", fix, _STATUS, cells, aps))
        log.event("report", seq=seq, valid=fix.valid, src=fix.source, lat=fix.lat, lon=fix.lon,
                  acc=fix.acc, batt=self._batt.percent(), queued=len(self._ob), aps=len(aps), **extra)
        self._up.kick(self.hold_ms(fix))
        return seq

    def _hurried(self):
        """Something runs faster than the configured interval (an SOS, a zone crossing's fast
        reports): every report then is a fresh look, sent at once."""
        return self.interval_ms() < self._cfg["report_interval_s"] * 1000

    def _looked(self):
        """A look has fixed the position (or found none): steps and the verify clock count from now."""
        self._full_t = clock.ticks_ms()
        if self.motion is not None:
            self.motion.mark()

    def _wants_fresh(self):
        """Does anything want a fresh look rather than the last position: GNSS tracking near an
        edge, a look on the way to one, a walk at the last fix, an SOS or a zone crossing's fast
        reports?"""
        return self._pos.tracking or self._approach or self.walking or self._hurried()

    def _still(self):
        """May this report re-send the last position without a scan or the modem? Only with a
        step counter that says no walk since the last look, that look younger than
        motion.VERIFY_S (a ride has no steps), and nothing that wants a fresh look."""
        m = self.motion
        if m is None or self._pos.here is None or self._full_t is None or self._wants_fresh():
            return False
        if clock.ticks_diff(clock.ticks_ms(), self._full_t) >= motion.VERIFY_S * 1000:
            return False
        return m.walked() is False

    def _same_place(self, aps):
        """Does this scan say the watch stands where the last report stood, so the cell read
        then still holds? Then the modem is not woken to read it again (each wake keeps it up
        ~15 s, docs/energy.md), and the cell and signal of that read go in the report. Not
        without a cell read yet, nor while anything wants a fresh look."""
        if self.last_cell is None or self._wants_fresh():
            return False
        return self._pos.still(aps)

    async def _signal_if_sent(self):
        """A still watch's report keeps the last cell; the one that goes now (_sends_now) reads
        the signal first: its send wakes the modem anyway."""
        if self._sends_now():
            await self._signal()

    def _sends_now(self):
        """Will a report of a still watch made now go at once (batching off, or it closes its
        batch: hold_ms's count, without starting one)? Then the send wakes the modem anyway and
        a signal read just before it costs its AT exchange only: the batch's last report
        carries the signal of now, so no report's is older than batch_s (the cell is kept while
        the watch stands still: a reselection is not a move)."""
        b = self._cfg["batch_s"] * 1000
        return not b or self._batch_age()[1] + self.interval_ms() > b

    def _batch_age(self):
        """(now, age): the report grid's now and how long ago the batch held now began (0 for
        none, or for a grid set back: a batch would begin here)."""
        now = self.due if self.due is not None else clock.ticks_ms()
        t = self._batch_t
        age = 0 if t is None else clock.ticks_diff(now, t)
        return now, (age if age > 0 else 0)

    def _still_report(self):
        """The last position queued again as a report (Positioning.resend), with the last cell
        and no access points (none were heard now)."""
        fix = self._pos.resend()
        if fix is None:
            return None
        c = self.last_cell
        return self._put(fix, (c,) if c is not None else (), (), still=1)

    def hold_ms(self, fix):
        """How long this report may wait to go with the next ones (None: send now). Only while
        the watch stands where it stood (a learned place or the last position, Wi-Fi and cell
        unchanged) and nothing runs faster than the configured interval (an SOS, a zone
        crossing). A batch holds the reports due within `batch_s` of its first (on the report
        grid, so a scan's seconds do not move the count) and goes with the first report that
        the next would make too late: at 5-minute reports and batch_s 900, four reports per
        transfer, the oldest 15 minutes old, so a guardian's view lags at most batch_s (and
        the seconds of a report cycle). Every transfer costs the modem ~25 s awake and a 10 s
        radio tail (docs/energy.md): four reports in one transfer cost a quarter. The uplink's
        deadline (the hold returned) is _BATCH_GRACE_MS later: it sends a batch whose closing
        report never came (a reboot, a report that found the child walking went at once)."""
        b = self._cfg["batch_s"] * 1000
        if not b or fix.source == "gnss" or self._pos.moved is not False or self._pos.tracking or \
                self._hurried():
            self._batch_t = None
            return None
        now, age = self._batch_age()
        if self._batch_t is None or not age:  # a new batch (or a report grid set back: one from here)
            self._batch_t = now
        if age + self.interval_ms() > b:
            self._batch_t = None  # the next report would wait longer than batch_s: send it all now
            return None
        return b - age + _BATCH_GRACE_MS

    async def check_once(self):
        """A look between reports (near a zone edge): a position checked against the zones,
        nothing queued unless a zone was crossed."""
        p = self._pos
        if p.tracking or self._approach:  # GNSS (on, or a hot start): a scan only if no fix
            fix = await p.locate(self._cfg["gnss_timeout_s"], self.last_cell, None, self._m.net_up,
                                 walking=True)
        else:
            if self.motion is not None and p.here is not None and self.motion.walked() is False:
                self.check_due = self._still_plan(p.here)  # no walk: no scan
                return
            aps = p.scan()
            if p.still(aps):
                self._looked()
                self.check_due = self._still_plan(p.here)
                return
            c = await self._cell()
            fix = await p.locate(self._cfg["gnss_timeout_s"], c, aps, self._m.net_up)
        self._looked()
        if fix is not None:
            log.event("look", src=fix.source, lat=fix.lat, lon=fix.lon, acc=fix.acc, speed=fix.speed,
                      course=fix.course)
            self._check_zones(fix)
            await self._plan_looks(fix)

    def _still_plan(self, fix):
        edge = zones.nearest_edge_m(self._cfg["zones"], fix.lat, fix.lon)
        s = still_check_s(edge, self.interval_ms() // 1000)
        if s is not None and self.motion is not None:
            s = motion.STEP_CHECK_S  # a counter read, not a scan: often, for a prompt alert
        return None if s is None else clock.ticks_add(clock.ticks_ms(), s * 1000)

    async def _plan_looks(self, fix):
        """After a position, the next look between reports. A child walking toward a zone edge:
        GNSS stays on with a look every 5 s once the edge is a minute's walk away, before that a
        GNSS look when it will be. A child standing near an edge: Wi-Fi looks for the walk that
        starts (still_check_s). Else nothing until the next report."""
        p = self._pos
        zl = self._cfg["zones"]
        edge = zones.nearest_edge_m(zl, fix.lat, fix.lon) if zl else None
        moving = self.walking
        if p.tracking:
            self._still_looks = 0 if moving else self._still_looks + 1
        self._approach = False
        if edge is not None and (moving or (p.tracking and self._still_looks < _TRACK_STILL)):
            t = approach_s(edge, fix.speed, fix.acc)
            if t <= _TRACK_WITHIN_S:
                if not p.tracking:
                    self._still_looks = 0
                await p.track(True)
                self.check_due = clock.ticks_add(clock.ticks_ms(), _TRACK_CHECK_MS)
                return
            await p.track(False)
            self._still_looks = 0
            if moving:
                self._approach = True
                wait = max(_APPROACH_MIN_S, t - _TRACK_WITHIN_S)
                self.check_due = clock.ticks_add(clock.ticks_ms(), wait * 1000)
                return
        await p.track(False)
        self._still_looks = 0
        self.check_due = self._still_plan(fix) if not moving else None

    async def run(self):
        """Never returns."""
        self.due = clock.ticks_ms()
        while True:
            now = clock.ticks_ms()
            wait = clock.ticks_diff(self.due, now)
            cd = self.check_due
            if cd is not None and self.power is not None and self.power.critical:
                self.check_due = cd = None  # a critical battery: no looks between reports,
                await self._pos.track(False)  # and GNSS off
            look = cd is not None and clock.ticks_diff(cd, self.due) < 0
            if look:
                wait = clock.ticks_diff(cd, now)
            if wait > 0:
                self._hurry.clear()
                try:
                    await wait_for_ms(self._hurry.wait(), wait)
                except asyncio.TimeoutError:
                    pass
                continue  # the plan may have changed under us: decide again
            if look:
                self.check_due = None
                try:
                    await self.check_once()
                except OSError as e:
                    log.event("error", where="look", err=repr(e))
                self.progress = clock.ticks_ms()
                continue
            try:
                await self.report_once()
            except OSError as e:
                log.event("error", where="reporter", err=repr(e))
            self.progress = clock.ticks_ms()
            self.last_due = self.due
            self.due = next_due(clock.ticks_ms(), self.due, self.interval_ms())
