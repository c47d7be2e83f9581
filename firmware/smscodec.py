"""SMS text encodings for a modem in text mode: GSM 7-bit default alphabet and UCS2 hex.

The modem runs with AT+CSCS="GSM": message text crosses the UART as one byte per GSM 7-bit
code (3GPP TS 23.038 §6.2.1, "TE bytes"). A text outside that alphabet is sent with dcs=8
(UCS2): the body is then the hex of its UTF-16BE code units (hardware.md §1.5, AT+CSCS).

Decoding handles what strangers send, so it never raises; encoding returns None or raises
ValueError and lets the caller choose a shorter or plainer text. The watch sends single SMS
only (no concatenation): 160 septets in GSM, 70 UTF-16 units in UCS2 (TS 23.038 §6.1.2).
"""
from firmware import fix

# const as STYLE.md has it, not from firmware.compat: that imports asyncio, which this pure
# codec (like fix and contacts) has no use for.
try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x

GSM_MAX = const(160)  # septets in one SMS (140 octets * 8 / 7)
UCS2_MAX = const(70)  # UTF-16 code units in one SMS (140 octets / 2)

_ESC = const(0x1B)  # escape to the extension table
_CTRL_Z = const(0x1A)  # ends the text of a text-mode AT+CMGS (hardware.md §1.1, data prompt)

# TS 23.038 §6.2.1, the default alphabet indexed by code. Index 0x1B is the escape to the
# extension table, not a character: it holds a placeholder that gsm_encode refuses.
# One str rather than a dict: ~190 bytes instead of a 128-entry dict on the heap; str.find and
# str indexing count characters on both interpreters.
_BASIC = (
    "@\u00a3$\u00a5\u00e8\u00e9\u00f9\u00ec\u00f2\u00c7\n\u00d8\u00f8\r\u00c5\u00e5"  # 0x00
    "\u0394_\u03a6\u0393\u039b\u03a9\u03a0\u03a8\u03a3\u0398\u039e\x1b\u00c6\u00e6\u00df\u00c9"  # 0x10
    " !\"#\u00a4%&'()*+,-./"  # 0x20
    "0123456789:;<=>?"  # 0x30
    "\u00a1ABCDEFGHIJKLMNO"  # 0x40
    "PQRSTUVWXYZ\u00c4\u00d6\u00d1\u00dc\u00a7"  # 0x50
    "\u00bfabcdefghijklmno"  # 0x60
    "pqrstuvwxyz\u00e4\u00f6\u00f1\u00fc\u00e0"  # 0x70
)

# TS 23.038 §6.2.1.1, the extension table: 0x1B followed by the code. Other codes are unused
# (0x0D is reserved for a page break, 0x1B for a second extension table).
_EXT = {
    0x0A: "\x0c",  # form feed
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "\u20ac",  # euro sign
}
_EXT_CHARS = "".join(_EXT.values())  # for septets(): the order does not matter


def _code(c):
    """The basic-table code of character c, or -1 (the escape placeholder is no character)."""
    i = _BASIC.find(c)
    return -1 if i == _ESC else i


def gsm_decode(data):
    """TE bytes in the GSM 7-bit default alphabet -> str. An escape followed by a code the
    extension table does not define, an escape at the end, or a byte >= 0x80 (no septet) -> '?'."""
    out = []
    i = 0
    n = len(data)
    while i < n:
        b = data[i]
        i += 1
        if b == _ESC:
            # the pair is one character, known or not: the second byte is not shown on its own
            c = _EXT.get(data[i]) if i < n else None
            i += 1
            out.append(c or "?")
        elif b < 0x80:
            out.append(_BASIC[b])
        else:
            out.append("?")
    return "".join(out)


def gsm_encode(text):
    """str -> TE bytes, or None unless every character is in the basic table and sendable.

    Extension characters need the 0x1B escape byte, which cancels a text-mode AT+CMGS; 'Ξ' is
    code 0x1A, the Ctrl-Z that ends the text (hardware.md §1.1, data prompt): the modem would
    send the text up to it and read the rest as a command line. Both go as UCS2 instead."""
    out = bytearray()
    for c in text:
        i = _code(c)
        if i < 0 or i == _CTRL_Z:
            return None
        out.append(i)
    return bytes(out)


def septets(text):
    """Septets text takes in the GSM 7-bit alphabet (extension characters count 2), or None
    if some character is in neither table."""
    n = 0
    for c in text:
        if _code(c) >= 0:
            n += 1
        elif c in _EXT_CHARS:
            n += 2
        else:
            return None
    return n


def utf16_units(text):
    """UTF-16 code units of text: characters above U+FFFF take a surrogate pair."""
    n = len(text)
    for c in text:
        if ord(c) > 0xFFFF:
            n += 1
    return n


def ucs2_hex(text):
    """str -> upper-case hex of its UTF-16BE code units, as the modem takes a dcs=8 body."""
    out = []
    for c in text:
        u = ord(c)
        if u > 0xFFFF:
            u -= 0x10000
            out.append("%04X%04X" % (0xD800 + (u >> 10), 0xDC00 + (u & 0x3FF)))
        else:
            out.append("%04X" % u)
    return "".join(out)


