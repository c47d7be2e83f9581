"""SMS codec: GSM 7-bit default alphabet (3GPP TS 23.038 §6.2.1), UCS2 hex, choice of encoding,
received bodies by dcs, map links."""
import support
from firmware.smscodec import (decode_body, encode_sms, from_ucs2_hex, gsm_decode, gsm_encode,
                               map_link, septets, ucs2_hex, utf16_units)

# Every code whose character differs from ASCII, from TS 23.038 §6.2.1.
GSM_NOT_ASCII = (
    (0x00, "@"), (0x01, "\u00a3"), (0x02, "$"), (0x03, "\u00a5"), (0x04, "\u00e8"),
    (0x05, "\u00e9"), (0x06, "\u00f9"), (0x07, "\u00ec"), (0x08, "\u00f2"), (0x09, "\u00c7"),
    (0x0A, "\n"), (0x0B, "\u00d8"), (0x0C, "\u00f8"), (0x0D, "\r"), (0x0E, "\u00c5"),
    (0x0F, "\u00e5"), (0x10, "\u0394"), (0x11, "_"), (0x12, "\u03a6"), (0x13, "\u0393"),
    (0x14, "\u039b"), (0x15, "\u03a9"), (0x16, "\u03a0"), (0x17, "\u03a8"), (0x18, "\u03a3"),
    (0x19, "\u0398"), (0x1A, "\u039e"), (0x1C, "\u00c6"), (0x1D, "\u00e6"), (0x1E, "\u00df"),
    (0x1F, "\u00c9"), (0x24, "\u00a4"), (0x40, "\u00a1"), (0x5B, "\u00c4"), (0x5C, "\u00d6"),
    (0x5D, "\u00d1"), (0x5E, "\u00dc"), (0x5F, "\u00a7"), (0x60, "\u00bf"), (0x7B, "\u00e4"),
    (0x7C, "\u00f6"), (0x7D, "\u00f1"), (0x7E, "\u00fc"), (0x7F, "\u00e0"),
)

# TS 23.038 §6.2.1.1: 0x1B + code
GSM_EXTENSION = (
    (0x0A, "\x0c"), (0x14, "^"), (0x28, "{"), (0x29, "}"), (0x2F, "\\"), (0x3C, "["),
    (0x3D, "~"), (0x3E, "]"), (0x40, "|"), (0x65, "\u20ac"),
)


def test_basic_table():
    special = dict(GSM_NOT_ASCII)
    seen = {}
    for code in range(128):
        if code == 0x1B:  # the escape is no character
            continue
        c = gsm_decode(bytes([code]))
        assert c == special.get(code, chr(code)), (hex(code), c)
        assert c not in seen, (hex(code), hex(seen.get(c, 0)))
        seen[c] = code
    assert len(seen) == 127


def test_basic_table_round_trip():
    for code in range(128):
        if code == 0x1B:
            continue
        c = gsm_decode(bytes([code]))
        assert septets(c) == 1
        if code == 0x1A:  # 'Ξ' would be Ctrl-Z, the end of a text-mode AT+CMGS: not sendable
            assert gsm_encode(c) is None
            continue
        assert gsm_encode(c) == bytes([code]), hex(code)
    text = ("Hei p\u00e5 deg! \u00c6\u00d8\u00c5 \u00e6\u00f8\u00e5 \u00c4\u00d6\u00dc\u00df "
            "\u00bf?\u00a1! @ \u00a3$\u00a5\u00a4 _\u00a7")
    data = gsm_encode(text)
    assert gsm_decode(data) == text
    assert len(data) == len(text)


def test_extension_table():
    for code, c in GSM_EXTENSION:
        assert gsm_decode(bytes([0x1B, code])) == c, hex(code)
        assert septets(c) == 2
        assert gsm_encode(c) is None  # the escape byte would cancel AT+CMGS
    assert gsm_decode(b"5 \x1b\x65 [x]") == "5 \u20ac \u00c4x\u00d1"  # '[' unescaped is 'Ä'
    assert gsm_decode(b"a\x1b\x3cb\x1b\x3e") == "a[b]"


