"""Integer geometry on micro-degrees (signed int, 1e-6 degree): offsets and distances.

The same functions and results as host_sim/world.py (so the simulator can use these), plus a
longitude difference wrapped across the antimeridian. No floats: the ESP32's are single
precision, and integers give CPython and MicroPython the same answers (STYLE.md).

Equirectangular on a sphere of 6371 km (111 195 m per degree of latitude), longitudes scaled
by the cosine of the mean latitude. Fine for what zones need (a few tens of km). Measured
against a haversine on the same sphere, any direction: at 50 km under 1.2 m up to 70 degrees
north or south, 5 m at 80, 19 m at 85 (at 10 km: 1 cm, 5 cm, 18 cm); it grows with the square
of the distance and toward the poles (zones.py keeps zones within 85 degrees and 50 km). The
sphere itself is off the WGS-84 ellipsoid by up to ~0.5 %, which no zone should hang on.
"""
from firmware.compat import const

MM_PER_UDEG = const(111195)  # mm per micro-degree of latitude x 1000 (2 pi 6371 km / 360e6)
_PI_E9 = 3141592654  # over 2**30: a long int on the ESP32, so not a const()
_LON_SPAN = const(360000000)
_LON_HALF = const(180000000)


def isqrt(n):
    """Integer square root (floor) by Newton's method; 0 for n <= 0."""
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


def wrap_lon(dlon):
    """A longitude difference in micro-degrees into [-180e6, 180e6): the short way round."""
    return (dlon + _LON_HALF) % _LON_SPAN - _LON_HALF


def offset_mm(lat0, lon0, lat1, lon1):
    """(east_mm, north_mm) from point 0 to point 1, the short way round (across the
    antimeridian when that is shorter); equirectangular at the mean latitude."""
    north = (lat1 - lat0) * MM_PER_UDEG // 1000
    east = wrap_lon(lon1 - lon0) * MM_PER_UDEG * cos_e6((lat0 + lat1) // 2) // 1000000000
    return east, north


def distance_mm(lat0, lon0, lat1, lon1):
    e, n = offset_mm(lat0, lon0, lat1, lon1)
    return isqrt(e * e + n * n)


def distance_m(lat0, lon0, lat1, lon1):
    """Distance in whole metres, rounded."""
    return (distance_mm(lat0, lon0, lat1, lon1) + 500) // 1000


def divz(a, b):
    """a / b rounded toward zero (a move north and one south come out alike)."""
    q = abs(a) // b
    return -q if a < 0 else q


def move(lat, lon, east_mm, north_mm):
    """(lat, lon) micro-degrees moved by east_mm, north_mm (longitude wrapped at 180)."""
    c = cos_e6(lat)
    lon2 = lon + divz(east_mm * 1000000000, MM_PER_UDEG * (c if c > 0 else 1))
    return lat + divz(north_mm * 1000, MM_PER_UDEG), wrap_lon(lon2)


def heading_e6(course_deg):
    """(east, north) x 1e6 of a unit step on a compass course (0 north, 90 east)."""
    c = course_deg % 360

    def cos_deg(a):  # cos_e6 holds for 0..180 degrees; the cosine is even
        a = abs(a) % 360
        return cos_e6((360 - a if a > 180 else a) * 1000000)

    return cos_deg(90 - c), cos_deg(c)
