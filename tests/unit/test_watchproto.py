"""Watch protocol codec (firmware/watchproto.py) against watch-protocol.md and Traccar's samples."""
import support
from firmware import clock, watchproto as wp
from firmware.fix import Cell, Fix

# Traccar's WatchFrameDecoderTest: LK + UD + TKQ + LK in one TCP segment (§2)
LK = b"[3G*9705141740*0009*LK,0,0,53]"
UD = (b"[3G*9705141740*005A*UD,190723,190707,A,36.815109,N,10.1792312,E,8.24,127.9,21.0,5,100,53,0,0,"
      b"00000000,0,0,58.0]")
TKQ = b"[3G*9705141740*0003*TKQ]"
# ... and a UD whose SSID carries balanced brackets
UD_SSID = (b"[3G*880900242*013D*UD,120623,140020,A,48.949273,N, 4.3783060,E,18.56,43.8,0.0,12,100,76,"
           b"226120,0,00000000,2,255,204,8,3110,55025,146,3130,49297,124,5,BangingWifi,34:a1:ed:e1:91:4f,-71,"
           b"BAR WiFi,36:a2:e1:ed:a1:de,-72,NetworkWifi,26:de:a1:ed:e1:a0,-73,Fiber,36:a1:ed:e1:91:4f,-75,"
           b"[LG_Wall-Mount A/C]e725,66:a1:ed:e1:e7:25,-82,15.0]")


def _fix():
    return Fix(clock.from_parts(2026, 9, 14, 6, 5, 7), 59912345, 10754321, valid=True, alt=23, speed=123,
               course=271, sats=7, acc=12)


def test_encode_lengths_upper_case():
    assert wp.encode("SG", "8800000015", "LK,0,0,53") == b"[SG*8800000015*0009*LK,0,0,53]"
    assert wp.encode("3G", "4700609403", "bphrt,120,79,73,,,,") == b"[3G*4700609403*0013*bphrt,120,79,73,,,,]"
    assert wp.encode("3G", "4700186508", wp.lk(0, 10, 100)) == b"[3G*4700186508*000B*LK,0,10,100]"
    assert wp.encode("SG", "1", "LK") == b"[SG*1*0002*LK]"


def test_encode_index_variant():
    frame = wp.encode("ZJ", "014111001350304", "LK,0,0,19", index=0x34)
    assert frame == b"[ZJ*014111001350304*0034*0009*LK,0,0,19]"
    assert wp.encode("ZJ", "1", "LK", index="00ab") == b"[ZJ*1*00ab*0002*LK]"
    support.raises(ValueError, wp.encode, "ZJ", "1", "LK", index="12")
    support.raises(ValueError, wp.encode, "ZJ", "1", "LK", index=0x10000)


def test_encode_rejects_what_traccar_cannot_take():
    support.raises(ValueError, wp.encode, "SG", "1", "MESSAGE,h\u00e9")
    support.raises(ValueError, wp.encode, "SG", "1", "UD,a}b")  # raw '}' is an escape error (§2)
    support.raises(ValueError, wp.encode, "SG", "1", "UD,[x")  # unbalanced bracket breaks framing
    support.raises(ValueError, wp.encode, "SG", "1", "UD,x]")
    support.raises(ValueError, wp.encode, "SGX", "1", "LK")
    for maker in ("S}", "S*", "[G", "S]", "S\x7f"):  # Traccar unescapes the header too (tests/fuzz)
        support.raises(ValueError, wp.encode, maker, "1", "LK")
    assert wp.encode("a,", "1", "LK") == b"[a,*1*0002*LK]"
    support.raises(ValueError, wp.encode, "SG", "1*2", "LK")
    support.raises(ValueError, wp.encode, "SG", "", "LK")
    # balanced brackets are fine, and bytes go out as given (already escaped)
    assert wp.encode("SG", "1", "UD,[a]") == b"[SG*1*0006*UD,[a]]"
    assert wp.encode("SG", "1", b"TK,\x7d\x01") == b"[SG*1*0005*TK,\x7d\x01]"