# (bytes from a stranger, decoded) - never an exception
GSM_DECODE = (
    (b"", ""),
    (b"\x1b\x41", "?"),  # unknown escape: one '?' for the pair
    (b"\x1b\x0d", "?"),  # reserved (page break)
    (b"\x1b\x1b", "?"),  # reserved (second extension table)
    (b"\x1b\x1bA", "?A"),
    (b"A\x1b", "A?"),  # escape at the end
    (b"\x1b\x80A", "?A"),
    (b"\x80\xff", "??"),
    (b"Hei\xc3\xa5", "Hei??"),  # UTF-8 is not the GSM alphabet
    (bytearray(b"Hei"), "Hei"),
)


def test_gsm_decode_garbage():
    for data, want in GSM_DECODE:
        assert gsm_decode(data) == want, (data, gsm_decode(data))


GSM_ENCODE_NONE = ("\u20ac", "[", "a{b", "\u039e", "\u0141", "\U0001f600", "\x1b", "\x0c", "\t", "\u00ea")


def test_gsm_encode():
    assert gsm_encode("") == b""
    assert gsm_encode("Hei!\r\n") == b"Hei!\r\n"
    assert gsm_encode("@$") == b"\x00\x02"
    assert gsm_encode("\u00d8\u00f8\u00c5\u00e5\u00c6\u00e6") == b"\x0b\x0c\x0e\x0f\x1c\x1d"
    for text in GSM_ENCODE_NONE:
        assert gsm_encode(text) is None, text


# (text, septets)
SEPTETS = (
    ("", 0),
    ("abc", 3),
    ("\u20ac", 2),
    ("a[b]c", 7),
    ("^{}\\[~]|\u20ac\x0c", 20),
    ("\u039e", 1),  # in the alphabet, only not sendable in text mode
    ("\u00c6\u00d8\u00c5", 3),
    ("\u0141", None),
    ("\U0001f600", None),
    ("ok \u00ea", None),
    ("\x1b", None),
)


def test_septets():
    for text, want in SEPTETS:
        assert septets(text) == want, (text, septets(text))


# (text, UTF-16BE hex, UTF-16 units)
UCS2 = (
    ("", "", 0),
    ("A", "0041", 1),
    ("\u4f60\u597d123", "4F60597D003100320033", 5),  # the A76xx manual's example (hardware.md §1.5)
    ("\u00e9\u20ac", "00E920AC", 2),
    ("\u0141ucja", "014100750063006A0061", 5),
    ("\U0001f600", "D83DDE00", 2),  # emoji: a surrogate pair
    ("a\U0001f600b", "0061D83DDE000062", 4),
    ("\U0010ffff", "DBFFDFFF", 2),
    ("\U00010000", "D800DC00", 2),
    ("\uffff", "FFFF", 1),
)


def test_ucs2_round_trip():
    for text, hexs, units in UCS2:
        assert ucs2_hex(text) == hexs, (text, ucs2_hex(text))
        assert utf16_units(text) == units, text
        assert len(hexs) == 4 * units
        assert from_ucs2_hex(hexs) == text
        assert from_ucs2_hex(hexs.lower()) == text
        assert from_ucs2_hex(hexs.encode()) == text  # bytes as the modem sends them


# (hex, str): lone surrogates become U+FFFD
LONE_SURROGATES = (
    ("D83D", "\ufffd"),
    ("DE00", "\ufffd"),
    ("D83D0041", "\ufffdA"),
    ("0041D83D", "A\ufffd"),
    ("DE00D83D", "\ufffd\ufffd"),  # a pair the wrong way round
    ("D83DD83DDE00", "\ufffd\U0001f600"),
    ("D83DDE00DE00", "\U0001f600\ufffd"),
)

BAD_HEX = ("0", "004", "00410", "004100", "00G1", "0x41", " 041", "0041 ", "00 41", "+041", "-041",
           "00\u00e91", "0041\n", b"00\xff1", "\uff10\uff10\uff14\uff11")


def test_from_ucs2_hex_errors():
    for hexs, want in LONE_SURROGATES:
        assert from_ucs2_hex(hexs) == want, hexs
    for hexs in BAD_HEX:
        support.raises(ValueError, from_ucs2_hex, hexs)


