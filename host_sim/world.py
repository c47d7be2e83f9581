"""The simulated world: where the child is, what the sky and the cells look like, which servers
answer — all as pure functions of virtual time (VT ms since the scenario start).

Integers throughout (positions in micro-degrees, distances in mm, times in ms), so CPython and
MicroPython compute the same values: the GNSS noise comes from our own LCG, the trigonometry
from an integer series and a tangent table (ARCHITECTURE.md, portability rules).

Scenario keys used here (the runner reads the rest):
  start          ISO-8601 UTC, the instant VT.ms == 0
  duration_s     length of the run
  tz_offset_min  local offset from UTC in minutes in force at the start (Oslo summer: 120)
  tz_rule        "" (default: the offset never changes) or "EU": the offset follows EU daylight
                 saving, +60 from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
                 Sunday of October. The standard offset is derived from the start: tz_offset_min
                 - 60 if the start falls in summer time, else tz_offset_min (Oslo in October:
                 120 before the last Sunday, 60 after). World.tz_offset_min keeps the start's
                 value for old callers; tz_offset_at(ms) is the offset at any time, and the
                 modem's AT+CCLK zone follows it at once (a network sending NITZ, CTZU on).
  route          [{"at": "HH:MM[:SS]", "lat", "lon", "place", "sky": open|urban|indoor, "alt"?}]
                 sorted by time; linear walk between waypoints, sky of a segment = sky of its
                 first waypoint; before the first waypoint and after the last one: stand still
  cells          [{"mcc", "mnc", "tac", "cid", "lat", "lon", "rsrp"}] (none: one default cell).
                 rsrp is at the site; the child hears it less by distance, by the building it is
                 in (10-20 dB, fixed per named place) and by a slow fading of +-4 dB per cell.
                 The serving cell is the strongest after those losses (it can change near a
                 boundary); cells_at(ms) lists every cell heard, strongest first.
  cell_fade_db   optional: the cells' fading amplitude (default CELL_FADE_DB; 0 for tests
                 that compare exact RSRP-derived bytes)
  aps            Wi-Fi access points [{"ssid", "bssid": "aa:bb:cc:dd:ee:ff", "lat", "lon",
                 "channel"?, "tx"? (dBm at 1 m, default -30), "indoor"? (default true),
                 "security"? (wifi_auth_mode_t, default 3), "place"? (the named place whose
                 building it is in; default: a route place within 30 m, if any)}], and moving
                 ones {"ssid", "bssid": "da:a1:19:..", "follows": "child", "from": "HH:MM",
                 "to": "HH:MM"} (a stranger's phone hotspot on the same bus or street: there in
                 the window, always a few metres from the child). Without "aps" a set is made
                 from the route and the seed (World._make_aps). wifi_at(ms) is what
                 WLAN.scan() returns then.
  network        {"mcc", "mnc", "name"?} optional
  server         {"host", "ip", "port"}
  events         [{"at", "do", "for_s"?}]; the world answers for "no_coverage" and "server_down"
  seed           optional integer for the GNSS noise (default: derived from start)
  people         people with phones who call and text the watch (host_sim/phones.py); World
                 holds them as self.people, the modem emulator schedules what they do
"""
from firmware import clock
from firmware.geo import MM_PER_UDEG, cos_e6, distance_mm, divz, isqrt, move, offset_mm  # noqa: F401
from host_sim import phones

_LCG_MUL = 1103515245
_LCG_ADD = 12345
_MASK31 = 0x7FFFFFFF

NOISE_PERIOD_MS = 10000  # GNSS error drifts between random points every 10 s (smooth, not white)
NOISE_OPEN_MM = 4000  # open sky: a few metres
NOISE_URBAN_MM = 25000  # urban canyon: ~15-30 m
# A cell's RSRP falls by 10 n log10(d / CELL_REF_M) beyond CELL_REF_M from its site (the
# scenario's "rsrp" holds within that). ASSUMED n = 3.5: the Okumura-Hata urban slope
# 44.9 - 6.55 log10(30 m mast) = 35 dB/decade. (It was 1 dB per 250 m, at most 25 dB: so gentle
# that a cell 1 km away with a 4 dB better site figure outshone one 150 m away.)
CELL_PL_N10 = 35
CELL_REF_M = 100
# Building penetration loss for the cells: 10..20 dB, fixed per named place (a hash of the name
# and the seed). ASSUMED: the range usually quoted for LTE below 2 GHz into ordinary buildings;
# hardware.md has no propagation figures.
INDOOR_DB_MIN = 10
INDOOR_DB_MAX = 20
CELL_FADE_DB = 4  # ASSUMED: slow fading of +-4 dB per cell (a _noise channel per cell)
CELL_HEARD_DBM = -125  # ASSUMED: a neighbour weaker than this is not reported (cells_at)
_CELL_CH = 1000  # _noise channels 1000 + cell index: the cells' fading

