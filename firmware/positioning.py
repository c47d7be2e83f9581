"""Positioning: GNSS when it can help, else a learned place, else the last position with an
accuracy that says how far the child may have gone since (docs/positioning.md).

Sources and what a report says about them (the valid flag is the one thing stock Traccar
shows; the accuracy travels as the frame's last field, which Traccar ignores, and in the log):
  gnss   a fix from the modem's receiver: 'A', accuracy from HDOP
  place  the Wi-Fi fingerprint matched a place learned at an earlier fix: 'V', accuracy from
         the place's spread and the strength of the match
  last   nothing better: the last position re-sent: 'V', its accuracy grown by the walk the
         child could have made since (kept, not grown, while Wi-Fi and cell say it has not moved)

Motion gates the receiver: no GNSS search while the Wi-Fi fingerprint and the serving cell are
what they were at the last position (a child sitting in a classroom), a search as soon as
either changes. Every search pays the A76xx's ~9 s GNSS firmware load before the fix budget
starts (A76-ATM §24.2.1 note 2); GNSS is powered off with its data kept (`AT+CGNSSPWR=0,1`) so
the next start within 2 h is hot (GNSS app note §5.1). While the child moves near a zone edge
the reporter keeps GNSS on (`tracking`) and asks every few seconds instead.
"""
from firmware import clock, fsutil, log, places, wifi, zones
from firmware.compat import const, sleep_ms
from firmware.fix import Fix

_POLL_MS = const(1000)  # A76xx computes a fix once a second
_EPHEMERIS_S = const(4 * 3600)  # GPS ephemeris holds 4 h (GNSS dynamic loading app note §4.6)
_HOT_S = const(2 * 3600)  # a hot start only within 2 h of the last fix (GNSS app note §5.1)
# assistance data is kept with the receiver's (AP_Flash) and SIMCom recommends a new download
# hourly (GNSS dynamic loading app note §4.6): not more often, whatever the searches find
_ASSIST_EVERY_S = const(3600)
_SAVE_EVERY_S = const(1800)  # persist the last fix at most this often (flash wear) ...
_SAVE_MOVE_UDEG = const(1000)  # ... unless it moved more than ~100 m
_COLD_FAILS = const(3)  # failed searches in a row before backing off ...
_COLD_EVERY = const(3)  # ... to one per this many looks, unless the watch moved
_OUTDOOR_DB = const(8)  # a serving cell this much stronger: stepped out of a building
# How fast a child may have gone since the last position (a brisk walk, 1.5 m/s): the
# accuracy of a re-sent position grows by this per second while the watch may be moving.
WALK_MM_S = const(1500)
ACC_MAX_M = const(9999)  # a re-sent position claims no more than this (~10 km)
_MOVING_FOR_S = const(600)  # a child walking at its last fix walks on this long without a look
_LEARN_KMH10 = const(10)  # learn a place only from a fix standing (1 km/h: a child dawdles at 3)
_ARRIVE_S = const(120)  # a fix this young when GNSS is lost indoors marks where the child went in,
# with its accuracy grown by the walk since (places.LEARN_ACC_M bounds it)


def cold_attempt(stale, cold_fails, skipped, moved):
    """Try GNSS for this look? (a pure policy of state)

    Searches that keep failing (indoors, where motion gating did not stop them: the watch
    moved between rooms) are thinned: after _COLD_FAILS failures in a row one look in
    _COLD_EVERY searches, and at once again when `moved`: the serving cell changed or its
    RSRP rose by _OUTDOOR_DB or more, which is what stepping out of a building does (building
    penetration loss is 10-20 dB). Hot searches (a fix within 4 h) are cheap and always made.
    """
    if not stale or cold_fails < _COLD_FAILS or moved:
        return True
    return skipped + 1 >= _COLD_EVERY


