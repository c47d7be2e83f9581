"""Safe zones: validation, the signed edge distance (concave polygons, 70N, the antimeridian)
and the exit/enter decisions as table-driven traces."""
import support
from firmware import geo, zones
from firmware.zones import DWELL_S, FAR_M, UNKNOWN, Watcher, check, edge_m, step

HOME = {"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}


def _at(lat0, lon0, east_m, north_m):
    """The point east_m, north_m metres from (lat0, lon0), in micro-degrees (rounded)."""
    lat = lat0 + (north_m * 2000000 // 111195 + 1) // 2
    c = geo.cos_e6((lat0 + lat) // 2)
    lon = lon0 + (east_m * 2000000000000 // (111195 * c) + 1) // 2
    if lon >= 180000000:
        lon -= 360000000
    if lon < -180000000:
        lon += 360000000
    return lat, lon


def _square(lat0, lon0, side_m):
    """A square polygon side_m on a side with its south-west corner at (lat0, lon0)."""
    return [list(_at(lat0, lon0, e, n)) for e, n in ((0, 0), (0, side_m), (side_m, side_m), (side_m, 0))]


def _feed(w, p, t, acc=10):
    return w.feed(p[0], p[1], acc, t)


def _near(got, want, tol=1):
    assert want - tol <= got <= want + tol, (got, want)


# ---- decisions: step() traces ------------------------------------------------------------------
# rows: (t_s, edge_m, acc_m, belief after, event)


def _trace(rows, state=("in", None, 0)):
    for t, edge, acc, belief, event in rows:
        state, ev = step(state, edge, acc, t)
        assert (state[0], ev) == (belief, event), (t, edge, acc, state, ev)
    return state


def test_jitter_at_the_edge_does_not_flap():
    # a fix wandering 12..20 m either side of the edge with 12 m accuracy: decided now and then,
    # never twice out without an in between, never out by FAR_M
    _trace((
        (0, -14, 12, "in", None),
        (5, 15, 12, "in", None),  # out: pending
        (10, -13, 12, "in", None),  # in again: the pending exit is cancelled
        (15, 20, 12, "in", None),  # out: pending anew, from 15
        (20, 5, 12, "in", None),  # undecided
        (21, -20, 12, "in", None),  # cancelled
        (30, 18, 12, "in", None),
        (35, 19, 12, "in", None),  # two outs, but 5 s apart: not yet
        (37, -16, 12, "in", None),  # and cancelled before the dwell passed
        (46, 17, 12, "in", None),
        (50, 3, 12, "in", None),
        (53, -13, 12, "in", None),
    ))


def test_a_true_exit_then_entry():
    _trace((
        (0, -40, 10, "in", None),
        (5, -25, 10, "in", None),
        (10, -5, 10, "in", None),  # undecided
        (15, 12, 10, "in", None),  # out: pending since 15
        (20, 19, 10, "in", None),  # 5 s: not yet
        (23, 30, 10, "out", "exit"),  # 8 s after the first out: confirmed
        (28, 60, 10, "out", None),
        (300, 20, 10, "out", None),
        (305, -15, 10, "out", None),  # in: pending since 305
        (310, 2, 10, "out", None),  # undecided: neither confirms nor cancels
        (313, -11, 10, "in", "enter"),
    ))


def test_large_accuracy_is_undecided_and_changes_nothing():
    state = _trace((
        (0, 30, 15, "in", None),  # out: margin 15, pending since 0
        (4, -100, 150, "in", None),  # deep inside but 150 m accuracy: undecided, no cancel
        (6, 120, 150, "in", None),  # far out but undecided: no confirmation either
        (8, 30, 15, "out", "exit"),  # the second decided out, 8 s after the first
    ))
    # only undecided fixes, for an hour: nothing ever changes
    rows = [(t, (t % 7) * 40 - 120, 200, "out", None) for t in range(0, 3600, 30)]
    assert _trace(rows, state) == state


def test_far_beyond_the_accuracy_decides_at_once():
    _trace((
        (0, 10 + FAR_M - 1, 10, "in", None),  # margin 24: pending only
        (1, -50, 10, "in", None),
        (2, 10 + FAR_M, 10, "out", "exit"),  # margin 25: at once
        (3, -(30 + FAR_M), 30, "in", "enter"),
        (4, 34, 3, "in", None),  # accuracy floored at 10: margin 24, pending
        (5, -20, 3, "in", None),
        (6, 35, 3, "out", "exit"),  # margin 25 against the 10 m floor
    ))


def test_the_first_belief_is_silent():
    _trace((
        (0, 500, 10, "out", None),  # booted far outside home: no "exit"
        (60, 40, 10, "out", None),
        (120, -500, 10, "in", "enter"),
    ), UNKNOWN)
    _trace((
        (0, -15, 10, None, None),  # pending in
        (4, 15, 10, None, None),  # out: now pending out, from 4
        (9, 15, 10, None, None),  # 5 s: not yet
        (12, 15, 10, "out", None),  # silent
    ), UNKNOWN)


def test_a_clock_set_back_restarts_the_dwell():
    _trace((
        (1000, 15, 10, "in", None),  # pending since 1000
        (100, 15, 10, "in", None),  # the clock went back: pending since 100
        (105, 15, 10, "in", None),
        (108, 15, 10, "out", "exit"),
    ))


def test_exactly_at_plus_or_minus_accuracy_is_decided():
    assert step(("in", None, 0), 10, 10, 0) == (("in", "out", 0), None)
    assert step(("in", None, 0), 9, 10, 0) == (("in", None, 0), None)
    assert step(("out", None, 0), -10, 10, 7) == (("out", "in", 7), None)
    assert step(("out", None, 0), -9, 3, 7) == (("out", None, 0), None)  # the 10 m floor


# ---- geometry ---------------------------------------------------------------------------------


def test_circle_edge():
    lat, lon = HOME["lat"], HOME["lon"]
    assert edge_m(HOME, lat, lon) == -150
    for e, n, want in ((100, 0, -50), (0, 150, 0), (-200, 0, 50), (120, 160, 50), (0, -1150, 1000)):
        _near(edge_m(HOME, *_at(lat, lon, e, n)), want)


L_BASE = (59900000, 10700000)


def _l_shape():
    # an L in metres east, north: the notch is the square 100..200 x 100..200
    pts = ((0, 0), (0, 200), (100, 200), (100, 100), (200, 100), (200, 0))
    return {"name": "L", "poly": [list(_at(L_BASE[0], L_BASE[1], e, n)) for e, n in pts]}


def test_concave_polygon_notch_is_outside():
    z = _l_shape()
    check([z])
    for e, n, want in (
        (150, 150, 50),  # in the notch: outside, 50 m from both inner sides
        (120, 180, 20),
        (50, 150, -50),  # in the upright arm
        (150, 50, -50),  # in the foot
        (50, 50, -50),
        (100, 100, 0),  # the inner corner
        (180, 120, 20),
        (300, 300, 224),  # beyond the notch: to the corners (200, 100) and (100, 200)
        (-30, 100, 30),  # west of the upright
        (100, -40, 40),
    ):
        _near(edge_m(z, *_at(L_BASE[0], L_BASE[1], e, n)), want)
    # the winding does not matter
    rev = {"name": "L", "poly": list(reversed(z["poly"]))}
    for e, n in ((150, 150), (50, 150), (150, 50), (250, 250)):
        p = _at(L_BASE[0], L_BASE[1], e, n)
        assert edge_m(rev, *p) == edge_m(z, *p)


def test_polygon_and_circle_at_70_north():
    lat, lon = 70663000, 23682000  # Hammerfest
    c = {"name": "c", "lat": lat, "lon": lon, "r": 100}
    for e, n, want in ((90, 0, -10), (110, 0, 10), (-110, 0, 10), (0, 90, -10), (70, 70, -1)):
        _near(edge_m(c, *_at(lat, lon, e, n)), want)
    sq = {"name": "sq", "poly": _square(lat, lon, 200)}
    check([c, sq])
    for e, n, want in ((100, 100, -100), (250, 100, 50), (100, 230, 30), (190, 100, -10),
                       (-20, -20, 28)):
        _near(edge_m(sq, *_at(lat, lon, e, n)), want)
    # a trace east at 70N: longitudes shrink, the decision does not
    w = Watcher([c])
    assert _feed(w, _at(lat, lon, 0, 0), 0) == []
    assert _feed(w, _at(lat, lon, 0, 0), 10) == []
    assert w.snapshot() == {"c": "in"}
    assert _feed(w, _at(lat, lon, 122, 0), 20) == []  # margin 12: pending
    assert _feed(w, _at(lat, lon, 125, 0), 28) == [("c", "exit")]


def test_polygon_and_circle_across_the_antimeridian():
    lat = -16500000  # Fiji
    c = {"name": "c", "lat": lat, "lon": 179999900, "r": 100}  # 179.9999 E
    _near(edge_m(c, lat, -179999900), -79)  # 200 micro-degrees east, across 180: 21 m
    _near(edge_m(c, lat, 180000000), -89)
    _near(edge_m(c, lat, -180000000), -89)
    _near(edge_m(c, lat, -179998000), 124)  # 2100 micro-degrees: 224 m
    _near(edge_m(c, lat, 179998000), 103)  # 1900 west: 203 m
    _near(edge_m(c, *_at(lat, 179999900, 0, 300)), 200)
    # a square 200 m on a side straddling the meridian
    sq = {"name": "sq", "poly": _square(lat, 179999100, 200)}
    assert sq["poly"][2][1] < 0  # its east side is in the western hemisphere
    check([c, sq])
    _near(edge_m(sq, *_at(lat, 179999100, 100, 100)), -100)
    _near(edge_m(sq, *_at(lat, 179999100, 150, 100)), -50)  # west longitude, inside
    _near(edge_m(sq, *_at(lat, 179999100, 260, 100)), 60)
    _near(edge_m(sq, *_at(lat, 179999100, -40, 100)), 40)
    # walking east across 180 stays inside, then leaves
    w = Watcher([sq])
    t = 0
    for e in (20, 60, 100, 140, 180):
        assert _feed(w, _at(lat, 179999100, e, 100), t) == [], e
        t += 10
    assert w.snapshot() == {"sq": "in"}
    assert _feed(w, _at(lat, 179999100, 215, 100), t) == []
    assert _feed(w, _at(lat, 179999100, 222, 100), t + 9) == [("sq", "exit")]


def test_nearest_edge():
    assert zones.nearest_edge_m([], 0, 0) is None
    z2 = {"name": "far", "lat": 60000000, "lon": 11000000, "r": 1000}
    p = _at(HOME["lat"], HOME["lon"], 0, 170)
    _near(zones.nearest_edge_m([HOME, z2], *p), 20)
    _near(zones.nearest_edge_m([HOME, z2], HOME["lat"], HOME["lon"]), 150)  # |-150|


# ---- the watcher -----------------------------------------------------------------------------------


def _settle(w, p, t):
    """Two fixes DWELL_S apart at p: every zone decided."""
    w.feed(p[0], p[1], 10, t)
    return w.feed(p[0], p[1], 10, t + DWELL_S)


def test_events_come_in_zone_order():
    inner = {"name": "inner", "lat": HOME["lat"], "lon": HOME["lon"], "r": 50}
    w = Watcher([HOME, inner])
    assert _settle(w, (HOME["lat"], HOME["lon"]), 0) == []
    assert w.snapshot() == {"home": "in", "inner": "in"}
    far = _at(HOME["lat"], HOME["lon"], 1000, 0)
    assert w.feed(far[0], far[1], 10, 100) == [("home", "exit"), ("inner", "exit")]
    w2 = Watcher([inner, HOME])
    _settle(w2, (HOME["lat"], HOME["lon"]), 0)
    assert w2.feed(far[0], far[1], 10, 100) == [("inner", "exit"), ("home", "exit")]


def test_set_zones_keeps_unchanged_and_forgets_changed():
    school = {"name": "school", "poly": _square(59917000, 10764000, 200)}
    park = {"name": "park", "lat": 59930000, "lon": 10770000, "r": 300}
    w = Watcher([HOME, school, park])
    _settle(w, (HOME["lat"], HOME["lon"]), 0)
    assert w.snapshot() == {"home": "in", "school": "out", "park": "out"}
    moved = {"name": "school", "poly": _square(59917100, 10764000, 200)}
    renamed = dict(park)
    renamed["name"] = "Park"
    w.set_zones([renamed, moved, {"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}])
    assert w.snapshot() == {"home": "in"}  # an equal copy is the same zone
    w.set_zones([HOME])
    assert w.snapshot() == {"home": "in"}
    w.set_zones([dict(HOME, r=151)])
    assert w.snapshot() == {}
    e = support.raises(ValueError, w.set_zones, [HOME, HOME])
    assert "name used twice" in str(e)
    # a pending change is kept with its zone
    w = Watcher([HOME])
    _settle(w, (HOME["lat"], HOME["lon"]), 0)
    out = _at(HOME["lat"], HOME["lon"], 172, 0)  # margin 12
    assert w.feed(out[0], out[1], 10, 100) == []
    w.set_zones([HOME, park])
    assert w.feed(out[0], out[1], 10, 108) == [("home", "exit")]


def test_snapshot_and_restore_over_a_reboot():
    w = Watcher([HOME])
    _settle(w, (HOME["lat"], HOME["lon"]), 0)
    snap = w.snapshot()
    assert snap == {"home": "in"}
    far = _at(HOME["lat"], HOME["lon"], 0, 2000)
    # a fresh watcher adopts "out" silently ...
    fresh = Watcher([HOME])
    assert fresh.feed(far[0], far[1], 10, 500) == []
    # ... a restored one knows the child was home, and tells the exit
    again = Watcher([HOME])
    again.restore({"home": "in", "ghost": "out", 5: "in"})
    assert again.snapshot() == {"home": "in"}
    assert again.feed(far[0], far[1], 10, 500) == [("home", "exit")]
    for junk in (None, [], "in", {"home": "maybe"}, {"home": None}, {"home": ["in"]}):
        w = Watcher([HOME])
        w.restore(junk)
        assert w.snapshot() == {}


# ---- validation ------------------------------------------------------------------------------------


def test_good_zone_lists_are_accepted():
    poly32 = [[59900000 + k * 1000, 10700000] for k in range(16)] + \
        [[59900000 + (15 - k) * 1000, 10710000] for k in range(16)]
    for value in (
        [],
        [HOME],
        [dict(HOME, r=20), dict(HOME, name="b", r=50000)],
        [{"name": "x" * 20, "lat": 0, "lon": 180000000, "r": 100}],
        [{"name": "y", "lat": -85000000, "lon": -180000000, "r": 100}],
        [{"name": "a b.c-(1)!", "poly": poly32}],
        [dict(HOME, name="z%d" % i) for i in range(8)],
        [{"name": "Home", "lat": 1, "lon": 1, "r": 20},
         {"name": "school", "poly": _square(0, 179999000, 300)}],
    ):
        check(value)


def _poly(name, pts):
    return {"name": name, "poly": pts}


TRI = [[59900000, 10700000], [59901000, 10700000], [59900000, 10702000]]

BAD = (
    ("home", "a list of zones expected"),
    ({"name": "home"}, "a list of zones expected"),
    ([HOME] * 0 + [dict(HOME, name="z%d" % i) for i in range(9)], "at most 8 zones"),
    ([HOME, "school"], "[1]: an object expected"),
    ([HOME, [1, 2]], "[1]: an object expected"),
    ([{"lat": 1, "lon": 1, "r": 100}], "[0]: name: 1..20 characters"),
    ([dict(HOME, name="")], "[0]: name: 1..20"),
    ([dict(HOME, name="x" * 21)], "[0]: name: 1..20"),
    ([dict(HOME, name=7)], "[0]: name: 1..20"),
    ([dict(HOME, name="a,b")], "[0]: name: printable ASCII"),
    ([dict(HOME, name="a*b")], "[0]: name: printable ASCII"),
    ([dict(HOME, name="a]")], "[0]: name: printable ASCII"),
    ([dict(HOME, name="sk\u00f8le")], "[0]: name: printable ASCII"),
    ([dict(HOME, name="a\tb")], "[0]: name: printable ASCII"),
    ([dict(HOME, name=" a")], "[0]: name: no space"),
    ([HOME, dict(HOME, name="HOME")], "[1] (HOME): name used twice"),
    ([HOME, dict(HOME, name="park", r=19)], "[1] (park): r: 20..50000 metres"),
    ([dict(HOME, r=50001)], "[0] (home): r: 20..50000"),
    ([dict(HOME, r=True)], "[0] (home): r: 20..50000"),
    ([dict(HOME, r=150.0)], "[0] (home): r: 20..50000"),
    ([dict(HOME, r="150")], "[0] (home): r: 20..50000"),
    ([dict(HOME, lat=59.9236)], "[0] (home): centre: integer micro-degrees expected"),
    ([dict(HOME, lat=True)], "[0] (home): centre: integer"),
    ([dict(HOME, lon=None)], "[0] (home): centre: integer"),
    ([dict(HOME, lat=90000001)], "[0] (home): centre: lat -90..90, lon -180..180"),
    ([dict(HOME, lon=-180000001)], "[0] (home): centre: lat -90..90"),
    ([dict(HOME, lon=10 ** 30)], "[0] (home): centre: lat -90..90"),
    ([dict(HOME, lat=85000001)], "[0] (home): centre: beyond 85 degrees"),
    ([dict(HOME, colour="red")], "[0] (home): name with lat, lon, r"),
    ([{"name": "home", "lat": 1, "lon": 1}], "[0] (home): name with lat, lon, r"),
    ([{"name": "home", "lat": 1, "lon": 1, "radius": 1}], "[0] (home): name with lat, lon, r"),
    ([HOME, _poly("school", TRI[:2])], "[1] (school): poly needs 3..32 vertices"),
    ([_poly("school", TRI * 11)], "[0] (school): poly needs 3..32"),
    ([_poly("school", "abc")], "[0] (school): poly needs 3..32"),
    ([_poly("school", None)], "[0] (school): poly needs 3..32"),
    ([_poly("school", [[1, 2], [3, 4], [5]])], "[0] (school): vertex 2: [lat, lon] expected"),
    ([_poly("school", [[1, 2], [3, 4], (5, 6)])], "[0] (school): vertex 2: [lat, lon]"),
    ([_poly("school", [[1, 2], [3, 4], [5, 6, 7]])], "[0] (school): vertex 2: [lat, lon]"),
    ([_poly("school", [[1, 2], [3, 4], [5.0, 6]])], "[0] (school): vertex 2: integer"),
    ([_poly("school", [[1, 2], [False, 4], [5, 6]])], "[0] (school): vertex 1: integer"),
    ([_poly("school", [[1, 2], [3, 4], [5, 180000001]])], "[0] (school): vertex 2: lat -90..90"),
    ([_poly("school", [[88000000, 2], [88000100, 4], [88000000, 6]])], "[0] (school): vertex 0: beyond 85"),
    ([_poly("school", [[0, 0], [460000, 0], [0, 1000]])], "[0] (school): poly spans more than 50 km"),
    ([_poly("school", [[70000000, 0], [70000000, 1320000], [70001000, 0]])], "poly spans more than 50 km"),
    ([_poly("school", [[0, 179700000], [0, -179700000], [1000, 179700000]])], "poly spans more than 50"),
    ([_poly("school", [[0, 0], [1000, 1000], [2000, 2000]])], "[0] (school): poly has no area"),
    ([_poly("school", [[0, 0], [0, 0], [0, 0]])], "[0] (school): poly has no area"),
    ([dict(_poly("school", TRI), r=100)], "[0] (school): a polygon has only name and poly"),
)


def test_check_rejects_and_names_the_item():
    for value, why in BAD:
        e = support.raises(ValueError, check, value)
        assert why in str(e), (why, str(e))


def test_spans_just_under_50_km_are_accepted():
    check([_poly("a", [[0, 0], [449000, 0], [0, 1000]])])  # 49.9 km north-south
    check([_poly("a", [[70000000, 0], [70000000, 1310000], [70001000, 0]])])  # 49.8 km at 70N
    check([_poly("a", [[0, 179900000], [0, -179900000], [1000, 179900000]])])  # 22 km across 180


def test_check_raises_only_value_error_on_junk():
    junk = (None, True, 0, -1, 1.5, "", "x" * 100, [], {}, [None], [[]], [{}], [{1: 2}],
            [{"name": None}], [{"name": ["a"]}], [{"name": {"a": 1}}], [{"name": "a", "poly": {}}],
            [{"name": "a", "poly": [[], [], []]}], [{"name": "a", "poly": [None, None, None]}],
            [{"name": "a", "poly": [["1", "2"]] * 3}], [{"name": "a", "poly": [[[1], [2]]] * 3}],
            [{"name": "a", "poly": [[1, 2]] * 3, "x": 1}], [{"name": "a", "lat": [], "lon": {}, "r": None}],
            [{"name": "a", "lat": 1, "lon": 1, "r": [150]}], [{"name": "a", (1, 2): 3, "poly": 1}],
            [{"name": "a", "lat": 10 ** 40, "lon": -(10 ** 40), "r": 10 ** 40}])
    r = [12345]
    leaves = (None, True, -1, 0, 2 ** 40, 1.5, "", "a,b", [], {}, [1], [[1, 2]], {"name": "x"})
    good = [HOME, _poly("school", TRI)]
    cases = list(junk)
    for _ in range(300):  # a good list with one leaf replaced by junk
        r[0] = (r[0] * 1103515245 + 12345) & 0x7FFFFFFF
        v = [dict(HOME), _poly("school", [list(p) for p in TRI])]
        i = r[0] % 2
        keys = sorted(v[i])
        k = keys[(r[0] >> 4) % len(keys)]
        leaf = leaves[(r[0] >> 8) % len(leaves)]
        if k == "poly" and (r[0] >> 12) % 2:
            v[i]["poly"][(r[0] >> 13) % 3][(r[0] >> 15) % 2] = leaf
        else:
            v[i][k] = leaf
        cases.append(v)
    cases.append(good)
    for value in cases:
        try:
            check(value)
        except ValueError:
            pass


def test_a_walk_across_the_edge_is_judged_by_half_the_accuracy_a_stand_never():
    # home: r 150 m. Fixes 20 m outside with accuracy 30 m: undecided for a standing child,
    # decided for one walking out (4 km/h, course north, away from the centre)
    w = Watcher([HOME])
    _feed(w, _at(HOME["lat"], HOME["lon"], 0, 0), 0)  # the first belief: in
    out20 = _at(HOME["lat"], HOME["lon"], 0, 170)
    for t in (10, 20, 30):
        assert w.feed(out20[0], out20[1], 30, t) == []  # standing: 20 < 30, never decided
    assert w.snapshot() == {"home": "in"}
    assert w.feed(out20[0], out20[1], 30, 40, 0) == []  # walking out: decided, pending
    assert zones.DWELL_WALK_S < DWELL_S
    assert w.feed(out20[0], out20[1], 30, 40 + zones.DWELL_WALK_S - 1, 0) == []
    assert w.feed(out20[0], out20[1], 30, 40 + zones.DWELL_WALK_S, 0) == [("home", "exit")]
    # walking back in (course south) 20 m inside: half the accuracy again
    in20 = _at(HOME["lat"], HOME["lon"], 0, 130)
    assert w.feed(in20[0], in20[1], 30, 100, 180) == []
    assert w.feed(in20[0], in20[1], 30, 100 + DWELL_S, 180) == [("home", "enter")]
    # standing out there (no course: not walking): the full accuracy is the margin
    assert w.feed(out20[0], out20[1], 30, 200) == []
    assert w.feed(out20[0], out20[1], 30, 200 + DWELL_S) == []
    assert w.snapshot() == {"home": "in"}


def test_crossing_acc_table():
    ca = zones.crossing_acc
    assert ca("in", -5, 0, 30) == 15  # heading out of a zone believed in
    assert ca("in", -5, -15, 30) == 30  # heading further in
    assert ca("out", 12, 2, 30) == 15  # heading into a zone believed out
    assert ca("out", 12, 22, 30) == 30
    assert ca(None, 12, 2, 30) == 30  # no belief yet: the full margin


def test_walking_has_hysteresis_against_a_noisy_speed():
    wk = zones.walking
    assert not wk(19, False) and wk(20, False)  # starts at 2 km/h
    assert wk(12, True) and wk(10, True) and not wk(9, True)  # walks on down to 1 km/h
    trace, w = [], False
    for speed in (5, 22, 17, 14, 21, 11, 8, 19, 25):  # a slow walk near 2 km/h, then a stop
        w = wk(speed, w)
        trace.append(w)
    assert trace == [False, True, True, True, True, True, False, False, True]