def test_encode_sms_boundaries():
    assert encode_sms("a" * 160) == ("gsm", b"a" * 160)
    # 161 characters never fit UCS2's 70 units: too long either way
    support.raises(ValueError, encode_sms, "a" * 161)
    assert encode_sms("\u00c5" * 160) == ("gsm", b"\x0e" * 160)
    assert encode_sms("") == ("gsm", b"")
    # outside the basic table: UCS2 up to 70 units
    assert encode_sms("\u20ac" * 70) == ("ucs2", "20AC" * 70)
    support.raises(ValueError, encode_sms, "\u20ac" * 71)
    assert encode_sms("[" + "a" * 69) == ("ucs2", "005B" + "0061" * 69)
    support.raises(ValueError, encode_sms, "[" + "a" * 70)
    assert encode_sms("\U0001f600" * 35)[0] == "ucs2"  # 70 units
    support.raises(ValueError, encode_sms, "\U0001f600" * 35 + "a")  # 71 units in 36 characters
    kind, body = encode_sms("Hilsen \u0141ucja")  # one 'Ł' forces UCS2
    assert kind == "ucs2" and from_ucs2_hex(body) == "Hilsen \u0141ucja"
    assert encode_sms("\u039e")[0] == "ucs2"
    text = "SOS fra Ida: " + map_link(59923600, 10759200)
    assert encode_sms(text) == ("gsm", text.encode())


# (body as the modem sends it, dcs, text)
DECODE_BODY = (
    (b"Hei \x0e\x1b\x65", 0, "Hei \u00c5\u20ac"),
    (b"Hei", None, "Hei"),  # no dcs reported (AT+CSDH=0): default alphabet
    (b"\x80", 0, "?"),
    (b"004100F8", 8, "A\u00f8"),
    (b"004100f8", 8, "A\u00f8"),
    (b"D83DDE00", 8, "\U0001f600"),
    ("004100F8", 8, "A\u00f8"),  # a str body is taken as its bytes
    (b"", 8, ""),
    (b"004100F", 8, "004100F"),  # bad UCS2 hex: shown as printable ASCII
    (b"00G1", 8, "00G1"),
    (b"0041\xff\r", 8, "0041??"),
    (b"0041", 0x18, "A"),  # general group, class 0, UCS2
    (b"0041", 0x48, "A"),  # marked for automatic deletion, UCS2
    (b"0041", 0xE0, "A"),  # message waiting, store, UCS2
    (b"0041", 0x28, "0041"),  # compressed: cannot be decompressed, shown as data
    (b"48656A", 4, "48656A"),  # 8-bit data: the modem shows hex, kept as is
    (b"48\x00\x1b", 4, "48??"),
    (b"48656A", 0xF4, "48656A"),  # data coding / message class group, 8-bit
    (b"Hei\x0e", 0xF0, "Hei\u00c5"),  # the same group, GSM 7-bit
    (b"Hei\x0e", 0x0C, "Hei\u00c5"),  # reserved alphabet: read as the default (TS 23.038 §4)
    (b"Hei\x0e", 0x80, "Hei\u00c5"),  # reserved group: the same
    (b"Hei\x0e", 0xD0, "Hei\u00c5"),  # message waiting, GSM 7-bit
)


def test_decode_body():
    for body, dcs, want in DECODE_BODY:
        assert decode_body(body, dcs) == want, (body, dcs, decode_body(body, dcs))


# (lat, lon in micro-degrees, query)
MAP_LINKS = (
    (59923600, 10759200, "59.92360,10.75920"),  # Oslo: N/E
    (-33856784, 151215297, "-33.85678,151.21530"),  # Sydney: S/E
    (-22951916, -43210487, "-22.95192,-43.21049"),  # Rio: S/W
    (40689247, -74044502, "40.68925,-74.04450"),  # N/W
    (0, 0, "0.00000,0.00000"),
    (-4, 4, "0.00000,0.00000"),  # rounds to zero: no "-0.00000"
    (-5, 5, "-0.00001,0.00001"),  # halves away from zero
    (-15, 14, "-0.00002,0.00001"),
    (59999995, 179999994, "60.00000,179.99999"),  # the carry into the degrees
    (90000000, -180000000, "90.00000,-180.00000"),
    (-90000000, 180000000, "-90.00000,180.00000"),
)


def test_map_link():
    for lat, lon, q in MAP_LINKS:
        link = map_link(lat, lon)
        assert link == "https://maps.google.com/?q=" + q, (lat, lon, link)
        assert septets(link) == len(link) and gsm_encode(link) is not None  # stays GSM