def moved_since(cell, fail_cell):
    """Has the radio picture changed since the last failed attempt (a proxy for 'went out')?"""
    if cell is None or fail_cell is None:
        return False
    return cell.cid != fail_cell.cid or cell.rssi - fail_cell.rssi >= _OUTDOOR_DB


def fix_timeout_s(now, last_fix_t, last_failed, cfg_timeout_s):
    """How long to look for a fix once the receiver is READY (a pure policy of time and state).

    Cold (no fix for hours): the configured timeout, a cold start needs ~30 s in open sky.
    Hot, and the previous attempt found nothing (indoors): a short look, a third of it, at least
    10 s, so a school day indoors does not burn the battery on a receiver that cannot see the sky.
    Hot otherwise: half the configured timeout (hot TTFF is a few seconds).
    """
    if last_fix_t is None or now is None or now - last_fix_t > _EPHEMERIS_S:
        return cfg_timeout_s
    if last_failed:
        return max(10, cfg_timeout_s // 3)
    return max(10, cfg_timeout_s // 2)


def motion(aps, prev_aps, cell, prev_cell):
    """Has the watch moved since the last position? True, False, or None (cannot tell).

    Where Wi-Fi is heard (now or then) the fingerprint decides: alike (>= wifi.STILL) is
    still, different is motion. Wi-Fi is the finer witness: a watch standing between two
    cells is handed back and forth between them (reselection) without moving a metre. With no
    Wi-Fi the serving cell changing is motion, and the same cell cannot tell (None: the caller
    searches, thinned when searches keep failing).
    """
    if aps or prev_aps:
        if prev_aps is None:
            return None
        moved = wifi.similarity(aps, prev_aps) < wifi.STILL
        if not moved and len(aps) < 2 and len(prev_aps) < 2:
            return None  # one AP alike in both: a shop along the street looks like a room
        return moved
    if cell is not None and prev_cell is not None and cell.cid != prev_cell.cid:
        return True
    return None


def grown_acc(acc_m, since_s, still):
    """The accuracy of a position re-sent since_s after it was true: unchanged while the watch
    is known to be still, else grown by a brisk walk (a child on a bus goes faster; the
    serving cell changing stops the re-sending, as motion() then says True)."""
    if still or since_s <= 0:
        return acc_m
    return min(ACC_MAX_M, acc_m + since_s * WALK_MM_S // 1000)


class Positioning:
    def __init__(self, modem, root, wlan=None, forget_s=30 * 86400):
        self._modem = modem
        self._wlan = wlan
        self._path = root + "/lastfix.csv"
        self.places = places.Places(root, forget_s)
        self.last = self._load()  # the last GNSS fix
        self._saved = self.last
        self.here = None  # the last position given out (any source)
        self._here_aps = None
        self._here_cell = None
        self.aps = []  # the last scan
        self.last_failed = False
        self._cold_fails = 0
        self._skipped = 0
        self._fail_cell = None
        self.tracking = False  # GNSS kept on between looks (a zone edge is near)
        self._on = False  # the receiver is powered
        self.busy = None  # fn() -> True while a scan must not block the interpreter
        self.moved = None  # what the last look said: moved (True), still (False), cannot tell
        self._assisted_t = None  # when AT+CAGPS last succeeded
        # firmware/power.py: while the battery is critical no Wi-Fi scan and no GNSS search; a
        # position is the last one, its accuracy grown
        self.power = None

    # ---- flash ----
    def _load(self):
        try:
            data = fsutil.read_bytes(self._path)
        except OSError:
            data = None
        if not data:
            return None
        try:
            t, lat, lon, alt, acc = [int(x) for x in data.decode().split(",")]
            return Fix(t, lat, lon, True, alt, 0, 0, 0, acc, "gnss")
        except (ValueError, UnicodeError):
            log.event("error", where="lastfix", err="corrupt last fix ignored")
            return None

    def _save(self, f):
        s = self._saved
        if s is not None and f.t - s.t < _SAVE_EVERY_S:
            if abs(f.lat - s.lat) + abs(f.lon - s.lon) < _SAVE_MOVE_UDEG:
                return
        fsutil.atomic_write(self._path, ("%d,%d,%d,%d,%d" % (f.t, f.lat, f.lon, f.alt, f.acc)).encode())
        self._saved = f

    # ---- Wi-Fi ----
    def scan(self):
        """Scan Wi-Fi now: blocks ~1.7 s on the ESP32 (MicroPython's scan() holds the
        interpreter, hardware.md §4), the radio off again after. Not while `busy()` (an SOS,
        a call): nothing else runs during a scan, not a buzzer's end, not a key pressed on the
        far end. Then [] and the motion test says "moved": GNSS answers instead."""
        if self._wlan is None or (self.busy is not None and self.busy()) or \
                (self.power is not None and self.power.critical):
            self.aps = []
        else:
            self.aps = wifi.scan(self._wlan)
        return self.aps

    def still(self, aps):
        """Does this scan say the watch stands where it stood at the last position?"""
        return self.here is not None and motion(aps, self._here_aps, None, None) is False

    # ---- GNSS ----
    async def _power(self, on):
        """Receiver on (True once usable, after READY) or off (data kept for a hot start)."""
        if not on and not self._on:
            return False
        self._on = on
        try:
            return await self._modem.gnss_power(on)
        except OSError as e:
            log.event("error", where="gnss", err=repr(e))
            return False

    async def track(self, on):
        """Keep GNSS on between looks (a zone edge is near and the child moves), or stop."""
        self.tracking = on
        if not on:
            await self._power(False)

    async def _search(self, budget_s, assist):
        """Power on unless on already (tracking), wait up to budget_s for a fix once READY, and
        power off again unless tracking. None if no fix."""
        m = self._modem
        if not self._on:
            if not await self._power(True):
                await self._power(False)
                return None
            if assist:
                try:
                    if await m.gnss_assist():
                        self._assisted_t = clock.wall.now()
                except OSError as e:
                    log.event("error", where="agps", err=repr(e))
        start = clock.ticks_ms()
        f = None
        try:
            while True:
                f = await m.gnss_fix()
                if f is not None or clock.ticks_diff(clock.ticks_ms(), start) >= budget_s * 1000:
                    break
                await sleep_ms(_POLL_MS)
        except OSError as e:
            log.event("error", where="gnss", err=repr(e))
        if not self.tracking:
            await self._power(False)
        return f

    # ---- the look ----
    async def locate(self, cfg_timeout_s, cell=None, aps=None, assist_ok=False, walking=False):
        """The best position now: a Fix (see the module docstring for sources), or None if
        the watch has never known where it is. cell: the serving cell now; aps: a scan made
        just before (None: scan here; while tracking only if GNSS finds nothing); assist_ok:
        the data link is up, so a start that would be cold may ask for assistance (AT+CAGPS)
        first; walking: the last fix said the child walks: search, and scan only if GNSS
        finds nothing. A module without a receiver (a variant the driver detected once, e.g.
        A7670E-LASE) is never asked for GNSS: Wi-Fi, learned places and the last position."""
        gnss = getattr(self._modem, "has_gnss", True)
        lazy = gnss and aps is None and (self.tracking or walking)  # GNSS first: scan only if no fix
        if aps is None and not lazy:
            aps = self.scan()
        now = clock.wall.now()
        moved = True if walking else None if lazy else motion(aps, self._here_aps, cell, self._here_cell)
        h = self.here
        if h is not None and h.source == "gnss" and h.speed >= zones.MOVING_KMH10 and now is not None \
                and now - h.t <= _MOVING_FOR_S:
            moved = True  # walking at the last fix (GNSS speed): still walking, whatever Wi-Fi says
        self.moved = moved
        f = None
        if gnss and (self.tracking or moved is not False or self.here is None) and \
                not (self.power is not None and self.power.critical):
            f = await self._gnss(now, cfg_timeout_s, cell, moved, assist_ok)
        if f is not None:
            self._fixed(f, aps or ())
            return self._keep(f, aps or self._here_aps, cell)
        if lazy:
            aps = self.scan()
        now = clock.wall.now()
        if self.last is not None and now is not None and aps:
            age = now - self.last.t
            acc = grown_acc(self.last.acc, age, False)
            if 0 <= age <= _ARRIVE_S:
                # GNSS just lost (went indoors): this fingerprint belongs where the fix was
                self.places.learn(self.last.lat, self.last.lon, acc, aps, now)
        if aps:
            m = self.places.match(aps, now) if now is not None else None
            if m is not None:
                lat, lon, acc = m[0], m[1], m[2]
                p = Fix(now if now is not None else 0, lat, lon, False, self.last.alt if self.last else 0,
                        0, 0, 0, acc, "place")
                return self._keep(p, aps, cell)
        return self._stale(now, aps, cell, moved is False)

    async def _gnss(self, now, cfg_timeout_s, cell, moved, assist_ok):
        last_t = self.last.t if self.last else None
        stale = last_t is None or now is None or now - last_t > _EPHEMERIS_S
        if not self.tracking and not cold_attempt(stale, self._cold_fails, self._skipped,
                                                  moved is True or moved_since(cell, self._fail_cell)):
            self._skipped += 1
            return None
        self._skipped = 0
        # firmware without AP_Flash (no READY URC either, A76-ATM §24.2.1 notes 3-4) keeps
        # nothing over a power-off: every start is cold
        keeps = self._modem.gnss_ready_urc is not False
        if self._on:
            budget = 3  # the receiver is on and tracking: a fix is there or not
        else:
            budget = fix_timeout_s(now, last_t if keeps else None, self.last_failed, cfg_timeout_s)
        cold = not keeps or last_t is None or now is None or now - last_t > _HOT_S
        a = self._assisted_t
        fresh = keeps and a is not None and now is not None and 0 <= now - a < _ASSIST_EVERY_S
        f = await self._search(budget, assist_ok and cold and not fresh)
        if f is None:
            self.last_failed = True
            if stale:
                self._cold_fails += 1
            self._fail_cell = cell
        return f

    def _fixed(self, f, aps):
        self.last_failed = False
        self._cold_fails = 0
        self._fail_cell = None
        self.last = f
        if not clock.wall.is_set() or clock.wall.source != "network":
            clock.wall.set(f.t, "gnss")
        self._save(f)
        if aps and f.speed <= _LEARN_KMH10:
            self.places.learn(f.lat, f.lon, f.acc, aps, f.t)

    def _keep(self, f, aps, cell):
        self.here = f
        self._here_aps = aps
        self._here_cell = cell
        return f

    def resend(self):
        """The position given out last, again, stamped now, its accuracy kept: a step counter
        says the child has not walked since (firmware/motion.py). A learned place stays a
        place (matched at the last look, and nobody walked away from it); anything else is
        re-sent as 'last'. No scan, no search. None if the watch never knew where it is."""
        self.moved = False
        h = self.here
        now = clock.wall.now()
        if h is not None and h.source == "place" and now is not None:
            return self._keep(Fix(now, h.lat, h.lon, False, h.alt, 0, 0, 0, h.acc, "place"),
                              self._here_aps, self._here_cell)
        return self._stale(now, self._here_aps, self._here_cell, True)

    def _stale(self, now, aps, cell, still):
        """The last position re-sent as 'V', stamped now, its accuracy grown (None if none)."""
        h = self.here if self.here is not None else self.last
        if h is None:
            return None
        t = now if now is not None else h.t
        f = Fix(t, h.lat, h.lon, False, h.alt, 0, 0, 0, grown_acc(h.acc, t - h.t, still), "last")
        return self._keep(f, aps, cell)
