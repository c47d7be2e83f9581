"""Safe zones: circles and polygons, the signed distance to their edge, and exit/enter decisions
with hysteresis. Pure: positions and times go in, events come out (STYLE.md, habit 2).

The config key "zones" (firmware/config.py) holds at most 8, in the order their events come:
  {"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}   a circle, r 20..50000 m
  {"name": "school", "poly": [[lat, lon], [lat, lon], ...]}      3..32 vertices in order
Micro-degrees (ints, never bool); lat -90e6..90e6 and lon -180e6..180e6, both ends inclusive
(180e6 and -180e6 are one meridian; a polygon may cross it). Points beyond 85 degrees are
refused: the local projection fails near a pole. A polygon's bounding box may be at most 50 km
on a side (geo.py's error bound); either winding, crossings counted even-odd.

Decisions (step): a position is "in" when its edge distance is <= -acc, "out" when >= acc,
undecided in between (acc floored at ACC_MIN_M: a receiver's claim of 3 m is optimistic near
buildings). The belief changes only when the other side is confirmed: two decided positions
there DWELL_S apart with none on the believed side between them (undecided ones neither
confirm nor cancel), or one whose margin |edge| - acc is FAR_M or more. A decided position on
the believed side cancels a pending change; so a fix jittering across the edge never flaps.
A GNSS fix walking toward the other side is judged by half its accuracy and a 5 s dwell
(crossing_acc, DWELL_WALK_S: two consecutive looks near an edge).
The first belief (after boot, or for a new or changed zone) is adopted silently: a watch that
starts outside its home zone has not left it, and must not say "exit". Watcher.restore()
carries beliefs over a reboot, so a real exit during a reboot is still told.
"""
from firmware import geo
from firmware.compat import const

MAX_ZONES = const(8)
NAME_MAX = const(20)
R_MIN_M = const(20)  # below the accuracy of a good fix: such a zone would never decide
R_MAX_M = const(50000)
VERTICES_MIN = const(3)
VERTICES_MAX = const(32)
SPAN_MAX_M = const(50000)  # a polygon's bounding box side; geo.py's error stays under a few m
ACC_MIN_M = const(10)
DWELL_S = const(8)  # two fixes this far apart: a walk past the edge, not one jump of the fix
DWELL_WALK_S = const(5)  # ... or this far apart for a child walking across (crossing_acc)
FAR_M = const(25)  # a fix this far beyond its accuracy is believed at once
MOVING_KMH10 = const(20)  # 2 km/h: a child starts walking (walking()) ...
STILL_KMH10 = const(10)  # ... and stops below 1 km/h: GNSS speed is noisy, a slow walk near 2
_AHEAD_MM = const(10000)  # where the course leads: the edge 10 m ahead
_LAT_MAX = const(90000000)
_LAT_POLAR = const(85000000)
_LON_MAX = const(180000000)
_NAME_BAD = ",\"'[]{}*"  # field separators and framing bytes of the replies (watch-protocol.md §2)

IN = "in"
OUT = "out"
UNKNOWN = (None, None, 0)  # a step state: (belief, pending side, time that side was first seen)


# ---- validation ---------------------------------------------------------------------------------


def _int(v):
    return type(v) is int  # exact: True is not a coordinate


def _name_error(name):
    if type(name) is not str or not 1 <= len(name) <= NAME_MAX:
        return "name: 1..%d characters" % NAME_MAX
    for c in name:
        if c < " " or c > "~" or c in _NAME_BAD:
            return "name: printable ASCII without , \" ' [ ] { } *"
    if name[0] == " " or name[-1] == " ":
        return "name: no space at either end"
    return None


def _point_error(lat, lon, what):
    if not (_int(lat) and _int(lon)):
        return what + ": integer micro-degrees expected"
    if not (-_LAT_MAX <= lat <= _LAT_MAX and -_LON_MAX <= lon <= _LON_MAX):
        return what + ": lat -90..90, lon -180..180 degrees"
    if not -_LAT_POLAR <= lat <= _LAT_POLAR:
        return what + ": beyond 85 degrees (too near a pole)"
    return None