def _nibble(x):
    if 0x30 <= x <= 0x39:
        return x - 0x30
    x |= 0x20  # lower case
    if 0x61 <= x <= 0x66:
        return x - 0x57
    return -1


def from_ucs2_hex(h):
    """Hex of UTF-16BE (str or bytes) -> str. Surrogate pairs are joined, a lone surrogate
    becomes U+FFFD. ValueError on a non-hex digit or a length that is not whole code units
    (4 hex digits each; an odd length is the common case).

    Parsed by hand: MicroPython's binascii.unhexlify accepts odd-length input and spaces."""
    if isinstance(h, str):
        h = h.encode()  # a non-ASCII character becomes non-hex bytes: rejected below
    n = len(h)
    if n % 4:
        raise ValueError("UCS2 hex length %d is not a multiple of 4" % n)
    units = []
    for i in range(0, n, 4):
        u = 0
        for j in range(i, i + 4):
            d = _nibble(h[j])
            if d < 0:
                raise ValueError("non-hex digit at %d" % j)
            u = (u << 4) | d
        units.append(u)
    out = []
    i = 0
    n = len(units)
    while i < n:
        u = units[i]
        i += 1
        if 0xD800 <= u < 0xDC00 and i < n and 0xDC00 <= units[i] < 0xE000:
            out.append(chr(0x10000 + ((u - 0xD800) << 10) + (units[i] - 0xDC00)))
            i += 1
        elif 0xD800 <= u < 0xE000:
            out.append("\ufffd")  # lone surrogate: no character; MicroPython's str cannot hold it
        else:
            out.append(chr(u))
    return "".join(out)


def encode_sms(text):
    """Choose the encoding of one SMS: ("gsm", bytes) when every character is sendable in the
    basic table and it fits 160 septets, else ("ucs2", hex str) when it fits 70 UTF-16 units.
    ValueError otherwise: the caller shortens its text (no concatenated SMS)."""
    data = gsm_encode(text)
    if data is not None and len(data) <= GSM_MAX:  # basic table only: one septet per byte
        return ("gsm", data)
    n = utf16_units(text)
    if n <= UCS2_MAX:
        return ("ucs2", ucs2_hex(text))
    raise ValueError("text too long for one SMS: %d characters" % len(text))


def printable(body):
    """Bytes -> str: printable ASCII as is, '?' for any other byte (a body shown as data, a
    command name for a reply)."""
    return "".join([chr(b) if 0x20 <= b < 0x7F else "?" for b in body])


GSM7 = const(0)
DATA8 = const(1)
UCS2 = const(2)


def alphabet(dcs):
    """TS 23.038 §4: GSM7 (0), DATA8 (1) or UCS2 (2), from the data coding scheme."""
    group = dcs & 0xF0
    if group < 0x80:  # 00xx general data coding, 01xx the same marked for automatic deletion
        if dcs & 0x20:
            return 1  # compressed (bit 5): nothing here can decompress it, show it as data
        a = (dcs >> 2) & 3
        return 0 if a == 3 else a  # 11 is reserved: read as the default alphabet (§4)
    if group == 0xE0:  # message waiting indication, store message, UCS2
        return 2
    if group == 0xF0:  # data coding / message class: bit 2 chooses 8-bit data
        return 1 if dcs & 0x04 else 0
    return 0  # 1100/1101 message waiting (GSM 7-bit); 1000..1011 reserved: default alphabet


def decode_body(body, dcs):
    """The text of a received SMS (the line after +CMT/+CMGR) -> str, never raising.

    body: bytes as the modem sent them (a str is taken as its UTF-8 bytes); dcs: the data coding
    scheme (+CMT with AT+CSDH=1), None when the modem did not report it (read as GSM 7-bit).
    UCS2 arrives as hex of UTF-16BE, 8-bit data as hex, which is shown as is."""
    if isinstance(body, str):
        body = body.encode()
    a = alphabet(dcs) if isinstance(dcs, int) else 0
    if a == 2:
        try:
            return from_ucs2_hex(body)
        except ValueError:
            return printable(body)
    if a == 1:
        return printable(body)
    return gsm_decode(body)


def map_link(lat_udeg, lon_udeg):
    """Micro-degrees (N/E positive) -> a map link with 5 decimals (~1 m), rounded half away
    from zero. Integer arithmetic only (ESP32 floats are single precision), and only GSM
    basic-table characters, so the link never forces an SMS into UCS2."""
    return "https://maps.google.com/?q=%s,%s" % (_deg5(lat_udeg), _deg5(lon_udeg))


def _deg5(v):
    # to 1e-5 degree, halves away from zero, then fix's 6 decimals less the last (a 0). What
    # rounds to zero is formatted as 0, so it never reads "-0.00000".
    q = ((-v if v < 0 else v) + 5) // 10 * 10
    return fix.format_udeg(-q if v < 0 else q)[:-1]
