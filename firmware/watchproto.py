"""Traccar `watch` protocol (SeTracker family): frames, escaping, uplink contents, downlink parsing.

Every rule here comes from ../shared/docs/reference/watch-protocol.md (sections cited as §n).
Integers only: coordinates are micro-degrees, speed is 0.1 km/h (firmware/fix.py), times are
epoch-2000 seconds (firmware/clock.py); decimals are printed from integers, never from floats.

Frames are `[MM*ID*LLLL*content]` or, with a message index, `[MM*ID*IIII*LLLL*content]` (§2).
This module writes LLLL in UPPER-case hex (`000B`), as the vendors' watches do; Traccar reads
either case and never checks the value (§2).

The canonical value record. The outboxes (firmware/outbox.py) hold each report and alarm as the
content position() makes: `UD,DDMMYY,HHMMSS,A,lat,N,lon,E,kmh,course,alt,sats,gsm,batt,steps,0,
STATUS,n,0,mcc,mnc,(lac,cid,rssi)*n,m,(ssid,mac,rssi)*m,accuracy` (§6). That text is the
protocol-neutral record: every value a report has is in it, in integers printed as decimals,
and values() reads it back (Values). The watch protocol frames it as it is; the OsmAnd encoder
(firmware/osmand.py) builds its query from values(). Records queued by any earlier firmware
are in this same form, so an update with reports queued sends them either way
(docs/transports.md has the reasons for this choice).
"""
from firmware import clock
from firmware.contacts import digits
from firmware.compat import const

# Status word bits (§6). Traccar reports only the first set bit in its priority order, so a
# message should carry exactly one alarm bit, and only in the message reporting the event.
STATUS_MOTION = const(1 << 4)  # not an alarm: sets Traccar's `motion`
STATUS_SOS = const(1 << 16)
STATUS_LOW_BATTERY = const(1 << 17)
STATUS_FENCE_EXIT = const(1 << 18)
STATUS_FENCE_ENTER = const(1 << 19)
STATUS_REMOVED = const(1 << 20)
STATUS_FALL = const(1 << 21)

MAX_BUFFER = const(32768)  # Traccar drops a stream holding 32 KiB without a frame (§2)
SSID_MAX = const(32)

_LB = const(0x5B)  # [
_RB = const(0x5D)  # ]
_STAR = const(0x2A)  # *
_ESC = const(0x7D)  # }

# Types whose content after the first comma is binary (escaped on the wire, §2, §5).
_BINARY = ("TK", "TK2", "JXTK", "img")


class ProtocolError(ValueError):
    """A frame or content that breaks the watch protocol."""


# ---- escaping (§2) ----------------------------------------------------------------------------

_ESC_OF = {0x7D: 1, 0x5B: 2, 0x5D: 3, 0x2C: 4, 0x2A: 5}
_UNESC = b"}[],*"  # byte for escape codes 1..5
_UNSAFE = (0x2C, 0x5B, 0x5D, 0x7D, 0x2A)  # , [ ] } *  (int in bytes is not in MicroPython)


def escape(data):
    """Binary payload -> wire bytes: `} [ ] , *` become `}` + 0x01..0x05 (§2)."""
    out = bytearray()
    for b in data:
        code = _ESC_OF.get(b)
        if code is None:
            out.append(b)
        else:
            out.append(_ESC)
            out.append(code)
    return bytes(out)


def unescape(data):
    """Undo escape(). A `}` not followed by 0x01..0x05 raises ProtocolError (Traccar: exception)."""
    if b"}" not in data:
        return bytes(data)
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        if b == _ESC:
            if i + 1 >= n or not 1 <= data[i + 1] <= 5:
                raise ProtocolError("bad escape at %d" % i)
            out.append(_UNESC[data[i + 1] - 1])
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


# ---- text helpers -----------------------------------------------------------------------------


def sanitize(text, maxlen=SSID_MAX):
    """Text for a field (an SSID, a name): printable ASCII only, without `, [ ] } *` (§6, §10.4).

    A comma would shift every later field; brackets can break framing; a raw `}` is an escape
    error at Traccar (§2). Accepts str or bytes; the result has at most maxlen characters.
    """
    if isinstance(text, str):
        text = text.encode()
    out = bytearray()
    for b in text:
        if 0x20 <= b < 0x7F and b not in _UNSAFE:
            out.append(b)
            if len(out) >= maxlen:
                break
    return out.decode()