def _poly_error(poly):
    if type(poly) is not list or not VERTICES_MIN <= len(poly) <= VERTICES_MAX:
        return "poly needs %d..%d vertices" % (VERTICES_MIN, VERTICES_MAX)
    for i in range(len(poly)):
        v = poly[i]
        if type(v) is not list or len(v) != 2:
            return "vertex %d: [lat, lon] expected" % i
        why = _point_error(v[0], v[1], "vertex %d" % i)
        if why:
            return why
    lat0, lon0 = poly[0]
    s_lo = s_hi = w_lo = w_hi = 0  # micro-degrees from vertex 0, longitudes the short way round
    for v in poly:
        dn = v[0] - lat0
        de = geo.wrap_lon(v[1] - lon0)
        s_lo, s_hi, w_lo, w_hi = min(s_lo, dn), max(s_hi, dn), min(w_lo, de), max(w_hi, de)
    lat_lo, lat_hi = lat0 + s_lo, lat0 + s_hi
    widest = 0 if lat_lo <= 0 <= lat_hi else min(abs(lat_lo), abs(lat_hi))  # cos is largest there
    tall = (s_hi - s_lo) * geo.MM_PER_UDEG // 1000
    wide = (w_hi - w_lo) * geo.MM_PER_UDEG * geo.cos_e6(widest) // 1000000000
    if tall > SPAN_MAX_M * 1000 or wide > SPAN_MAX_M * 1000:
        return "poly spans more than %d km" % (SPAN_MAX_M // 1000)
    twice_area = 0
    pts = [geo.offset_mm(lat0, lon0, v[0], v[1]) for v in poly]
    xa, ya = pts[-1]
    for xb, yb in pts:
        twice_area += xa * yb - xb * ya
        xa, ya = xb, yb
    if twice_area == 0:
        return "poly has no area"
    return None


def _zone_error(z):
    if "poly" in z:
        if len(z) != 2:
            return "a polygon has only name and poly"
        return _poly_error(z["poly"])
    if len(z) != 4 or "lat" not in z or "lon" not in z or "r" not in z:
        return "name with lat, lon, r (a circle) or with poly (a polygon)"
    why = _point_error(z["lat"], z["lon"], "centre")
    if why:
        return why
    r = z["r"]
    if not _int(r) or not R_MIN_M <= r <= R_MAX_M:
        return "r: %d..%d metres" % (R_MIN_M, R_MAX_M)
    return None


def check(value):
    """Raise ValueError naming the item ("[1] (school): poly needs 3..32 vertices") unless value
    is a valid zone list. Any JSON-ish input: never another exception."""
    if type(value) is not list:
        raise ValueError("a list of zones expected")
    if len(value) > MAX_ZONES:
        raise ValueError("at most %d zones" % MAX_ZONES)
    seen = []
    for i in range(len(value)):
        z = value[i]
        if type(z) is not dict:
            raise ValueError("[%d]: an object expected" % i)
        name = z.get("name")
        why = _name_error(name)
        if why:
            raise ValueError("[%d]: %s" % (i, why))
        why = _zone_error(z)
        if not why and name.lower() in seen:
            why = "name used twice"
        if why:
            raise ValueError("[%d] (%s): %s" % (i, name, why))
        seen.append(name.lower())


# ---- geometry -------------------------------------------------------------------------------------


def _round_m(mm):
    return (mm + 500) // 1000 if mm >= 0 else -((500 - mm) // 1000)


def _seg_d2(xa, ya, xb, yb):
    """Squared distance (mm^2) from the origin to the segment a-b."""
    dx = xb - xa
    dy = yb - ya
    t = -(xa * dx + ya * dy)  # where the origin projects onto a-b, times |ab|^2
    if t <= 0:
        return xa * xa + ya * ya
    n = dx * dx + dy * dy
    if t >= n:
        return xb * xb + yb * yb
    c = xa * dy - ya * dx
    return c * c // n


def _poly_edge_mm(poly, lat, lon):
    # The vertices in a plane around the point (the short way round, at each pair's mean
    # latitude), so the antimeridian and high latitudes need no special case.
    pts = [geo.offset_mm(lat, lon, v[0], v[1]) for v in poly]
    inside = False
    best = None
    xa, ya = pts[-1]
    for xb, yb in pts:
        if (ya > 0) != (yb > 0):
            # the edge crosses the x axis at (xa*yb - xb*ya) / (yb - ya): count it when east
            # of the point; 0 is the point on the edge, where the distance decides anyway
            c = xa * yb - xb * ya
            if c != 0 and (c > 0) == (yb > ya):
                inside = not inside
        d2 = _seg_d2(xa, ya, xb, yb)
        if best is None or d2 < best:
            best = d2
        xa, ya = xb, yb
    d = geo.isqrt(best)
    return -d if inside else d


def edge_m(zone, lat, lon):
    """Signed whole metres from (lat, lon) to the zone's edge: negative inside, positive outside."""
    poly = zone.get("poly")
    if poly is None:
        return _round_m(geo.distance_mm(zone["lat"], zone["lon"], lat, lon) - zone["r"] * 1000)
    return _round_m(_poly_edge_mm(poly, lat, lon))


def nearest_edge_m(zones, lat, lon):
    """The smallest |edge_m| over the zones, or None without zones (how near a decision is)."""
    best = None
    for z in zones:
        e = abs(edge_m(z, lat, lon))
        if best is None or e < best:
            best = e
    return best


# ---- decisions ------------------------------------------------------------------------------------


def step(state, edge, acc_m, t_s, dwell_s=DWELL_S):
    """One position against one zone: (state, edge in m, accuracy in m, time in s) -> (state,
    None | "exit" | "enter"). Start from UNKNOWN. A time earlier than the pending side's first
    (the clock was set back) starts the wait again rather than never ending it."""
    belief, pending, since = state
    acc = acc_m if acc_m > ACC_MIN_M else ACC_MIN_M
    if edge <= -acc:
        side = IN
    elif edge >= acc:
        side = OUT
    else:
        return state, None  # undecided: neither confirms nor cancels
    if side == belief:
        return (belief, None, 0), None
    if abs(edge) - acc < FAR_M:
        if pending != side or t_s < since:
            return (belief, side, t_s), None
        if t_s - since < dwell_s:
            return state, None
    if belief == IN:
        return (OUT, None, 0), "exit"
    if belief == OUT:
        return (IN, None, 0), "enter"
    return (side, None, 0), None  # the first belief: silent


def walking(speed_kmh10, before):
    """Is a child with this GNSS speed walking (pure)? From MOVING_KMH10 up, and, once walking,
    until the speed falls below STILL_KMH10: Doppler speed wanders by tenths of a km/h, and a
    slow walk near the threshold must not flicker between walking and standing."""
    return speed_kmh10 >= (STILL_KMH10 if before else MOVING_KMH10)


def crossing_acc(belief, edge, edge_ahead, acc_m):
    """The margin for a moving fix (pure): half its accuracy when its course leads to the
    other side of the edge than the belief (out of a zone believed in, into one believed
    out), else all of it. GNSS speed and course come from Doppler and are far finer than a
    position; a child walking across an edge is crossing it, and one standing at the edge
    (not walking()) is never judged by the smaller margin, so it does not flap.
    Needed for the 60 s promise: at a slow walk (0.6 m/s) a street-canyon fix (accuracy
    20-35 m) is beyond its full accuracy only ~50 s after the true crossing."""
    if (belief == IN and edge_ahead > edge) or (belief == OUT and edge_ahead < edge):
        return acc_m // 2
    return acc_m


class Watcher:
    """The beliefs about a zone list: feed() positions, get events. zones as config holds them."""

    def __init__(self, zones):
        self.zones = []
        self._states = []
        self.set_zones(zones)

    def set_zones(self, zones):
        """A new list (ValueError if bad): zones whose name and geometry are unchanged keep their
        state; the others start unknown (a moved zone's old belief says nothing)."""
        check(zones)
        states = []
        for z in zones:
            s = UNKNOWN
            for i in range(len(self.zones)):
                if self.zones[i] == z:
                    s = self._states[i]
                    break
            states.append(s)
        self.zones = list(zones)
        self._states = states

    def feed(self, lat, lon, acc_m, t_s, course=None):
        """A position -> [(name, "exit" | "enter")] in zone order. course: the GNSS course
        (degrees) of a child walking (walking()), None if standing or unknown: one walking
        toward the other side of an edge is judged with half the accuracy as margin
        (crossing_acc)."""
        events = []
        ahead = None
        if course is not None:
            e6, n6 = geo.heading_e6(course)
            ahead = geo.move(lat, lon, e6 * _AHEAD_MM // 1000000, n6 * _AHEAD_MM // 1000000)
        for i in range(len(self.zones)):
            z = self.zones[i]
            edge = edge_m(z, lat, lon)
            acc = acc_m
            if ahead is not None:
                acc = crossing_acc(self._states[i][0], edge, edge_m(z, ahead[0], ahead[1]), acc_m)
            s, ev = step(self._states[i], edge, acc, t_s, DWELL_WALK_S if acc < acc_m else DWELL_S)
            self._states[i] = s
            if ev:
                events.append((z["name"], ev))
        return events

    def snapshot(self):
        """{name: "in" | "out"} for the confirmed beliefs (pending changes are not kept)."""
        out = {}
        for i in range(len(self.zones)):
            b = self._states[i][0]
            if b:
                out[self.zones[i]["name"]] = b
        return out

    def restore(self, beliefs):
        """Beliefs from snapshot() (e.g. kept over a reboot); unknown names and values ignored."""
        if type(beliefs) is not dict:
            return
        for i in range(len(self.zones)):
            b = beliefs.get(self.zones[i]["name"])
            if b == IN or b == OUT:
                self._states[i] = (b, None, 0)