# Wi-Fi (hardware.md §4 for the scan's tuple; the radio figures are ASSUMED, none in hardware.md)
WIFI_TX_DBM = -30  # ASSUMED default RSSI at 1 m (a home router ~20 dBm EIRP less 40 dB of free
#                    space at 1 m at 2.4 GHz is ~-20 dBm: -30 is the harsher end)
WIFI_PL_N10 = 30  # ASSUMED log-distance exponent n = 3.0 (x10): indoor/urban 2.7-3.5 is usual
WIFI_WALL_DB = 12  # ASSUMED per wall: typical 5-15 dB for brick/concrete at 2.4 GHz, harsh side
WIFI_FADE_DB = 6  # ASSUMED smooth fading of +-6 dB per AP (a _noise channel per AP)
WIFI_FLOOR_DBM = -92  # ASSUMED: weaker than this is never listed ...
WIFI_WEAK_DBM = -85  # ... and below this only half of the time (per AP, per WIFI_SLOT_MS slot)
WIFI_SLOT_MS = 10000
WIFI_FOLLOW_MM = 8000  # ASSUMED: a phone that follows the child stays within ~8 m of it
# _noise/_rand channels of AP i: its fading _AP_CH + i, its misses + 100000, a following
# phone's east and north offsets + 200000 and + 300000
_AP_CH = 100000
_GEN_CH = 5  # _rand channel of the generator of the default APs
# round(1000 * log10(k)) for k = 10..100: the integer log10 of the path loss (log10_e3)
_LOG10_E3 = (1000, 1041, 1079, 1114, 1146, 1176, 1204, 1230, 1255, 1279, 1301, 1322, 1342, 1362,
             1380, 1398, 1415, 1431, 1447, 1462, 1477, 1491, 1505, 1519, 1531, 1544, 1556, 1568,
             1580, 1591, 1602, 1613, 1623, 1633, 1643, 1653, 1663, 1672, 1681, 1690, 1699, 1708,
             1716, 1724, 1732, 1740, 1748, 1756, 1763, 1771, 1778, 1785, 1792, 1799, 1806, 1813,
             1820, 1826, 1833, 1839, 1845, 1851, 1857, 1863, 1869, 1875, 1881, 1886, 1892, 1898,
             1903, 1908, 1914, 1919, 1924, 1929, 1934, 1940, 1944, 1949, 1954, 1959, 1964, 1968,
             1973, 1978, 1982, 1987, 1991, 1996, 2000)
# SSIDs of the generated APs: one number each (8 bits for the %02 forms, else 16)
_SSID_FORMS = ("Telenor%04X", "Get-2G-%06X", "Altibox%06d", "NETGEAR%02d", "TP-Link_%04X",
               "Telia-%06X", "ASUS_%02X", "Linksys%05d", "ice.net-%04X", "DIRECT-%02X-HP OfficeJet")
# ... and the ones a protocol must survive (the watch protocol's separators are , [ ] *)
_SSID_HOSTILE = (b"Kaffe, te & kake",  # a comma
                 b"[LG_TV]*Stue",  # brackets and a star
                 b"Bl\xc3\xa5b\xc3\xa6r \xc3\x98deg\xc3\xa5rd",  # UTF-8: "Blåbær Ødegård"
                 b"Borettslaget Sofienberggata 12AB",  # 32 bytes, the most an SSID has
                 b"",  # a hidden network: the ESP32 lists it with an empty SSID (§4)
                 b"Hansen_nomap")  # the owner opted out of location databases
_SSID_PHONES = ("iPhone", "Galaxy A52 %04X", "AndroidAP_%04X", "Redmi Note %02X")

# tan((k + 0.5) degrees) * 1e6 for k = 0..44: thresholds for rounding an angle to whole degrees
_TAN_HALF = (8727, 26186, 43661, 61163, 78702, 96289, 113936, 131652, 149451, 167343, 185339,
             203452, 221695, 240079, 258618, 277325, 296213, 315299, 334595, 354119, 373885,
             393910, 414214, 434812, 455726, 476976, 498582, 520567, 542956, 565773, 589045,
             612801, 637070, 661886, 687281, 713293, 739961, 767327, 795436, 824336, 854081,
             884725, 916331, 948965, 982697)


