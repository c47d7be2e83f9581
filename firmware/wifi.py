"""Wi-Fi scans for positioning: the access points around the watch, filtered, ranked, compared.

An AP is a tuple (mac, rssi, ssid): mac 12 lower-case hex digits ("a0b1c2d3e4f5"), rssi dBm
(int, -120..0), ssid printable ASCII without `, [ ] } *` (watchproto.sanitize; may be "").
A scan is a list of them, strongest first. Tuples, not objects: a scan is made every report
and compared with the last one, and a tuple of three is the smallest thing that holds an AP.

The radio is on only for the scan (network.WLAN.scan blocks ~1.7 s with the STA on,
hardware.md §4) and is switched off again whatever happens: the watch never joins a network.
"""
from binascii import hexlify

from firmware import log, watchproto
from firmware.compat import const

RSSI_MIN = const(-120)  # weaker, or above 0 dBm: a driver glitch, not a measurement
# similarity() at or above this: the watch has not moved. The fingerprint of a room varies
# between scans by a few weak APs and a few dB (<= ~6 dB is ignored); walking 50 m out of a
# building loses most strong APs, which weigh most.
STILL = const(60)
_ZERO = b"\x00\x00\x00\x00\x00\x00"
_NOMAP = b"_nomap"
_W_FLOOR = const(-110)  # an AP's weight is its dBm above this ...
_W_MIN = const(10)  # ... at least this (-100 dBm and weaker) ...
_W_MAX = const(70)  # ... at most this (-40 dBm and stronger)
_DB_FREE = const(6)  # rssi differences up to this are scan-to-scan noise
_DB_NONE = const(30)  # at this difference a shared AP no longer counts at all


def _ap(entry):
    """One driver tuple (ssid, bssid, channel, rssi, security, hidden) -> AP, or None if it
    must not place the watch:

    * bssid not 6 bytes, all zero, or multicast (bit 0 of the first octet): not an AP;
    * locally administered (bit 1): randomised MACs of phones' hotspots, car and bus Wi-Fi
      and mesh satellites; they move with their owner, so they must never place the watch;
    * rssi not an int within RSSI_MIN..0;
    * SSID ending in `_nomap` (any case): the owner opted out of location services (the
      convention Google, Mozilla and Apple follow).
    """
    ssid, bssid, rssi = entry[0], entry[1], entry[3]
    if not isinstance(bssid, (bytes, bytearray)) or len(bssid) != 6:
        return None
    if bssid[0] & 0x03 or bytes(bssid) == _ZERO:
        return None
    if type(rssi) is not int or not RSSI_MIN <= rssi <= 0:
        return None
    if isinstance(ssid, str):
        ssid = ssid.encode()
    elif not isinstance(ssid, (bytes, bytearray)):
        ssid = b""
    if bytes(ssid).lower().endswith(_NOMAP):
        return None
    return (hexlify(bytes(bssid)).decode(), rssi, watchproto.sanitize(ssid))


def _key(ap):
    return (-ap[1], ap[0])


def select(entries, cap=8):
    """Driver scan tuples -> APs: filtered (see _ap), one per bssid (the strongest reading),
    strongest first (ties by mac, so the order is deterministic), at most cap. Entries that are
    not tuples of the driver's shape are skipped."""
    best = {}
    for e in entries:
        try:
            ap = _ap(e)
        except Exception:  # a malformed entry (not a tuple, too short, a bad SSID type)
            continue
        if ap is not None:
            old = best.get(ap[0])
            if old is None or ap[1] > old[1]:
                best[ap[0]] = ap
    out = list(best.values())
    out.sort(key=_key)
    return out[:cap] if cap > 0 else []


def scan(wlan, cap=8):
    """Scan with wlan (a network.WLAN(STA_IF)): the APs around, as select() gives them.

    Never raises: any driver error (OSError "STA must be active", a timeout, garbage) is
    logged once and gives []. The radio is switched off in a finally, after the scan or its
    failure; if switching off fails, that is the error logged and the scan is discarded."""
    try:
        try:
            wlan.active(True)
            return select(wlan.scan(), cap)
        finally:
            wlan.active(False)
    except Exception as e:
        log.event("error", where="wifi", err=repr(e))
        return []


def block(aps):
    """APs -> the `wifis` argument of watchproto.position: (ssid, "aa:bb:cc:dd:ee:ff", rssi)."""
    out = []
    for ap in aps:
        m = ap[0]
        out.append((ap[2], "%s:%s:%s:%s:%s:%s" % (m[0:2], m[2:4], m[4:6], m[6:8], m[8:10], m[10:12]),
                    ap[1]))
    return out


def _weight(rssi):
    w = rssi - _W_FLOOR
    return _W_MIN if w < _W_MIN else _W_MAX if w > _W_MAX else w


def _table(aps):
    """mac -> rssi (the strongest if a mac repeats); items are (mac, rssi, ...)."""
    t = {}
    for ap in aps:
        old = t.get(ap[0])
        if old is None or ap[1] > old:
            t[ap[0]] = ap[1]
    return t


def similarity(a, b):
    """How alike two fingerprints are, 0..100 (integers; symmetric).

    Items are (mac, rssi, ...): scans or a place's (mac, rssi) list. Every AP heard in either
    has a weight, its stronger reading's dBm above -110, clamped to 10..70: strong APs are
    near and steady, weak ones come and go between scans. The result is the weight of the
    shared APs over the weight of all of them, in percent, each shared AP counted in full
    while its two readings differ by <= 6 dB and linearly less up to 30 dB (not at all beyond):

        100 * sum_shared(weight * agree) / sum_all(weight),  agree = 1 .. 0

    100: the same APs at about the same strength; 0: no AP in common (or both empty).
    """
    ta = _table(a)
    tb = _table(b)
    num = 0
    den = 0
    for mac, ra in ta.items():
        rb = tb.get(mac)
        if rb is None:
            den += _weight(ra)
            continue
        w = _weight(ra if ra > rb else rb)
        den += w
        d = ra - rb if ra > rb else rb - ra
        if d <= _DB_FREE:
            num += w * 100
        elif d < _DB_NONE:
            num += w * (_DB_NONE - d) * 100 // (_DB_NONE - _DB_FREE)
    for mac, rb in tb.items():
        if mac not in ta:
            den += _weight(rb)
    return num // den if den else 0