def test_escape_vector_and_round_trip():
    raw = b"\x7d\x5b\x5d\x2c\x2a\xff"
    wire = b"\x7d\x01\x7d\x02\x7d\x03\x7d\x04\x7d\x05\xff"
    assert wp.escape(raw) == wire
    assert wp.unescape(b"TK,#!AMR" + wire) == b"TK,#!AMR" + raw
    data = bytes(range(256))
    assert wp.unescape(wp.escape(data)) == data
    assert b"[" not in wp.escape(data) and b"]" not in wp.escape(data)
    assert wp.unescape(b"plain") == b"plain"
    support.raises(wp.ProtocolError, wp.unescape, b"a}\x06")
    support.raises(wp.ProtocolError, wp.unescape, b"a}")
    support.raises(ValueError, wp.unescape, b"}]")


def test_sanitize():
    assert wp.sanitize("Home,Net[1]*}") == "HomeNet1"
    assert wp.sanitize("[LG_Wall-Mount A/C]e725") == "LG_Wall-Mount A/Ce725"
    assert wp.sanitize("caf\u00e9\t\n ok") == "caf ok"
    assert wp.sanitize(b"bytes\xffok") == "bytesok"
    assert wp.sanitize("x" * 100) == "x" * 32
    assert wp.sanitize("abcdef", 3) == "abc"
    assert wp.sanitize("") == ""


def test_lk():
    assert wp.lk(1234, 0, 87) == "LK,1234,0,87"


def test_position_canonical_exact():
    cells = [Cell(242, 1, 3021, 1234567, -71), Cell(242, 1, 3021, 1234568, -80), Cell(240, 8, 1, 2, -90)]
    wifis = [("Home,Net[1]", "AA:BB:CC:DD:EE:01", -60), ("", "00:11:22:33:44:55", -75)]
    s = wp.position("UD", _fix(), 80, 64, 1234, wp.STATUS_MOTION, cells, wifis)
    assert s == ("UD,140926,060507,A,59.912345,N,10.754321,E,12.30,271,23,7,80,64,1234,0,00000010,"
                 "2,0,242,1,3021,1234567,-71,3021,1234568,-80,"
                 "2,HomeNet1,aa:bb:cc:dd:ee:01,-60,,00:11:22:33:44:55,-75,12")


def test_position_south_west_invalid():
    f = Fix(clock.from_parts(2026, 1, 1, 0, 0, 0), -33868820, -70650000, valid=False, alt=-5, speed=5,
            course=-10, sats=0, acc=1500)
    s = wp.position("AL", f, 150, 5, 0, wp.STATUS_SOS, [Cell(730, 2, 29731, 54315, -67)])
    assert s == ("AL,010126,000000,V,33.868820,S,70.650000,W,0.50,350,-5,0,100,5,0,0,00010000,"
                 "1,0,730,2,29731,54315,-67,0,1500")
    # small values keep their leading zeros after the point
    f = Fix(0, -5, 7, speed=0)
    assert wp.position("UD_LTE", f, 0, 0, 0, 0, []).startswith(
        "UD_LTE,010100,000000,A,0.000005,S,0.000007,E,0.00,0,0,")


def test_position_without_cells_drops_wifi():
    # Traccar ignores the network block when its 4th field holds a hex letter (§6 step 1): with
    # no MCC/MNC in front, a MAC would be there, so the access points are not sent at all
    s = wp.position("UD", _fix(), 80, 64, 0, 0, [], [("x", "aa:bb:cc:dd:ee:ff", -50)])
    assert s.endswith(",0,00000000,0,0,12")
    assert "aa:bb" not in s


def test_position_bounds():
    f = _fix()
    support.raises(ValueError, wp.position, "UD", f, 0, 0, 0, 0x80000000, [])
    support.raises(ValueError, wp.position, "UD", f, 0, 0, 0, -1, [])
    assert ",7FFFFFFF," in wp.position("UD", f, 0, 0, 0, 0x7FFFFFFF, [])
    support.raises(ValueError, wp.position, "LK", f, 0, 0, 0, 0, [])
    support.raises(ValueError, wp.position, "UD", f, 0, 0, 0, 0, [Cell(1, 1, 1, 1 << 31, 0)])
    support.raises(ValueError, wp.position, "UD", f, 0, 0, 0, 0, [Cell(1, 1, 1, 1, 0)], [("a", "aa:bb", 0)])


def test_splitter_several_frames_in_one_chunk():
    s = wp.FrameSplitter()
    assert s.feed(LK + UD + TKQ + LK) == [LK, UD, TKQ, LK]
    assert s.garbage == 0 and s.overflows == 0


