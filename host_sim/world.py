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
  cells          [{"mcc", "mnc", "tac", "cid", "lat", "lon", "rsrp"}] (none: one default cell)
  network        {"mcc", "mnc", "name"?} optional
  server         {"host", "ip", "port"}
  events         [{"at", "do", "for_s"?}]; the world answers for "no_coverage" and "server_down"
  seed           optional integer for the GNSS noise (default: derived from start)
  people         people with phones who call and text the watch (host_sim/phones.py); World
                 holds them as self.people, the modem emulator schedules what they do
"""
from firmware import clock
from host_sim import phones

_LCG_MUL = 1103515245
_LCG_ADD = 12345
_MASK31 = 0x7FFFFFFF

NOISE_PERIOD_MS = 10000  # GNSS error drifts between random points every 10 s (smooth, not white)
NOISE_OPEN_MM = 4000  # open sky: a few metres
NOISE_URBAN_MM = 25000  # urban canyon: ~15-30 m
CELL_DB_PER_M = 250  # serving-cell RSRP drops 1 dB per 250 m from the site (a rough slope) ...
CELL_DB_MAX = 25  # ... by at most 25 dB
INDOOR_DB = 10  # walls cost 10 dB
_MM_PER_UDEG = 111195  # mm per micro-degree of latitude x 1000 (0.111195 m per micro-degree)

# tan((k + 0.5) degrees) * 1e6 for k = 0..44: thresholds for rounding an angle to whole degrees
_TAN_HALF = (8727, 26186, 43661, 61163, 78702, 96289, 113936, 131652, 149451, 167343, 185339,
             203452, 221695, 240079, 258618, 277325, 296213, 315299, 334595, 354119, 373885,
             393910, 414214, 434812, 455726, 476976, 498582, 520567, 542956, 565773, 589045,
             612801, 637070, 661886, 687281, 713293, 739961, 767327, 795436, 824336, 854081,
             884725, 916331, 948965, 982697)
_PI_E9 = 3141592654


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


def isqrt(n):
    """Integer square root (floor) by Newton's method."""
    if n <= 0:
        return 0
    x = n
    y = (x + 1) // 2
    while y < x:
        x = y
        y = (x + n // x) // 2
    return x


def cos_e6(lat_udeg):
    """cos(latitude) * 1e6 from micro-degrees, by an integer Taylor series (|lat| <= 90 deg)."""
    s = 1000000000  # fixed point 1e9
    x = abs(lat_udeg) * _PI_E9 // 180000000  # radians * 1e9
    x2 = x * x // s
    term = s
    total = s
    k = 1
    while k < 12:
        term = -term * x2 // (s * (2 * k - 1) * (2 * k))
        total += term
        k += 1
    return (total + 500) // 1000


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


def offset_mm(lat0, lon0, lat1, lon1):
    """(east_mm, north_mm) from point 0 to point 1 (equirectangular, fine over a few km)."""
    north = (lat1 - lat0) * _MM_PER_UDEG // 1000
    east = (lon1 - lon0) * _MM_PER_UDEG * cos_e6((lat0 + lat1) // 2) // 1000000000
    return east, north


def distance_mm(lat0, lon0, lat1, lon1):
    e, n = offset_mm(lat0, lon0, lat1, lon1)
    return isqrt(e * e + n * n)


def _divz(a, b):
    """a / b rounded toward zero (so a walk south and a walk north interpolate alike)."""
    q = abs(a) // b
    return -q if a < 0 else q


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
        lat = s.lat0 + _divz((s.lat1 - s.lat0) * dt, span)
        lon = s.lon0 + _divz((s.lon1 - s.lon0) * dt, span)
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
        return a + _divz((b - a) * f, NOISE_PERIOD_MS)

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
        lat += dn * 1000 // _MM_PER_UDEG
        c = cos_e6(lat)
        lon += de * 1000000000 // (_MM_PER_UDEG * (c if c > 0 else 1))
        slot = ms // NOISE_PERIOD_MS
        r = self._rand(slot, 3)
        if sky == "open":
            sats, hdop10 = 9 + r % 4, 8 + (r >> 4) % 5
        else:
            sats, hdop10 = 5 + r % 3, 20 + (r >> 4) % 16
        alt = s.alt + self._noise(ms, 4, 3 if sky == "open" else 10)
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

    def cell_at(self, ms=None):
        """The serving cell at ms: dict(mcc, mnc, tac, cid, rsrp dBm), or None without coverage."""
        if ms is None:
            ms = self.vt.ms
        if not self.coverage_at(ms):
            return None
        lat, lon, _, _, sky, _ = self.position_at(ms)
        best = None
        best_d = 0
        for c in self.cells:
            d = distance_mm(lat, lon, c["lat"], c["lon"])
            if best is None or d < best_d:
                best, best_d = c, d
        loss = best_d // (CELL_DB_PER_M * 1000)
        if loss > CELL_DB_MAX:
            loss = CELL_DB_MAX
        rsrp = best["rsrp"] - loss - (INDOOR_DB if sky == "indoor" else 0)
        if rsrp < -140:
            rsrp = -140
        return {"mcc": best["mcc"], "mnc": best["mnc"], "tac": best["tac"], "cid": best["cid"], "rsrp": rsrp}

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
