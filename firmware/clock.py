"""Time for the watch: wrapping millisecond ticks and a UTC wall clock.

* ticks: the ESP32 tick counter wraps at 2**30 ms (~12.4 days). Only ticks_add/ticks_diff may
  combine ticks; never subtract them (MicroPython docs/library/time.rst). The period is fixed
  here at 2**30 on every interpreter so the simulator exercises the same wrap as the board.
* wall clock: seconds since 2000-01-01 UTC ("epoch 2000"). That is the ESP32's own epoch, and it
  keeps the value a small int on the device (Unix seconds are above 2**30 since 2004).
  Conversion to Unix time happens at the edges (simulator logs, OsmAnd timestamps).
"""
from firmware.compat import const

PERIOD = const(1 << 30)
_MASK = const((1 << 30) - 1)
_HALF = const(1 << 29)
UNIX_AT_2000 = const(946684800)  # Unix seconds at 2000-01-01T00:00:00Z


def ticks_add(t, delta):
    return (t + delta) & _MASK


def ticks_diff(a, b):
    """Signed a - b in ms, correct across the wrap while |a - b| < 2**29."""
    return ((a - b + _HALF) & _MASK) - _HALF


def _default_source():
    try:
        from time import ticks_ms as hw

        return lambda: hw() & _MASK
    except ImportError:  # CPython without the simulator: monotonic clock
        import time

        return lambda: int(time.monotonic() * 1000) & _MASK


_source = _default_source()


def ticks_ms():
    return _source()


def set_source(fn):
    """The simulator plugs its virtual ticks in here (before any service starts)."""
    global _source
    _source = fn


# ---- calendar arithmetic (proleptic Gregorian, integers only) --------------------------------


def days_from_civil(y, m, d):
    """Days since 1970-01-01 for a Gregorian date (H. Hinnant's algorithm)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) for days since 1970-01-01."""
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return (y + (m <= 2), m, d)


_DAYS_AT_2000 = const(10957)


def from_parts(y, mo, d, h=0, mi=0, s=0):
    """Epoch-2000 seconds for a UTC date and time."""
    return (days_from_civil(y, mo, d) - _DAYS_AT_2000) * 86400 + h * 3600 + mi * 60 + s


def to_parts(t):
    """(year, month, day, hour, minute, second) for epoch-2000 seconds."""
    days, secs = divmod(t, 86400)
    y, mo, d = civil_from_days(days + _DAYS_AT_2000)
    return (y, mo, d, secs // 3600, secs // 60 % 60, secs % 60)


def iso8601(t):
    """'2026-09-14T06:05:00Z' for epoch-2000 seconds."""
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % to_parts(t)


def parse_iso8601(s):
    """Epoch-2000 seconds from 'YYYY-MM-DDTHH:MM:SS[Z]' (UTC only). ValueError if malformed."""
    if len(s) < 19 or s[4] != "-" or s[7] != "-" or s[10] != "T" or s[13] != ":" or s[16] != ":":
        raise ValueError("not ISO-8601 UTC: %r" % s)
    tail = s[19:]
    if tail not in ("", "Z"):
        raise ValueError("only UTC ('Z') is accepted: %r" % s)
    return from_parts(int(s[0:4]), int(s[5:7]), int(s[8:10]), int(s[11:13]), int(s[14:16]), int(s[17:19]))


def _cclk(text):
    """(local epoch-2000 seconds, zone in quarter hours or None) from a +CCLK body."""
    s = text.strip()
    if s.startswith("+CCLK:"):
        s = s[6:].strip()
    s = s.strip('"')
    if len(s) < 17 or s[2] != "/" or s[5] != "/" or s[8] != "," or s[11] != ":" or s[14] != ":":
        raise ValueError("bad CCLK: %r" % text)
    yy, mo, dd = int(s[0:2]), int(s[3:5]), int(s[6:8])
    hh, mi, ss = int(s[9:11]), int(s[12:14]), int(s[15:17])
    quarters = None
    if len(s) > 17:
        if s[17] not in "+-":
            raise ValueError("bad CCLK zone: %r" % text)
        quarters = int(s[18:])
        if s[17] == "-":
            quarters = -quarters
    if not (1 <= mo <= 12 and 1 <= dd <= 31 and hh < 24 and mi < 60 and ss < 61):
        raise ValueError("bad CCLK fields: %r" % text)
    return from_parts(2000 + yy, mo, dd, hh, mi, ss), quarters


def parse_cclk(text):
    """Epoch-2000 UTC seconds from the body of '+CCLK: "yy/MM/dd,hh:mm:ss+zz"'.

    zz is the local offset in quarter hours, signed (A76-ATM AT+CCLK); the clock shows local
    time, so UTC = local - zz * 15 min. Raises ValueError on anything else.
    """
    local, quarters = _cclk(text)
    return local - (quarters or 0) * 900


def cclk_offset_min(text):
    """The local offset in minutes that '+CCLK: "yy/MM/dd,hh:mm:ss+zz"' gives (zz quarter
    hours, daylight saving included: "+08" -> 120, "+23" -> 345, "-14" -> -210), or None when
    the text has no zone. A76-ATM AT+CCLK: zz is -96..96; "+00" is also what a modem without
    network time shows, so take the offset only with a time the caller accepted (year check).
    Raises ValueError like parse_cclk, and for a zone outside -96..96."""
    return parse_cclk_zone(text)[1]


def parse_cclk_zone(text):
    """(UTC epoch-2000 seconds, the offset as cclk_offset_min gives it) from one parse."""
    local, quarters = _cclk(text)
    if quarters is None:
        return local, None
    if not -96 <= quarters <= 96:
        raise ValueError("bad CCLK zone: %r" % text)
    return local - quarters * 900, quarters * 15


class WallClock:
    """UTC from a fixed point (network or GNSS time) plus elapsed ticks.

    now() is None until set. Re-anchors itself well before ticks_diff would overflow (2**29 ms).
    """

    def __init__(self):
        self._base = None  # epoch-2000 seconds at _base_ticks
        self._base_ticks = 0
        self._ms = 0  # sub-second part of the anchor
        self.source = None  # "network", "gnss", ...

    def set(self, t2000, source):
        self._base = t2000
        self._ms = 0
        self._base_ticks = ticks_ms()
        self.source = source

    def is_set(self):
        return self._base is not None

    def now(self):
        """Epoch-2000 seconds, or None if never set."""
        if self._base is None:
            return None
        el = ticks_diff(ticks_ms(), self._base_ticks) + self._ms
        if el > 86400000:  # re-anchor once a day: stays far from the 2**29 ms limit
            secs = el // 1000
            self._base += secs
            self._ms = el - secs * 1000
            self._base_ticks = ticks_ms()
            return self._base
        return self._base + el // 1000


wall = WallClock()