def offset_ms(text):
    """'HH:MM' or 'HH:MM:SS' after the start -> ms (hours may exceed 24). ValueError if bad."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3):
        raise ValueError("bad time offset: %r" % text)
    for p in parts:
        if not p.isdigit():
            raise ValueError("bad time offset: %r" % text)
    h, m = int(parts[0]), int(parts[1])
    s = int(parts[2]) if len(parts) == 3 else 0
    if m > 59 or s > 59:
        raise ValueError("bad time offset: %r" % text)
    return ((h * 60 + m) * 60 + s) * 1000


def _last_sunday_0100(year, month):
    """Epoch-2000 UTC seconds of 01:00 UTC on the last Sunday of a 31-day month (the EU's
    daylight-saving instants in March and October, Directive 2000/84/EC)."""
    z = clock.days_from_civil(year, month, 31)  # days since 1970-01-01, a Thursday
    z -= (z + 4) % 7  # back to Sunday: (z + 4) % 7 is 0 on Sundays
    return clock.from_parts(1970, 1, 1) + z * 86400 + 3600


def udeg(x):
    """JSON degrees (float or int) -> integer micro-degrees."""
    return int(round(x * 1000000))


def course_deg(east, north):
    """Compass course in whole degrees (0 = north, 90 = east) of a displacement."""
    if east == 0 and north == 0:
        return 0
    ae, an = abs(east), abs(north)
    if ae <= an:
        r = ae * 1000000 // an
        a = 0
        while a < 45 and r > _TAN_HALF[a]:
            a += 1
    else:
        r = an * 1000000 // ae
        b = 0
        while b < 45 and r > _TAN_HALF[b]:
            b += 1
        a = 90 - b
    if east >= 0:
        c = a if north >= 0 else 180 - a
    else:
        c = 180 + a if north < 0 else 360 - a
    return c % 360


def log10_e3(n):
    """1000 * log10(n) for an integer n >= 1, from a table with linear interpolation (error
    under 0.005)."""
    if n < 1:
        raise ValueError("log10 of %r" % (n,))
    e = 0
    while n >= 1000:
        n //= 10
        e += 1
    while n < 100:
        n *= 10
        e -= 1
    k, f = divmod(n, 10)  # n = 100..999: k = 10..99
    a = _LOG10_E3[k - 10]
    return 1000 * (e + 1) + a + (_LOG10_E3[k - 9] - a) * f // 10


def wifi_path_loss_db(d_mm):
    """Log-distance path loss in whole dB from 1 m: 10 n log10(d), n = WIFI_PL_N10 / 10."""
    if d_mm < 1000:
        d_mm = 1000
    return (WIFI_PL_N10 * (log10_e3(d_mm) - 3000) + 500) // 1000


def fnv32(text):
    """FNV-1a of a text's UTF-8 bytes, 32 bits (str hashes differ between runs on CPython)."""
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def parse_mac(text):
    """'aa:bb:cc:dd:ee:ff' -> bytes(6). ValueError if bad."""
    parts = text.split(":")
    if len(parts) != 6 or any(len(p) != 2 for p in parts):
        raise ValueError("bad bssid: %r" % (text,))
    return bytes([int(p, 16) for p in parts])


class _AP:
    """One access point: fixed (lat, lon) or following the child in [t0, t1)."""

    def __init__(self, ssid, bssid, channel, tx, security, indoor, place, lat, lon, t0=None, t1=None):
        self.ssid = ssid
        self.bssid = bssid
        self.channel = channel
        self.tx = tx
        self.security = security
        self.indoor = indoor
        self.place = place
        self.lat = lat
        self.lon = lon
        self.t0 = t0  # None: fixed
        self.t1 = t1


class _Seg:
    """One stretch of the route: from waypoint i (t0) to waypoint i+1 (t1)."""

    def __init__(self, t0, t1, lat0, lon0, lat1, lon1, alt, sky, place):
        self.t0 = t0
        self.t1 = t1
        self.lat0 = lat0
        self.lon0 = lon0
        self.lat1 = lat1
        self.lon1 = lon1
        self.alt = alt
        self.sky = sky
        self.place = place
        self.speed = 0  # 0.1 km/h
        self.course = 0
        if t1 > t0 and (lat0 != lat1 or lon0 != lon1):
            e, n = offset_mm(lat0, lon0, lat1, lon1)
            dist = isqrt(e * e + n * n)
            self.speed = dist * 36 // (t1 - t0)  # mm/ms = m/s; x 3.6 km/h, x 10 -> 0.1 km/h
            self.course = course_deg(e, n)


