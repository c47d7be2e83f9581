"""Learned places: where the watch had a good GNSS fix, and the Wi-Fi APs it heard there.

Indoors, where GNSS cannot see the sky, a scan that matches a place puts the watch there, with
an accuracy that covers the place's spread and the doubt of the match. Nothing leaves the
watch; a place not seen for `forget_s` (config `places_forget_days`) is forgotten.

File <root>/places.dat, text, replaced whole by fsutil.atomic_write:

    places 1\\n
    <lat> <lon> <radius> <seen> <n> <mac>:<rssi> [<mac>:<rssi> ...] <crc>\\n     (one per place)

  lat, lon  micro-degrees (signed), the place's centre
  radius    metres, 10..2000: the mean distance of the fixes learned there from the centre,
            each counted as at least its accuracy
  seen      epoch-2000 seconds it was last learned or matched
  n         fixes merged into it, 1..W_MAX (the weight of the centre against a new fix)
  mac:rssi  1..MAX_APS APs, strongest first: 12 lower-case hex digits, typical dBm -120..0
  crc       CRC-32 (binascii.crc32) of the line's bytes before " <crc>", 8 lower-case hex digits

Example:  `59912345 10745678 18 812345678 4 a0b1c2d3e4f5:-52 a0b1c2d3e4f6:-67 1a2b3c4d`

Loading never raises (not even MemoryError: the places are soft data, and a boot that fails
on them would fail again). A line without its newline (a torn write), with a bad CRC (garbled) or
with a field out of range is dropped and counted in `damaged`; an unknown header or a file
over MAX_FILE (~2x what 24 places take) is not read at all (counted as one). The next save
rewrites the file clean. With littlefs a save is atomic (hardware.md §4) and damage should
never be seen; the checks are for FAT and bit rot. A stale places.dat.tmp (a save cut short)
is deleted at load: places.dat is still the last complete version.

Flash wear: learning happens at most once per GNSS fix, but a save is made only when a place
is created or removed, or its centre moved > SAVE_MOVE_M, or else when something changed and
the last save is older than SAVE_EVERY_S. Matches only refresh `seen`, which matters at the
scale of days: that alone is saved at most once per _SEEN_EVERY_S. A reboot loses at most
the refinements of the last hour. RAM: ~24 small lists; the file is ~4.7 KB when full.
"""
from binascii import crc32

from firmware import fsutil, geo, log, wifi
from firmware.compat import const

MAX_PLACES = const(24)
MAX_APS = const(8)
W_MAX = const(8)  # a new fix moves a place by at least 1/(W_MAX + 1) of the way: it adapts
LEARN_ACC_M = const(250)  # positions less accurate than this are not learned (a fix, or the
# last fix when GNSS is lost at a door, grown by a brisk walk for up to 2 minutes since:
# docs/positioning.md); the place's radius, and so every match's accuracy, keeps it
MERGE_M = const(60)  # a fix this close to a place is that place
MERGE_SIM = const(50)  # ... as is a fingerprint this alike (wifi.similarity), if near enough
AP_RANGE_M = const(500)  # an AP heard farther than this from a place that holds it has moved
MATCH_MIN = const(30)  # wifi.similarity() a match needs (and 2 shared APs)
MATCH_ACC_M = const(25)  # accuracy margin over the radius at a perfect match ...
WEAK_ACC_M = const(100)  # ... growing linearly to this at MATCH_MIN
SAVE_MOVE_M = const(20)
SAVE_EVERY_S = const(3600)
MAX_FILE = const(10000)
R_MIN = const(10)
R_MAX = const(2000)
HEADER = b"places 1"
_SEEN_EVERY_S = const(86400)
_ONE_AP_DB = const(10)  # a place that knows one AP matches it alone within this many dB
_DECAY_DB = const(2)  # an AP of a place missing from a learned scan fades by this
_FADED = const(-100)  # ... and is dropped below this
_LAT = const(0)  # place fields
_LON = const(1)
_R = const(2)
_SEEN = const(3)
_N = const(4)
_APS = const(5)  # [[mac, rssi], ...] strongest first
_CHANGED = const(1)  # dirty bits
_SEEN_ONLY = const(2)
_HEX = "0123456789abcdef"