def _check_ascii(s, what):
    for c in s:
        if ord(c) > 0x7E or ord(c) < 0x20:
            raise ValueError("%s: not printable ASCII: %r" % (what, s))


def _text_content(content):
    """str content -> bytes, refusing what Traccar cannot take: non-ASCII, a raw `}` (escape
    error -> disconnect, §2) or unbalanced brackets (framing breaks, §2)."""
    depth = 0
    for c in content:
        o = ord(c)
        if o > 0x7F:
            raise ValueError("content: non-ASCII character %r" % c)
        if c == "}":
            raise ValueError("content: raw '}' (escape it or strip it)")
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
            if depth < 0:
                break
    if depth:
        raise ValueError("content: unbalanced brackets")
    return content.encode()


def encode(maker, dev_id, content, index=None):
    """One frame: `[MM*ID*LLLL*content]`, or `[MM*ID*IIII*LLLL*content]` with an index.

    content: str (ASCII text) or bytes (binary already escaped). LLLL is the content byte count
    as 4 upper-case hex digits. index: int 0..0xFFFF or a 4-hex-digit str (Traccar recognises
    an index only in that shape, §2).
    """
    if not is_maker(maker):
        raise ValueError("maker: 2 printable characters without * [ ] }: %r" % maker)
    _check_ascii(dev_id, "dev_id")
    if not dev_id or "*" in dev_id or "[" in dev_id or "]" in dev_id or "," in dev_id:
        raise ValueError("dev_id: empty or contains a delimiter: %r" % dev_id)
    body = _text_content(content) if isinstance(content, str) else bytes(content)
    if len(body) > 0xFFFF:
        raise ValueError("content: longer than 0xFFFF bytes")
    if index is None:
        head = "[%s*%s*%04X*" % (maker, dev_id, len(body))
    else:
        if isinstance(index, int):
            if not 0 <= index <= 0xFFFF:
                raise ValueError("index: out of range: %r" % index)
            index = "%04X" % index
        elif not is_index(index):
            raise ValueError("index: must be 4 hex digits: %r" % index)
        head = "[%s*%s*%s*%04X*" % (maker, dev_id, index, len(body))
    return head.encode() + body + b"]"


def is_maker(maker):
    """True for a maker field a frame can carry: 2 printable ASCII characters, none of them a
    frame delimiter or the escape byte. Traccar takes any 2 characters (§2), but it unescapes
    the whole frame, header too: a `}` there is an escape error and closes the connection."""
    if not isinstance(maker, str) or len(maker) != 2:
        return False
    for c in maker:
        if not " " <= c <= "~" or c in "*[]}":
            return False
    return True


def is_index(index):
    """True for an index as encode() writes it and Traccar's encoder sends it: a str of 4 hex
    digits. (Traccar's decoder takes any text before a hex length for one, §2; parse() too.)"""
    return isinstance(index, str) and len(index) == 4 and _hexval(index.encode()) >= 0


# ---- uplink contents (§4, §6) -----------------------------------------------------------------


LK = "LK"  # the bare heartbeat / batch closer: acked, and Traccar stores no position for it


def lk(steps, rolls, battery):
    """Heartbeat `LK,steps,rolls,battery` (§4; field order per PR #4699, see §9)."""
    return "LK,%d,%d,%d" % (steps, rolls, battery)


def _clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v


def _mac(mac):
    """'AA:bb:..' -> 'aa:bb:cc:dd:ee:ff'; ValueError unless six hex pairs with colons (§6.3)."""
    if isinstance(mac, (bytes, bytearray)):
        mac = mac.decode()
    if len(mac) != 17:
        raise ValueError("wifi mac: %r" % mac)
    for i in range(17):
        c = mac[i]
        if i % 3 == 2:
            if c != ":":
                raise ValueError("wifi mac: %r" % mac)
        elif c not in "0123456789abcdefABCDEF":
            raise ValueError("wifi mac: %r" % mac)
    return mac.lower()


