"""Positions and cells as the firmware passes them around: integers only.

Coordinates are signed micro-degrees (ESP32 floats are single precision: 7 digits would lose
~1 m at 60 degrees north). Decimal text is parsed and printed without floats.
"""


class Fix:
    """One position. t: epoch-2000 UTC seconds of the fix; lat/lon: micro-degrees (N/E
    positive); alt: m; speed: 0.1 km/h; course: degrees; acc: estimated horizontal accuracy, m;
    source: "gnss", "wifi", "cell" or "last" (a stale position re-reported)."""

    def __init__(self, t, lat, lon, valid=True, alt=0, speed=0, course=0, sats=0, acc=0, source="gnss"):
        self.t = t
        self.lat = lat
        self.lon = lon
        self.valid = valid
        self.alt = alt
        self.speed = speed
        self.course = course
        self.sats = sats
        self.acc = acc
        self.source = source

    def __repr__(self):
        return "Fix(%s %s,%s %s acc=%dm)" % (self.source, format_udeg(self.lat), format_udeg(self.lon),
                                              "A" if self.valid else "V", self.acc)


class Cell:
    """A serving or neighbour cell: mcc, mnc, lac (LTE: TAC), cid (LTE: 28-bit ECI), rssi dBm."""

    def __init__(self, mcc, mnc, lac, cid, rssi):
        self.mcc = mcc
        self.mnc = mnc
        self.lac = lac
        self.cid = cid
        self.rssi = rssi

    def __repr__(self):
        return "Cell(%d-%d %d/%d %ddBm)" % (self.mcc, self.mnc, self.lac, self.cid, self.rssi)


def udeg_from_decimal(text):
    """'59.9123456' / '-10.5' -> micro-degrees (truncated past 6 decimals). ValueError if bad."""
    s = text.strip()
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError("bad degrees: %r" % text)
    v = int(whole) * 1000000 + int((frac + "000000")[:6])
    return -v if neg else v


def udeg_from_ddmm(text, hemi=""):
    """NMEA-style 'ddmm.mmmm' / 'dddmm.mmmm' plus 'N'/'S'/'E'/'W' -> micro-degrees."""
    s = text.strip()
    whole, _, frac = s.partition(".")
    if len(whole) < 3 or not whole.isdigit() or (frac and not frac.isdigit()):
        raise ValueError("bad ddmm: %r" % text)
    deg = int(whole[:-2])
    # minutes as integer 1e-6 minutes, then to micro-degrees: /60
    min_u = int(whole[-2:]) * 1000000 + int((frac + "000000")[:6])
    if min_u >= 60000000:
        raise ValueError("minutes >= 60: %r" % text)
    v = deg * 1000000 + (min_u + 30) // 60
    return -v if hemi in ("S", "W") else v


def format_udeg(v):
    """micro-degrees -> '59.912345' (sign kept)."""
    sign = "-" if v < 0 else ""
    v = -v if v < 0 else v
    return "%s%d.%06d" % (sign, v // 1000000, v % 1000000)