def _div(a, b):
    """a / b rounded to nearest, halves away from zero (b > 0)."""
    if a >= 0:
        return (a + b // 2) // b
    return -((b // 2 - a) // b)


def _clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def _rank(ap):
    return (-ap[1], ap[0])


def _usable(aps):
    """A scan (mac, rssi, ...) -> [[mac, rssi], ...] valid, one per mac, strongest MAX_APS."""
    t = {}
    for ap in aps:
        mac, rssi = ap[0], ap[1]
        if _mac_ok(mac) and type(rssi) is int and wifi.RSSI_MIN <= rssi <= 0:
            if mac not in t or rssi > t[mac]:
                t[mac] = rssi
    out = [[m, r] for m, r in t.items()]
    out.sort(key=_rank)
    return out[:MAX_APS]


def _mac_ok(mac):
    if not isinstance(mac, str) or len(mac) != 12:
        return False
    for c in mac:
        if c not in _HEX:
            return False
    return True


def _int(s):
    """Strict decimal: optional '-', digits only (int() would take '+', ' ' and '_')."""
    d = s[1:] if s.startswith("-") else s
    if not d.isdigit():
        raise ValueError(s)
    return int(s)


def _line(p):
    body = "%d %d %d %d %d" % (p[_LAT], p[_LON], p[_R], p[_SEEN], p[_N])
    for mac, rssi in p[_APS]:
        body += " %s:%d" % (mac, rssi)
    return "%s %08x\n" % (body, crc32(body.encode()))


def _parse(raw):
    """One line's bytes (without the newline) -> place, or None if damaged."""
    k = raw.rfind(b" ")
    if k < 0 or raw[k + 1:] != (b"%08x" % crc32(raw[:k])):
        return None
    try:
        f = raw[:k].decode().split(" ")
        if not 6 <= len(f) <= 5 + MAX_APS:
            return None
        lat, lon, r, seen, n = _int(f[0]), _int(f[1]), _int(f[2]), _int(f[3]), _int(f[4])
        if abs(lat) > 90000000 or abs(lon) > 180000000 or not R_MIN <= r <= R_MAX:
            return None
        if seen < 0 or not 1 <= n <= W_MAX:
            return None
        aps = []
        for a in f[5:]:
            mac, _, rssi = a.partition(":")
            rssi = _int(rssi)
            if not _mac_ok(mac) or not wifi.RSSI_MIN <= rssi <= 0:
                return None
            for b in aps:
                if b[0] == mac:
                    return None
            aps.append([mac, rssi])
    except (ValueError, UnicodeError):
        return None
    aps.sort(key=_rank)
    return [lat, lon, r, seen, n, aps]


class Places:
    """Places(root, forget_s, t=None): the places in <root>/places.dat (see the module
    docstring). forget_s: seconds a place is kept unseen; <= 0 keeps nothing. t: now, if
    known, to forget old places at once (else at the first learn or match)."""

    def __init__(self, root, forget_s, t=None):
        self._path = fsutil.join(root, "places.dat")
        self.forget_s = forget_s
        self.damaged = 0  # lines (or whole files) dropped as damaged at load
        self.writes = 0  # saves made since load
        self._p = []
        self._dirty = 0
        self._saved_t = None  # the hourly clock starts at the first learn or match
        self._load()
        if t is not None:
            self.forget(t)

    # ---- public API -----------------------------------------------------------------------------

    def __len__(self):
        return len(self._p)

    def place(self, i):
        """(lat, lon, radius_m, seen, [(mac, rssi), ...]) of place i."""
        p = self._p[i]
        return (p[_LAT], p[_LON], p[_R], p[_SEEN], [(a[0], a[1]) for a in p[_APS]])

    def learn(self, lat, lon, acc_m, aps, t):
        """A GNSS fix (micro-degrees, accuracy m, epoch-2000 s) and the scan made with it.

        Ignored unless acc_m <= LEARN_ACC_M and the scan has 2+ APs. Merged into a place
        within MERGE_M, else into one whose fingerprint is alike (>= MERGE_SIM) within
        AP_RANGE_M (the most alike, then the nearest); else a new place (the least recently
        seen goes if full).
        A place that holds APs of this scan but lies farther than AP_RANGE_M beyond its radius
        loses them: they moved (a bus's Wi-Fi, a router taken to a new home); a place left
        with none is removed. Returns the index of the place learned, or None."""
        if acc_m > LEARN_ACC_M or acc_m < 0 or self.forget_s <= 0:
            return None
        new = _usable(aps)
        if len(new) < 2:
            return None
        must = self._expire(t)
        best = None
        best_key = None
        i = 0
        while i < len(self._p):
            p = self._p[i]
            d = geo.distance_m(p[_LAT], p[_LON], lat, lon)
            if d > AP_RANGE_M + p[_R]:
                if self._strip(p, new):
                    must = True
                    if not p[_APS]:
                        self._p.pop(i)
                        continue
                i += 1
                continue
            s = wifi.similarity(p[_APS], new)
            if d <= MERGE_M or (s >= MERGE_SIM and d <= AP_RANGE_M):
                key = (d <= MERGE_M, s, -d)  # the fix's own word first, then the fingerprint's
                if best_key is None or key > best_key:
                    best, best_key = i, key
            i += 1
        if best is None:
            if len(self._p) >= MAX_PLACES:
                self._p.pop(self._oldest())
            self._p.append([lat, lon, acc_m if acc_m > R_MIN else R_MIN, t, 1, new])
            best = len(self._p) - 1
            must = True
        elif self._merge(self._p[best], lat, lon, acc_m, -best_key[2], new, t):
            must = True
        self._dirty |= _CHANGED
        self._settle(t, must)
        return best

    def match(self, aps, t):
        """The place this scan says the watch is at: (lat, lon, acc_m, index, score) or None.

        Candidates share 2+ APs with the scan (or the one AP a place knows, within 10 dB) and
        score (wifi.similarity) >= MATCH_MIN; the best score wins, then the smaller radius.
        acc_m = radius + a margin from MATCH_ACC_M at score 100 growing linearly to WEAK_ACC_M
        at MATCH_MIN, so a weaker match never claims more. Refreshes the place's `seen` (saved
        with the next save, or on its own after a day)."""
        must = self._expire(t)
        scan = {}
        for ap in aps:
            if ap[0] not in scan or ap[1] > scan[ap[0]]:
                scan[ap[0]] = ap[1]
        best = None
        for i in range(len(self._p)):
            p = self._p[i]
            shared = 0
            gap = 0
            for mac, rssi in p[_APS]:
                if mac in scan:
                    shared += 1
                    gap = abs(scan[mac] - rssi)
            if shared < 2 and not (shared == 1 and len(p[_APS]) == 1 and gap <= _ONE_AP_DB):
                continue
            s = wifi.similarity(p[_APS], aps)
            if s < MATCH_MIN:
                continue
            if best is None or s > best[1] or (s == best[1] and p[_R] < self._p[best[0]][_R]):
                best = (i, s)
        if best is None:
            if must:
                self._settle(t, True)
            return None
        i, s = best
        p = self._p[i]
        if t > p[_SEEN]:
            p[_SEEN] = t
            self._dirty |= _SEEN_ONLY
        self._settle(t, must)
        acc = p[_R] + MATCH_ACC_M + (100 - s) * (WEAK_ACC_M - MATCH_ACC_M) // (100 - MATCH_MIN)
        return (p[_LAT], p[_LON], acc, i, s)

    def forget(self, t):
        """Drop the places not seen for forget_s (saved at once); returns how many."""
        n = len(self._p)
        if self._expire(t):
            self._settle(t, True)
        return n - len(self._p)

    def flush(self):
        """Save now if anything changed since the last save (before a planned power-off)."""
        if self._dirty:
            self._save()
            self._saved_t = None

    def clear(self):
        """Forget every place and delete the file (a factory reset)."""
        self._p = []
        self._dirty = 0
        fsutil.remove(self._path + ".tmp")
        fsutil.remove(self._path)

    # ---- learning -------------------------------------------------------------------------------

    def _merge(self, p, lat, lon, acc_m, d, new, t):
        """Move p toward the fix (weight n : 1), update its radius and APs; True if moved far."""
        k = p[_N] + 1
        olat, olon = p[_LAT], p[_LON]
        p[_LAT] = olat + _div(lat - olat, k)
        p[_LON] = geo.wrap_lon(olon + _div(geo.wrap_lon(lon - olon), k))
        sample = d if d > acc_m else acc_m
        p[_R] = _clamp(p[_R] + _div(sample - p[_R], k), R_MIN, R_MAX)
        p[_N] = k if k < W_MAX else W_MAX
        if t > p[_SEEN]:
            p[_SEEN] = t
        heard = {}
        for mac, rssi in new:
            heard[mac] = rssi
        aps = []
        for mac, rssi in p[_APS]:
            r = heard.pop(mac, None)
            # smoothed 3:1 toward the new reading; unheard APs fade so a removed router goes
            rssi = rssi - _DECAY_DB if r is None else _div(rssi * 3 + r, 4)
            if rssi >= _FADED:
                aps.append([mac, rssi])
        for mac, rssi in heard.items():
            aps.append([mac, rssi])
        aps.sort(key=_rank)
        p[_APS] = aps[:MAX_APS]
        return geo.distance_m(olat, olon, p[_LAT], p[_LON]) > SAVE_MOVE_M

    @staticmethod
    def _strip(p, new):
        """Remove from p the APs in new; True if any."""
        macs = [a[0] for a in new]
        kept = [a for a in p[_APS] if a[0] not in macs]
        if len(kept) == len(p[_APS]):
            return False
        p[_APS] = kept
        return True

    def _oldest(self):
        j = 0
        for i in range(1, len(self._p)):
            if self._p[i][_SEEN] < self._p[j][_SEEN]:
                j = i
        return j

    def _expire(self, t):
        """Drop places unseen for forget_s (no save); True if any went."""
        keep = [p for p in self._p if t - p[_SEEN] < self.forget_s]
        if len(keep) == len(self._p):
            return False
        self._p = keep
        self._dirty |= _CHANGED
        return True

    # ---- flash ----------------------------------------------------------------------------------

    def _settle(self, t, must):
        """Save if must, else if the changes waiting are old enough (see the module docstring)."""
        if must:
            self._save()
            self._saved_t = t
            return
        if not self._dirty:
            return
        if self._saved_t is None or t < self._saved_t:  # first change since boot, or clock set back
            self._saved_t = t
            return
        every = SAVE_EVERY_S if self._dirty & _CHANGED else _SEEN_EVERY_S
        if t - self._saved_t >= every:
            self._save()
            self._saved_t = t

    def _save(self):
        out = [HEADER.decode(), "\n"]
        for p in self._p:
            out.append(_line(p))
        try:
            fsutil.atomic_write(self._path, "".join(out))
        except OSError as e:  # soft data: the watch goes on; the next save tries again
            log.event("error", where="places", err=repr(e))
            return
        self._dirty = 0
        self.writes += 1

    def _load(self):
        try:
            fsutil.remove(self._path + ".tmp")
            size = fsutil.size(self._path)
            if size is None:
                return
            if size > MAX_FILE:
                self.damaged = 1
            else:
                self._read(fsutil.read_bytes(self._path) or b"")
        except (OSError, MemoryError) as e:  # soft data: the watch starts without it
            log.event("error", where="places", err=repr(e))
            self._p = []
            return
        if len(self._p) > MAX_PLACES:  # a file from a firmware that kept more
            self._p.sort(key=lambda p: -p[_SEEN])
            self._p = self._p[:MAX_PLACES]
        if self.damaged:
            log.event("error", where="places", err="damaged: %d dropped" % self.damaged)
            self._dirty |= _CHANGED  # rewritten clean at the next save

    def _read(self, data):
        # Line by line, not data.split(): a damaged file of MAX_FILE bytes may hold thousands of
        # short lines, and a list of them is more than the ESP32's heap has (tests/fuzz: places)
        i = data.find(b"\n")
        if i < 0 or data[:i] != HEADER:
            self.damaged = 1
            return
        i += 1
        n = len(data)
        while i < n:
            j = data.find(b"\n", i)
            if j < 0:  # the last line has no newline: a torn write
                self.damaged += 1
                return
            p = _parse(data[i:j])
            if p is None:
                self.damaged += 1
            else:
                self._p.append(p)
            i = j + 1