def position(kind, fix, gsm, battery, steps, status, cells, wifis=()):
    """Content of a position message (`UD`, `AL`, `UD_LTE`, ...), the canonical form of §6:

    UD,DDMMYY,HHMMSS,A|V,lat,N|S,lon,E|W,kmh,course,alt,sats,gsm,batt,steps,0,STATUS,
    n,0,mcc,mnc,(lac,cid,rssi)*n,m,(ssid,mac,rssi)*m,accuracy

    fix: firmware.fix.Fix (t epoch-2000 UTC; lat/lon micro-degrees; speed 0.1 km/h).
    cells: Cell list, serving cell first; cells on another MCC/MNC than the first are left out
    (the block carries one MCC/MNC for all). wifis: (ssid, mac, rssi) tuples.
    status: the bit word, 0 <= status < 0x80000000 (Traccar parses a signed int, §6).

    With no cell, the Wi-Fi count is written as 0 and the access points are left out: Traccar
    skips the whole network block when its 4th field holds a hex letter, which a MAC always
    does when no MCC/MNC precedes it (§6 step 1). The Wi-Fi count is always written (0 if
    none) so that the trailing accuracy is never read as a Wi-Fi count.
    """
    if kind[:2] not in ("UD", "AL", "WT") or "," in kind:
        raise ValueError("kind: not a position type: %r" % kind)
    _check_ascii(kind, "kind")
    if not 0 <= status < 0x80000000:
        raise ValueError("status: out of range 0..7FFFFFFF: %r" % status)
    y, mo, d, h, mi, s = clock.to_parts(fix.t)
    lat, lon = fix.lat, fix.lon
    speed = fix.speed if fix.speed > 0 else 0  # 0.1 km/h; the field is unsigned
    parts = [
        "%s,%02d%02d%02d,%02d%02d%02d,%s" % (kind, d, mo, y % 100, h, mi, s, "A" if fix.valid else "V"),
        "%d.%06d,%s" % (abs(lat) // 1000000, abs(lat) % 1000000, "S" if lat < 0 else "N"),
        "%d.%06d,%s" % (abs(lon) // 1000000, abs(lon) % 1000000, "W" if lon < 0 else "E"),
        "%d.%02d,%d,%d" % (speed // 10, speed % 10 * 10, fix.course % 360, fix.alt),
        "%d,%d,%d,%d,0,%08X" % (_clamp(fix.sats, 0, 99), _clamp(gsm, 0, 100), _clamp(battery, 0, 100),
                                steps if steps > 0 else 0, status),
    ]
    if cells:
        mcc, mnc = cells[0].mcc, cells[0].mnc
        same = [c for c in cells if c.mcc == mcc and c.mnc == mnc]
        parts.append("%d,0,%d,%d" % (len(same), mcc, mnc))
        for c in same:
            # decimal, and within a signed 32-bit int (Traccar's parseInt, §6 step 2)
            if not (0 <= c.lac < 0x80000000 and 0 <= c.cid < 0x80000000):
                raise ValueError("cell: lac/cid out of range: %r" % c)
            parts.append("%d,%d,%d" % (c.lac, c.cid, _clamp(c.rssi, -150, 0)))
        parts.append("%d" % len(wifis))
        for ssid, mac, rssi in wifis:
            parts.append("%s,%s,%d" % (sanitize(ssid), _mac(mac), _clamp(rssi, -150, 0)))
    else:
        parts.append("0,0")
    parts.append("%d" % _clamp(fix.acc, 0, 99999))
    return ",".join(parts)


# ---- the values back from a stored content ----------------------------------------------------


class Values:
    """The values of a position content (position()'s output, or any §6 variant Traccar takes):
    kind ('UD', 'AL' ...); t epoch-2000 UTC s; valid; lat, lon signed micro-degrees; speed in
    0.01 km/h; course degrees; alt m; sats; gsm 0-100; batt %; steps; status (the bit word);
    mcc, mnc (None without a cell); cells [(lac, cid, rssi or None)]; wifis [(ssid, mac, rssi)];
    acc metres (None when the content has none)."""

    def __init__(self):
        self.mcc = self.mnc = self.acc = None
        self.cells = []
        self.wifis = []


def _dec(text, places, what):
    """Decimal text (optional '-', digits, optional '.digits') -> int in units of 10**-places,
    extra decimals cut (ProtocolError if it is not such a number)."""
    t = text.strip()
    neg = t[:1] == "-"
    if neg:
        t = t[1:]
    whole, _, frac = t.partition(".")
    if not digits(whole) or (frac and not digits(frac)):
        raise ProtocolError("%s: not a number: %r" % (what, text))
    frac = (frac + "0" * places)[:places]
    v = int(whole) * 10 ** places + (int(frac) if places else 0)
    return -v if neg else v


def _int_field(text, what):
    return _dec(text, 0, what)


def values(content):
    """A stored UD/AL/WT content (str or bytes) -> Values. ProtocolError (a ValueError) when it
    is not one: such a record can be sent in no protocol."""
    if isinstance(content, (bytes, bytearray)):
        content = bytes(content).decode()
    f = content.split(",")
    if len(f) < 17 or f[0][:2] not in ("UD", "AL", "WT"):
        raise ProtocolError("not a position content: %r" % content[:40])
    v = Values()
    v.kind = f[0]
    d, tm = f[1], f[2]
    if len(d) != 6 or len(tm) != 6 or not digits(d + tm) or f[3] not in ("A", "V"):
        raise ProtocolError("date, time or validity: %r" % content[:40])
    v.t = clock.from_parts(2000 + int(d[4:6]), int(d[2:4]), int(d[0:2]), int(tm[0:2]), int(tm[2:4]),
                           int(tm[4:6]))
    v.valid = f[3] == "A"
    lat = _dec(f[4], 6, "lat")
    lon = _dec(f[6], 6, "lon")
    # a hemisphere letter forces the sign; none keeps it as written (§6)
    v.lat = -abs(lat) if f[5] == "S" else lat
    v.lon = -abs(lon) if f[7] == "W" else lon
    if abs(v.lat) > 90000000 or abs(v.lon) > 180000000:
        raise ProtocolError("coordinates out of range")
    v.speed = _dec(f[8], 2, "speed")
    v.course = _int_field(f[9], "course")
    v.alt = _int_field(f[10], "alt")
    v.sats = _int_field(f[11], "sats")
    v.gsm = _int_field(f[12], "gsm")
    v.batt = _int_field(f[13], "batt")
    v.steps = _int_field(f[14], "steps")
    v.status = _hexval(f[16].encode())
    if v.status < 0 or v.status >= 0x80000000:
        raise ProtocolError("status: %r" % f[16])
    rest = f[17:]
    while rest and rest[-1] == "":
        rest.pop()  # Java's split drops trailing empty fields (§6)
    i = 0
    n = _int_field(rest[i], "cell count") if rest else 0
    i += 1
    if n > 0:
        if len(rest) < 4 + 3 * n:
            raise ProtocolError("cells: %d announced" % n)
        v.mcc = _int_field(rest[2], "mcc")
        v.mnc = _int_field(rest[3], "mnc")
        i = 4
        for _ in range(n):
            r = rest[i + 2]
            v.cells.append((_int_field(rest[i], "lac"), _int_field(rest[i + 1], "cid"),
                            _int_field(r, "cell rssi") if r else None))
            i += 3
    if i < len(rest):
        m = _int_field(rest[i], "wifi count")
        i += 1
        if len(rest) < i + 3 * m:
            raise ProtocolError("wifi: %d announced" % m)
        for _ in range(m):
            v.wifis.append((rest[i], rest[i + 1], _int_field(rest[i + 2], "wifi rssi")))
            i += 3
    if i < len(rest):
        v.acc = _dec(rest[i], 0, "accuracy")
    return v


# ---- stream splitting (§2) --------------------------------------------------------------------


class FrameSplitter:
    """Splits a received byte stream into frames `[` ... matching `]` by bracket depth, the way
    Traccar's WatchFrameDecoder does (§2), so brackets inside a field are fine while balanced.

    Unlike Traccar, bytes outside a frame are skipped and counted in `garbage` instead of being
    glued to the next frame. A partial frame waits for more bytes; more than `limit` bytes
    without a complete frame are discarded and counted in `overflows`.
    """

    def __init__(self, limit=MAX_BUFFER, nested=True):
        """nested=False: a '[' inside an unfinished frame starts a new frame and what came
        before it is garbage. Right for downlinks, which never carry a raw '[' (binary is
        escaped, MESSAGE and PHB are hex: §5), and it resynchronises at once after line noise,
        where bracket counting would swallow every following frame."""
        self.limit = limit
        self.nested = nested
        self.garbage = 0
        self.overflows = 0
        self._buf = bytearray()
        self._scan = 0  # bytes of _buf already scanned (a partial frame)
        self._depth = 0

    def feed(self, data):
        """Add received bytes; returns the complete frames (bytes, still escaped) in order."""
        buf = self._buf
        buf.extend(data)
        out = []
        n = len(buf)
        i = self._scan
        depth = self._depth
        start = 0
        while i < n:
            b = buf[i]
            if depth == 0:
                if b == _LB:
                    self.garbage += i - start
                    start = i
                    depth = 1
            elif b == _LB:
                if self.nested:
                    depth += 1
                else:
                    self.garbage += i - start
                    start = i
                    depth = 1
            elif b == _RB:
                depth -= 1
                if depth == 0:
                    out.append(bytes(buf[start:i + 1]))
                    start = i + 1
            i += 1
        if depth == 0:
            self.garbage += n - start
            start = n
        if start:
            buf = self._buf = buf[start:]
        if len(buf) > self.limit:
            self.overflows += 1
            buf = self._buf = bytearray()
            depth = 0
        self._scan = len(buf)
        self._depth = depth
        return out

    def reset(self):
        """Forget a partial frame (a new connection)."""
        self._buf = bytearray()
        self._scan = 0
        self._depth = 0


# ---- frame parsing (§2, §5) -------------------------------------------------------------------


def _hexval(b):
    """Value of ASCII hex digits in bytes b, or -1 if b is empty or holds anything else."""
    if not b:
        return -1
    v = 0
    for c in b:
        if 0x30 <= c <= 0x39:
            d = c - 0x30
        elif 0x41 <= c <= 0x46:
            d = c - 0x37
        elif 0x61 <= c <= 0x66:
            d = c - 0x57
        else:
            return -1
        v = v * 16 + d
    return v


def _header(b, what):
    for c in b:
        if c < 0x20 or c > 0x7E:
            raise ProtocolError("%s: not ASCII" % what)
    return b.decode()


def _text(b):
    """ASCII text; other bytes read as '?' (what Traccar's US_ASCII encoder sends for them)."""
    for c in b:
        if c > 0x7F:
            return bytes([c if c < 0x80 else 0x3F for c in b]).decode()
    return b.decode()


class Frame:
    """A parsed frame. maker: 2 chars as received; dev_id; index: str or None; length: LLLL as
    declared (not checked, like Traccar); content: bytes, unescaped; type: text up to the first
    comma; fields: the comma-separated str fields after the type (empty for binary types, whose
    bytes after the first comma are in `payload`)."""

    def __init__(self, maker, dev_id, index, length, content):
        self.maker = maker
        self.dev_id = dev_id
        self.index = index
        self.length = length
        self.content = content
        comma = content.find(b",")
        head = content if comma < 0 else content[:comma]
        self.type = _text(head)
        self.payload = b"" if comma < 0 else content[comma + 1:]
        if comma < 0 or self.type in _BINARY:
            self.fields = []
        else:
            self.fields = _text(self.payload).split(",")

    def __repr__(self):
        return "Frame(%s*%s*%s %r)" % (self.maker, self.dev_id, self.index, self.content[:40])


def parse(frame):
    """bytes of one frame (as FrameSplitter returns it) -> Frame. ProtocolError if malformed.

    Any 2-character maker is accepted: Traccar echoes the uplink's in acks but sends `SG` in
    commands (§5). The index is recognised as Traccar does (§2): the field after the id is an
    index when the 4 characters after the next `*` are hex digits followed by another `*`.
    """
    n = len(frame)
    # shortest: [MM*I*LLLL*] = 12 bytes
    if n < 12 or frame[0] != _LB or frame[n - 1] != _RB:
        raise ProtocolError("not a frame")
    if frame[3] != _STAR:
        raise ProtocolError("no '*' after the maker")
    maker = _header(frame[1:3], "maker")
    p = frame.find(b"*", 4)
    if p <= 4:
        raise ProtocolError("no device id")
    dev_id = _header(frame[4:p], "dev_id")
    q = frame.find(b"*", p + 1)
    if q < 0:
        raise ProtocolError("no length field")
    index = None
    at = p + 1  # start of LLLL
    if q + 5 < n and frame[q + 5] == _STAR and _hexval(frame[q + 1:q + 5]) >= 0:
        index = _header(frame[p + 1:q], "index")
        at = q + 1
    if at + 5 > n - 1 or frame[at + 4] != _STAR:
        raise ProtocolError("bad length field")
    length = _hexval(frame[at:at + 4])
    if length < 0:
        raise ProtocolError("length not hex")
    return Frame(maker, dev_id, index, length, unescape(frame[at + 5:n - 1]))