def test_splitter_partial_frames_across_feeds():
    s = wp.FrameSplitter()
    data = LK + UD + TKQ
    got = []
    for i in range(0, len(data), 7):
        got += s.feed(data[i:i + 7])
    assert got == [LK, UD, TKQ]
    assert s.feed(b"[SG*1*00") == []
    assert s.feed(b"02*CR]") == [b"[SG*1*0002*CR]"]


def test_splitter_nested_brackets_in_ssid():
    s = wp.FrameSplitter()
    assert s.feed(UD_SSID[:200]) == []
    assert s.feed(UD_SSID[200:] + LK) == [UD_SSID, LK]


def test_splitter_garbage_and_overflow():
    s = wp.FrameSplitter()
    assert s.feed(b"\r\nxx" + LK + b"\r\n") == [LK]
    assert s.garbage == 6
    assert s.feed(b"]" + TKQ) == [TKQ]
    assert s.garbage == 7
    s = wp.FrameSplitter(limit=64)
    assert s.feed(b"[" + b"x" * 100) == []
    assert s.overflows == 1
    assert s.feed(LK) == [LK]


def test_parse_without_and_with_index():
    f = wp.parse(b"[3G*4700186508*000B*LK,0,10,100]")
    assert (f.maker, f.dev_id, f.index, f.length, f.type) == ("3G", "4700186508", None, 11, "LK")
    assert f.fields == ["0", "10", "100"] and f.content == b"LK,0,10,100"
    f = wp.parse(b"[ZJ*014111001350304*0038*008a*UD,070318,021027,V]")
    assert (f.maker, f.dev_id, f.index, f.length, f.type) == ("ZJ", "014111001350304", "0038", 0x8A, "UD")
    assert f.fields == ["070318", "021027", "V"]
    f = wp.parse(b"[CS*1234567890*0002*CR]")
    assert (f.maker, f.type, f.fields) == ("CS", "CR", [])
    f = wp.parse(b"[SG*8800000015*0006*LZ,,+1]")
    assert f.type == "LZ" and f.fields == ["", "+1"]
    f = wp.parse(b"[SG*1*0005*RESET]")  # a wrong length is accepted, as Traccar does
    assert f.length == 5 and f.type == "RESET"


def test_parse_binary_voice_downlink():
    f = wp.parse(b"[CS*1234567890*000e*TK,#!AMR\x7d\x01\x7d\x02\x7d\x03\x7d\x04\x7d\x05\xff]")
    assert f.type == "TK" and f.fields == []
    assert f.payload == b"#!AMR\x7d\x5b\x5d\x2c\x2a\xff"
    assert f.content == b"TK," + f.payload


def test_parse_malformed():
    for bad in (b"", b"[]", b"SG*1*0002*LK]", b"[SG*1*0002*LK", b"[SG-1*0002*LK]", b"[SG**0002*LK]",
                b"[SG*1*00G2*LK]", b"[SG*1*0002LK]", b"[S\xffG*1*0002*LK]", b"[SG*\xc3\xa9*0002*LK]",
                b"[SG*1*0002*a}b]", b"[SG*1*000]"):
        support.raises(wp.ProtocolError, wp.parse, bad)


def test_encode_parse_round_trip():
    for content in ("LK", "UPLOAD,600", "MESSAGE,0074006500780074", "LZ,,+5.75"):
        f = wp.parse(wp.encode("SG", "9705141740", content))
        assert f.content == content.encode() and f.index is None
        f = wp.parse(wp.encode("ZJ", "9705141740", content, index=7))
        assert f.content == content.encode() and f.index == "0007"


def test_downlink_splitter_resyncs_after_noise():
    # garbage ending in an unfinished '[SG*x' must not swallow the acks that follow it
    sp = wp.FrameSplitter(4096, False)
    out = sp.feed(b"garbage]]\r\n[SG*x" + b"[SG*123*0002*LK]" + b"[SG*123*0002*LK]")
    assert out == [b"[SG*123*0002*LK]", b"[SG*123*0002*LK]"]
    assert sp.garbage > 0
    # Traccar's own rule (nested brackets count) would have waited for two more ']'
    assert wp.FrameSplitter().feed(b"[SG*x" + b"[SG*123*0002*LK]") == []


def test_downlink_splitter_bounds_an_endless_frame():
    sp = wp.FrameSplitter(4096, False)
    sp.feed(b"[SG*123*FFFF*" + b"A" * 5000)
    assert sp.overflows == 1
    assert sp.feed(b"[SG*123*0002*LK]") == [b"[SG*123*0002*LK]"]
