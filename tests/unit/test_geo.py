"""Integer geometry: integer roots, known distances, the
antimeridian, and the equirectangular error against a haversine (floats, tests only)."""
import support  # noqa: F401  (first: virtual time)
from firmware import geo


def _lcg(seed):
    """Our own random numbers: the same on CPython and MicroPython."""
    s = [seed]

    def nxt(lo, hi):
        s[0] = (s[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return lo + s[0] % (hi - lo + 1)
    return nxt


def test_isqrt_is_the_floor_root():
    for n in (0, 1, 2, 3, 4, 15, 16, 17, 10 ** 12, 10 ** 12 - 1, 2 ** 61 + 12345):
        x = geo.isqrt(n)
        assert x * x <= n < (x + 1) * (x + 1)
    assert geo.isqrt(-5) == 0
    r = _lcg(7)
    for _ in range(300):
        n = r(0, 2 ** 30) * r(0, 2 ** 30)
        x = geo.isqrt(n)
        assert x * x <= n < (x + 1) * (x + 1)


def test_known_distances():
    cases = (
        # (lat0, lon0, lat1, lon1, metres)
        (0, 0, 1000000, 0, 111195),  # one degree of latitude
        (59000000, 10000000, 60000000, 10000000, 111195),  # ... anywhere
        (0, 0, 0, 1000000, 111195),  # one degree of longitude on the equator
        (70000000, 10000000, 70000000, 10010000, 380),  # 0.01 degree of longitude at 70N
        (-70000000, 10000000, -70000000, 10010000, 380),  # ... and at 70S
        (60000000, 10000000, 60000000, 10020000, 1112),  # cos 60 = 1/2
        (59923600, 10759200, 59923600, 10759200, 0),
    )
    for lat0, lon0, lat1, lon1, m in cases:
        assert geo.distance_m(lat0, lon0, lat1, lon1) == m, (lat0, lon0, lat1, lon1)
        assert geo.distance_m(lat1, lon1, lat0, lon0) == m
    assert geo.cos_e6(0) == 1000000
    assert geo.cos_e6(60000000) == 500000
    assert geo.cos_e6(-60000000) == 500000
    assert geo.cos_e6(90000000) == 0


def test_wrap_lon():
    for d, want in ((0, 0), (1, 1), (-1, -1), (179999999, 179999999), (180000000, -180000000),
                    (-180000000, -180000000), (359998000, -2000), (-359998000, 2000),
                    (360000000, 0), (540000000, -180000000)):
        assert geo.wrap_lon(d) == want, (d, geo.wrap_lon(d))


def test_antimeridian_the_short_way_round():
    # 179.999 E to 179.999 W at 70N: 2000 micro-degrees east, ~76 m, not 360 degrees west
    e, n = geo.offset_mm(70000000, 179999000, 70000000, -179999000)
    assert n == 0 and 76000 <= e <= 76100, e
    back = geo.offset_mm(70000000, -179999000, 70000000, 179999000)
    assert back[1] == 0 and -e - 1 <= back[0] <= -e  # floor division, as world.py: 1 mm west
    assert geo.distance_m(70000000, 179999000, 70000000, -179999000) == 76
    assert geo.distance_m(0, 180000000, 0, -180000000) == 0  # one meridian
    # a diagonal across it equals the same diagonal anywhere else
    assert (geo.distance_mm(-16500000, 179999500, -16499000, -179999500)
            == geo.distance_mm(-16500000, 9999500, -16499000, 10000500))


def _haversine_m(lat0, lon0, lat1, lon1, math):
    r = 111195.0 * 180 / math.pi  # the sphere geo.py uses (6371 km)
    p0, p1 = math.radians(lat0 / 1e6), math.radians(lat1 / 1e6)
    dl = math.radians((lon1 - lon0) / 1e6)
    h = math.sin((p1 - p0) / 2) ** 2 + math.cos(p0) * math.cos(p1) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def test_error_bound_against_a_haversine():
    try:
        import math
    except ImportError:  # a port without floats: the known distances above still hold
        return
    # (latitude in degrees, bound in metres at 10 km, at 50 km), as geo.py documents them
    bounds = ((0, 1, 1), (45, 1, 1), (70, 1, 2), (80, 1, 5), (85, 1, 19))
    for lat, b10, b50 in bounds:
        for km, bound in ((10, b10), (50, b50)):
            for k in range(8):  # eight directions
                dn = (1000000, 707107, 0, -707107, -1000000, -707107, 0, 707107)[k]
                de = (0, 707107, 1000000, 707107, 0, -707107, -1000000, -707107)[k]
                lat0 = lat * 1000000 - dn * km * 500 // 111195  # centred on lat
                lat1 = lat0 + dn * km * 1000 // 111195
                c = geo.cos_e6(lat * 1000000)
                lon1 = 10000000 + de * km * 1000000 // (111195 * c // 1000)
                got = geo.distance_mm(lat0, 10000000, lat1, lon1) / 1000
                want = _haversine_m(lat0, 10000000, lat1, lon1, math)
                assert abs(got - want) <= bound, (lat, km, k, got, want)


def test_heading_and_move_agree_with_offset():
    assert geo.heading_e6(0) == (0, 1000000) and geo.heading_e6(90) == (1000000, 0)
    assert geo.heading_e6(180) == (0, -1000000) and geo.heading_e6(270) == (-1000000, 0)
    e, n = geo.heading_e6(45)
    assert e == n == 707107
    for lat, lon in ((59923600, 10759200), (70000000, 179999000), (-33868820, -179999990)):
        for east, north in ((1000000, 0), (0, -250000), (-40000, 30000)):
            lat2, lon2 = geo.move(lat, lon, east, north)
            assert -180000000 <= lon2 < 180000000
            de, dn = geo.offset_mm(lat, lon, lat2, lon2)
            assert abs(de - east) <= 150 and abs(dn - north) <= 150, (lat, lon, de, dn)
