"""Positioning: a fix from the modem's GNSS, else the last known position marked stale.

Wi-Fi and cell-tower positioning come in a later issue; the cell block travels in every report
already, so a Traccar server with geolocation enabled can place a stale ('V') report.
"""
from firmware import clock, fsutil, log
from firmware.compat import const, sleep_ms
from firmware.fix import Fix

_POLL_MS = const(1000)  # A76xx computes a fix once a second
_EPHEMERIS_S = const(4 * 3600)  # a hot start needs ephemeris younger than ~4 h (hardware.md §3.3)
_SAVE_EVERY_S = const(1800)  # persist the last fix at most this often (flash wear) ...
_SAVE_MOVE_UDEG = const(1000)  # ... unless it moved more than ~100 m
_COLD_FAILS = const(3)  # cold attempts in a row that found nothing before backing off
_COLD_EVERY = const(3)  # then one cold attempt per this many reports ...
_OUTDOOR_DB = const(8)  # ... unless the serving cell changed or its RSRP rose this much


def cold_attempt(stale, cold_fails, skipped, moved):
    """Try GNSS for this report? (a pure policy of state)

    Only cold searches (ephemeris stale: no fix for ~4 h) that keep failing are thinned: a
    watch indoors all night would otherwise spend ~45 s of GNSS and awake modem every 5 minutes
    (about 30% of the day's energy) on a receiver that cannot see the sky. After _COLD_FAILS
    failures in a row it tries on every _COLD_EVERY-th report, and at once again when `moved`:
    the serving cell changed, or its RSRP rose by _OUTDOOR_DB or more, which is what stepping
    out of a building does (building penetration loss is 10-20 dB). Hot searches are cheap
    and always made.
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
    """How long to keep GNSS on for this fix (a pure policy of time and state).

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


class Positioning:
    def __init__(self, modem, root):
        self._modem = modem
        self._path = root + "/lastfix.csv"
        self.last = self._load()
        self._saved = self.last
        self.last_failed = False
        self._cold_fails = 0
        self._skipped = 0
        self._fail_cell = None

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

    async def locate(self, cfg_timeout_s, cell=None):
        """Power GNSS, wait for a fix up to the policy's timeout, power it off again.

        cell: the serving cell now (for cold_attempt's 'moved'). Returns a valid Fix, or the
        last known position as a stale Fix (valid=False, source "last") stamped now, or None
        if the watch has never had a fix.
        """
        m = self._modem
        now = clock.wall.now()
        last_t = self.last.t if self.last else None
        stale = last_t is None or now is None or now - last_t > _EPHEMERIS_S
        if not cold_attempt(stale, self._cold_fails, self._skipped, moved_since(cell, self._fail_cell)):
            self._skipped += 1
            return self._stale()
        self._skipped = 0
        timeout = fix_timeout_s(now, last_t, self.last_failed, cfg_timeout_s)
        start = clock.ticks_ms()
        f = None
        try:
            await m.gnss_power(True)
            while clock.ticks_diff(clock.ticks_ms(), start) < timeout * 1000:
                f = await m.gnss_fix()
                if f is not None:
                    break
                await sleep_ms(_POLL_MS)
        except OSError as e:
            log.event("error", where="gnss", err=repr(e))
        finally:
            try:
                await m.gnss_power(False)
            except OSError:
                pass
        if f is not None:
            self.last_failed = False
            self._cold_fails = 0
            self._fail_cell = None
            self.last = f
            if not clock.wall.is_set() or clock.wall.source != "network":
                clock.wall.set(f.t, "gnss")
            self._save(f)
            return f
        self.last_failed = True
        if stale:
            self._cold_fails += 1
        self._fail_cell = cell
        return self._stale()

    def _stale(self):
        """The last known position, marked not valid and stamped now (None if there is none)."""
        if self.last is None:
            return None
        s = self.last
        t = clock.wall.now()
        return Fix(t if t is not None else s.t, s.lat, s.lon, False, s.alt, 0, 0, 0, s.acc, "last")