class World:
    def __init__(self, scenario, vt):
        self.vt = vt
        self.scenario = scenario
        self.start = clock.parse_iso8601(scenario["start"])
        self.duration_s = scenario.get("duration_s", 86400)
        self.tz_offset_min = scenario.get("tz_offset_min", 0)  # at the start (VT.ms == 0)
        self.tz_rule = scenario.get("tz_rule", "")
        if self.tz_rule not in ("", "EU"):
            raise ValueError("tz_rule: '' or 'EU', not %r" % (self.tz_rule,))
        self._tz_std = self.tz_offset_min - (60 if self._eu_summer(self.start) else 0)
        self.seed = scenario.get("seed", self.start) & _MASK31
        default_alt = scenario.get("alt", 20)
        route = scenario.get("route") or []
        if not route:
            raise ValueError("route: at least one waypoint")
        wps = []
        for w in route:
            sky = w.get("sky", "open")
            if sky not in ("open", "urban", "indoor"):
                raise ValueError("route.sky: %r" % sky)
            wps.append((offset_ms(w["at"]), udeg(w["lat"]), udeg(w["lon"]), w.get("alt", default_alt),
                        sky, w.get("place", "")))
        for i in range(1, len(wps)):
            if wps[i][0] < wps[i - 1][0]:
                raise ValueError("route: waypoints not sorted by time at %d" % i)
        self._segs = []
        for i in range(len(wps)):
            t0, lat0, lon0, alt, sky, place = wps[i]
            if i + 1 < len(wps):
                t1, lat1, lon1 = wps[i + 1][0], wps[i + 1][1], wps[i + 1][2]
                if lat1 != lat0 or lon1 != lon0:
                    place = "%s->%s" % (place, wps[i + 1][5])
            else:
                t1, lat1, lon1 = -1, lat0, lon0  # -1: open end
            self._segs.append(_Seg(t0, t1, lat0, lon0, lat1, lon1, alt, sky, place))
        self._places = []  # [(name, lat, lon)] of each named place, where it first appears
        for w in wps:
            if w[5] and w[5] not in [p[0] for p in self._places]:
                self._places.append((w[5], w[1], w[2]))
        self.network = scenario.get("network") or {}
        self.cells = []
        for c in scenario.get("cells") or []:
            self.cells.append({"mcc": c.get("mcc", self.network.get("mcc", 242)),
                               "mnc": c.get("mnc", self.network.get("mnc", 1)),
                               "tac": c["tac"], "cid": c["cid"], "lat": udeg(c["lat"]),
                               "lon": udeg(c["lon"]), "rsrp": c.get("rsrp", -85)})
        if not self.cells:  # a scenario without cells still has a network: one cell at the start
            s = self._segs[0]
            self.cells.append({"mcc": self.network.get("mcc", 242), "mnc": self.network.get("mnc", 1),
                               "tac": 1, "cid": 1, "lat": s.lat0, "lon": s.lon0, "rsrp": -85})
        self._no_cov = []
        self._down = []
        end_ms = self.duration_s * 1000
        for ev in scenario.get("events") or []:
            kind = ev.get("do")
            if kind not in ("no_coverage", "server_down"):
                continue
            a = offset_ms(ev["at"])
            b = a + ev["for_s"] * 1000 if "for_s" in ev else max(end_ms, a)
            (self._no_cov if kind == "no_coverage" else self._down).append((a, b))
        self.servers = {}  # "host:port" -> server
        self._dns = {}  # host -> ip
        self._by_ip = {}  # "ip:port" -> server
        srv = scenario.get("server")
        if srv:
            self._dns[srv["host"]] = srv["ip"]
        self.people = phones.People(scenario, vt)
        self._indoor_db = {}  # place -> building penetration loss (dB)
        # fading of the cells: CELL_FADE_DB unless the scenario says (0: a quiet channel for
        # tests that compare exact bytes)
        self.cell_fade_db = scenario.get("cell_fade_db", CELL_FADE_DB)
        self._gen_n = 0
        aps = scenario.get("aps")  # [] is a world without Wi-Fi; no key: a generated set
        self.aps = self._load_aps(aps) if aps is not None else self._make_aps()

    # ---- time ----
    def now_ms(self):
        return self.vt.ms

    def utc(self, ms=None):
        """Epoch-2000 UTC seconds at ms (default: now)."""
        if ms is None:
            ms = self.vt.ms
        return self.start + ms // 1000

    utc_at = utc

    def _eu_summer(self, t):
        """True if EU summer time holds at epoch-2000 UTC second t (with tz_rule "EU")."""
        if self.tz_rule != "EU":
            return False
        y = clock.to_parts(t)[0]
        return _last_sunday_0100(y, 3) <= t < _last_sunday_0100(y, 10)

    def tz_offset_at(self, ms=None):
        """The local offset from UTC in minutes at ms (default: now)."""
        if self.tz_rule == "":
            return self.tz_offset_min
        return self._tz_std + (60 if self._eu_summer(self.utc(ms)) else 0)

    def local_parts(self, ms=None):
        """(y, mo, d, h, mi, s) in the scenario's local time."""
        t = self.utc(ms)
        return clock.to_parts(t + self.tz_offset_at(ms) * 60)

    # ---- route ----
    def _seg_index(self, ms):
        segs = self._segs
        lo, hi = 0, len(segs) - 1
        if ms < segs[0].t0:
            return 0
        while lo < hi:  # last segment whose t0 <= ms
            mid = (lo + hi + 1) // 2
            if segs[mid].t0 <= ms:
                lo = mid
            else:
                hi = mid - 1
        return lo

    def position_at(self, ms=None):
        """(lat, lon, speed 0.1 km/h, course deg, sky, place) at ms; lat/lon in micro-degrees."""
        if ms is None:
            ms = self.vt.ms
        s = self._segs[self._seg_index(ms)]
        if s.t1 <= s.t0 or ms < s.t0:  # standing still (after the last waypoint, before the first)
            return (s.lat0, s.lon0, 0, 0, s.sky, s.place)
        dt = ms - s.t0
        span = s.t1 - s.t0
        lat = s.lat0 + divz((s.lat1 - s.lat0) * dt, span)
        lon = s.lon0 + divz((s.lon1 - s.lon0) * dt, span)
        return (lat, lon, s.speed, s.course, s.sky, s.place)

    def sky_at(self, ms=None):
        return self.position_at(ms)[4]

    def sky_since(self, ms=None):
        """Start (ms) of the unbroken stretch of non-indoor sky that contains ms; None indoors.
        The GNSS emulator counts its time to first fix from here."""
        if ms is None:
            ms = self.vt.ms
        i = self._seg_index(ms)
        segs = self._segs
        if segs[i].sky == "indoor":
            return None
        while i > 0 and segs[i - 1].sky != "indoor":
            i -= 1
        return segs[i].t0 if i > 0 else 0

    # ---- GNSS ----
    def _rand(self, k, channel):
        """Deterministic pseudo-random 23-bit value for (time slot k, channel): a few rounds of
        our LCG from a state mixed from the seed, so it is a pure function of time."""
        x = (self.seed ^ (k * 40503 + channel * 9973 + 1)) & _MASK31
        for _ in range(3):
            x = (x * _LCG_MUL + _LCG_ADD) & _MASK31
        return x >> 8

    def _noise(self, ms, channel, amp):
        """Smooth noise in [-amp, amp]: random points every NOISE_PERIOD_MS, linear between."""
        k, f = divmod(ms, NOISE_PERIOD_MS)
        span = 2 * amp + 1
        a = self._rand(k, channel) % span - amp
        b = self._rand(k + 1, channel) % span - amp
        return a + divz((b - a) * f, NOISE_PERIOD_MS)

    def gnss_at(self, ms=None):
        """What a receiver with a fix would report at ms, or None indoors (no satellites).

        dict: lat, lon (micro-degrees), alt (m), speed (0.1 km/h), course (deg), sats, hdop10."""
        if ms is None:
            ms = self.vt.ms
        lat, lon, speed, course, sky, _ = self.position_at(ms)
        if sky == "indoor":
            return None
        s = self._segs[self._seg_index(ms)]
        amp = NOISE_OPEN_MM if sky == "open" else NOISE_URBAN_MM
        dn = self._noise(ms, 1, amp)  # mm north
        de = self._noise(ms, 2, amp)  # mm east
        lat += dn * 1000 // MM_PER_UDEG
        c = cos_e6(lat)
        lon += de * 1000000000 // (MM_PER_UDEG * (c if c > 0 else 1))
        slot = ms // NOISE_PERIOD_MS
        r = self._rand(slot, 3)
        if sky == "open":
            sats, hdop10 = 9 + r % 4, 8 + (r >> 4) % 5
        else:
            sats, hdop10 = 5 + r % 3, 20 + (r >> 4) % 16
        alt = s.alt + self._noise(ms, 4, 3 if sky == "open" else 10)
        # Doppler speed is far finer than the position, but not exact: +-0.5 km/h, also at rest
        # (where a receiver without static hold reports a drift), course +-10 degrees while
        # moving (ASSUMED, harsher than a typical ~0.1 m/s speed error; the firmware's 2 km/h
        # walking threshold must hold against it)
        if speed:
            course = (course + self._noise(ms, 6, 10)) % 360
        speed = abs(speed + self._noise(ms, 5, 5))
        return {"lat": lat, "lon": lon, "alt": alt, "speed": speed, "course": course,
                "sats": sats, "hdop10": hdop10}

    # ---- cells and coverage ----
    def coverage_at(self, ms=None):
        if ms is None:
            ms = self.vt.ms
        for a, b in self._no_cov:
            if a <= ms < b:
                return False
        return True

    def coverage_changes(self):
        """Sorted ms at which coverage_at flips."""
        pts = []
        for a, b in self._no_cov:
            pts.append(a)
            pts.append(b)
        pts = sorted(set(pts))
        out = []
        for p in pts:
            before = self.coverage_at(p - 1) if p > 0 else True
            if self.coverage_at(p) != before:
                out.append(p)
        return out

    def indoor_db(self, place):
        """Building penetration loss (dB) at a place: INDOOR_DB_MIN..INDOOR_DB_MAX, fixed per
        place name and seed."""
        db = self._indoor_db.get(place)
        if db is None:
            x = ((fnv32(place) ^ self.seed) * _LCG_MUL + _LCG_ADD) & _MASK31
            db = INDOOR_DB_MIN + (x >> 8) % (INDOOR_DB_MAX - INDOOR_DB_MIN + 1)
            self._indoor_db[place] = db
        return db

    def _cell_levels(self, ms):
        """[(rsrp dBm, cell index)] strongest first (ties: scenario order), or None without
        coverage. RSRP: the site's figure less the distance loss, the building's loss, and
        the cell's own slow fading."""
        if not self.coverage_at(ms):
            return None
        lat, lon, _, _, sky, place = self.position_at(ms)
        walls = self.indoor_db(place) if sky == "indoor" else 0
        fade = self.cell_fade_db
        out = []
        for i in range(len(self.cells)):
            c = self.cells[i]
            d = distance_mm(lat, lon, c["lat"], c["lon"])
            loss = 0
            if d > CELL_REF_M * 1000:
                loss = (CELL_PL_N10 * (log10_e3(d) - log10_e3(CELL_REF_M * 1000)) + 500) // 1000
            rsrp = c["rsrp"] - loss - walls + (self._noise(ms, _CELL_CH + i, fade) if fade else 0)
            out.append((-140 if rsrp < -140 else rsrp, i))
        out.sort(key=lambda x: (-x[0], x[1]))
        return out

    def _cell_dict(self, rsrp, i):
        c = self.cells[i]
        return {"mcc": c["mcc"], "mnc": c["mnc"], "tac": c["tac"], "cid": c["cid"], "rsrp": rsrp}

    def cell_at(self, ms=None):
        """The serving cell at ms: dict(mcc, mnc, tac, cid, rsrp dBm), or None without coverage.
        The strongest after losses and fading (no reselection hysteresis: near a boundary it
        can change back and forth, harsher than a real network)."""
        if ms is None:
            ms = self.vt.ms
        lv = self._cell_levels(ms)
        return self._cell_dict(lv[0][0], lv[0][1]) if lv else None

    def cells_at(self, ms=None):
        """Every cell the child hears at ms, strongest first: the serving cell (always, as
        cell_at) then the others with rsrp >= CELL_HEARD_DBM. [] without coverage."""
        if ms is None:
            ms = self.vt.ms
        lv = self._cell_levels(ms)
        if not lv:
            return []
        return [self._cell_dict(r, i) for r, i in lv[:1] + [x for x in lv[1:] if x[0] >= CELL_HEARD_DBM]]

    # ---- Wi-Fi ----
    def _grand(self):
        """The next deterministic 23-bit value of the AP generator (seeded, order-dependent)."""
        self._gen_n += 1
        return self._rand(self._gen_n, _GEN_CH)

    def _gen_mac(self, seen, local):
        """A unique BSSID: globally administered (first octet xxxxxx00) or locally
        administered unicast (first octet x2/x6/xA/xE, what phones use for hotspots)."""
        while True:
            a, b, c = self._grand(), self._grand(), self._grand()
            mac = bytearray([a & 0xFF, a >> 8 & 0xFF, b & 0xFF, b >> 8 & 0xFF, c & 0xFF, c >> 8 & 0xFF])
            mac[0] = (mac[0] & 0xFC) | (2 if local else 0)
            mac = bytes(mac)
            if mac not in seen:
                seen.add(mac)
                return mac

    def _gen_channel(self):
        r = self._grand()
        return (1, 6, 11, 1 + (r >> 2) % 13)[r % 4]  # mostly the non-overlapping 1/6/11

    def _gen_security(self):
        r = self._grand() % 10
        return 0 if r == 0 else 4 if r == 1 else 7 if r == 2 else 3  # open, WPA/WPA2, WPA2/WPA3, WPA2

    def _gen_near(self, lat, lon, radius_mm):
        """A point within radius_mm of (lat, lon)."""
        span = 2 * radius_mm + 1
        e = self._grand() * 4 % span - radius_mm  # x4: 23-bit values, radii up to ~1 km
        n = self._grand() * 4 % span - radius_mm
        d = isqrt(e * e + n * n)
        if d > radius_mm:
            e, n = e * radius_mm // d, n * radius_mm // d
        return move(lat, lon, e, n)

    def _make_aps(self):
        """The default Wi-Fi world, from the route and the seed: 4-7 APs in the buildings
        within 30 m of every named place; a shop's AP every ~120 m along every walk, within
        25 m of the path (indoors: buildings by the street); 1-2 strangers' phone hotspots
        following the child on the longest walk. Some SSIDs are hostile (_SSID_HOSTILE)."""
        seen = set()
        aps = []
        hostile = list(_SSID_HOSTILE)

        def ssid():
            n = len(aps)
            if n % 2 == 1 and hostile:  # every other fixed AP until all hostile ones are out
                return hostile.pop(0)
            r = self._grand()
            form = _SSID_FORMS[r % len(_SSID_FORMS)]
            return (form % ((r >> 4) & (0xFF if "%02" in form else 0xFFFF))).encode()

        def fixed(lat, lon, place):
            name = ssid()
            tx = WIFI_TX_DBM - 4 + self._grand() % 9  # ASSUMED spread: -34..-26 dBm at 1 m
            aps.append(_AP(name, self._gen_mac(seen, False), self._gen_channel(), tx,
                           self._gen_security(), True, place, lat, lon))

        for name, lat, lon in self._places:
            for _ in range(4 + self._grand() % 4):
                la, lo = self._gen_near(lat, lon, 30000)
                fixed(la, lo, name)
        longest = None
        for s in self._segs:
            if s.t1 <= s.t0 or (s.lat0 == s.lat1 and s.lon0 == s.lon1):
                continue
            if longest is None or s.t1 - s.t0 > longest.t1 - longest.t0:
                longest = s
            e, n = offset_mm(s.lat0, s.lon0, s.lat1, s.lon1)
            k = isqrt(e * e + n * n) // 120000
            if k < 1:
                k = 1
            for j in range(k):  # at (j + 1/2) / k of the way
                la = s.lat0 + divz((s.lat1 - s.lat0) * (2 * j + 1), 2 * k)
                lo = s.lon0 + divz((s.lon1 - s.lon0) * (2 * j + 1), 2 * k)
                la, lo = self._gen_near(la, lo, 25000)
                fixed(la, lo, None)  # a shop's: no named place, so always behind a wall
        if longest is not None:
            span = longest.t1 - longest.t0
            for _ in range(1 + self._grand() % 2):
                r = self._grand()
                dur = 180000 + r % 300000  # ASSUMED: 3-8 minutes on the same bus or street
                if dur > span:
                    dur = span
                t0 = longest.t0 + (r >> 3) % (span - dur + 1)
                form = _SSID_PHONES[r % len(_SSID_PHONES)]
                name = (form % ((r >> 5) & 0xFFFF) if "%" in form else form).encode()
                aps.append(_AP(name, self._gen_mac(seen, True), (1, 6, 11)[r % 3], WIFI_TX_DBM,
                               self._gen_security(), False, None, None, None, t0, t0 + dur))
        return aps

    def _load_aps(self, items):
        """The scenario's "aps" (see the module's docstring)."""
        aps = []
        for i in range(len(items)):
            a = items[i]
            ssid = a.get("ssid", "")
            ssid = ssid.encode() if isinstance(ssid, str) else bytes(ssid)
            if len(ssid) > 32:
                raise ValueError("aps: SSID longer than 32 bytes: %r" % (ssid,))
            bssid = parse_mac(a["bssid"])
            ch = a.get("channel", (1, 6, 11)[i % 3])
            if not 1 <= ch <= 14:
                raise ValueError("aps: channel %r" % (ch,))
            tx = a.get("tx", WIFI_TX_DBM)
            sec = a.get("security", 3)
            if "follows" in a:
                if a["follows"] != "child":
                    raise ValueError("aps: follows %r (only \"child\")" % (a["follows"],))
                aps.append(_AP(ssid, bssid, ch, tx, sec, False, None, None, None,
                               offset_ms(a["from"]), offset_ms(a["to"])))
                continue
            lat, lon = udeg(a["lat"]), udeg(a["lon"])
            indoor = a.get("indoor", True)
            place = a.get("place")
            if place is None and indoor:
                best = None
                for name, plat, plon in self._places:
                    d = distance_mm(lat, lon, plat, plon)
                    if d <= 30000 and (best is None or d < best[0]):
                        best = (d, name)
                place = best[1] if best else None
            aps.append(_AP(ssid, bssid, ch, tx, sec, bool(indoor), place, lat, lon))
        return aps

    def wifi_at(self, ms=None):
        """What WLAN.scan() returns at ms: [(ssid bytes, bssid bytes(6), channel, rssi dBm,
        security, hidden False)] (hardware.md §4), in channel order, not by strength.

        RSSI = tx - 10 n log10(d) - walls + fading (constants WIFI_*): no wall between the
        child and an AP in the same named place when both are indoors; otherwise one wall for
        the child's building (child indoors) and one for the AP's (AP indoors). A phone that
        follows the child is with it (no wall). Below WIFI_FLOOR_DBM an AP is not listed;
        below WIFI_WEAK_DBM it is listed in half of the WIFI_SLOT_MS slots (scans miss weak
        APs)."""
        if ms is None:
            ms = self.vt.ms
        lat, lon, _, _, sky, place = self.position_at(ms)
        inside = sky == "indoor"
        slot = ms // WIFI_SLOT_MS
        found = []
        for i in range(len(self.aps)):
            ap = self.aps[i]
            if ap.t0 is not None:
                if not ap.t0 <= ms < ap.t1:
                    continue
                e = self._noise(ms, _AP_CH + 200000 + i, WIFI_FOLLOW_MM)
                n = self._noise(ms, _AP_CH + 300000 + i, WIFI_FOLLOW_MM)
                d = isqrt(e * e + n * n)
                walls = 0
            else:
                # farther than ~1.1 km in either direction: never heard (saves the geometry)
                if abs(ap.lat - lat) > 10000 or abs(ap.lon - lon) > 40000:
                    continue
                d = distance_mm(lat, lon, ap.lat, ap.lon)
                if inside and ap.indoor and ap.place is not None and ap.place == place:
                    walls = 0
                else:
                    walls = (1 if inside else 0) + (1 if ap.indoor else 0)
            rssi = (ap.tx - wifi_path_loss_db(d) - walls * WIFI_WALL_DB
                    + self._noise(ms, _AP_CH + i, WIFI_FADE_DB))
            if rssi < WIFI_FLOOR_DBM:
                continue
            if rssi < WIFI_WEAK_DBM and self._rand(slot, _AP_CH + 100000 + i) & 1:
                continue
            found.append((ap.channel, i, (ap.ssid, ap.bssid, ap.channel, rssi, ap.security, False)))
        found.sort(key=lambda x: (x[0], x[1]))
        return [x[2] for x in found]

    def operator(self):
        """(mcc, mnc, name or None) of the home network."""
        c = self.cells[0]
        net = self.network
        return (net.get("mcc", c["mcc"]), net.get("mnc", c["mnc"]), net.get("name"))

    # ---- servers ----
    def server_down_at(self, ms=None):
        if ms is None:
            ms = self.vt.ms
        for a, b in self._down:
            if a <= ms < b:
                return True
        return False

    def add_server(self, host, ip, port, server):
        self._dns[host] = ip
        self.servers["%s:%d" % (host, port)] = server
        self._by_ip["%s:%d" % (ip, port)] = server

    def resolve(self, host):
        """Host name or dotted IP -> IP text, or None if unknown (DNS failure)."""
        parts = host.split(".")
        if len(parts) == 4 and all(p.isdigit() for p in parts):
            return host
        return self._dns.get(host)

    def connect(self, host, port, peer, send, close):
        """Open a TCP connection to host:port now. send(bytes) and close() are how the server
        talks back to the device. Returns the server's connection object, or None: no coverage,
        unknown host, server down, nothing listening, or the server refused."""
        ms = self.vt.ms
        if not self.coverage_at(ms) or self.server_down_at(ms):
            return None
        ip = self.resolve(host)
        if ip is None:
            return None
        server = self._by_ip.get("%s:%d" % (ip, port)) or self.servers.get("%s:%d" % (host, port))
        if server is None:
            return None
        return server.connect(peer, send, close)
