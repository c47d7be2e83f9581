"""Hypothesis strategies per fuzz target (CPython only): inputs built from the grammar of each
format, so values land near every range check (where the byte mutations of tools/fuzz.py
rarely do), then run through the same target and properties (tests/fuzz/targets_*.py).

A failure is shrunk by hypothesis and its smallest example written to the corpus
(tests/fuzz/corpus/<target>/), where both interpreters replay it from then on. Profiles:
conftest.py ("test" by default; `--hypothesis-profile=fuzz` for a long run)."""
import json
import struct
from binascii import crc32

from hypothesis import given
from hypothesis import strategies as st

import fuzzer
from firmware import config

_FAILED = {}  # target -> the last input that failed (hypothesis replays the smallest last)


def _check(name, data):
    t = fuzzer.get(name)
    label, sig, msg, ms = fuzzer.run_one(t, data)
    if sig is not None and not fuzzer.is_known(t, sig, msg):
        _FAILED[name] = data
        raise AssertionError("%s: %s\n  input %r" % (name, msg, data[:300]))
    return label


def _run(name, test):
    """Run a @given test; on failure keep its smallest example in the corpus."""
    _FAILED.pop(name, None)
    try:
        test()
    except AssertionError:
        if name in _FAILED:
            print("saved", fuzzer.save(name, _FAILED[name]))
        raise


def _ascii(alphabet=None, most=20):
    return st.text(alphabet or st.characters(min_codepoint=32, max_codepoint=126), max_size=most)


def _num(lo, hi, margin):
    """Integers around a range, its edges and beyond."""
    return st.one_of(st.integers(lo, hi), st.integers(lo - margin, hi + margin),
                     st.sampled_from((lo, hi, lo - 1, hi + 1, 0, -1, 2 ** 31, 2 ** 32)))


def _dec(ip, fp):
    """Decimal text with ip integer and fp fraction digits, signs and odd forms."""
    return st.one_of(
        st.builds(lambda i, f, neg: ("-" if neg else "") + str(i) + ("." + str(f) if f is not None else ""),
                  st.integers(0, 10 ** ip), st.one_of(st.none(), st.integers(0, 10 ** fp)), st.booleans()),
        st.sampled_from(("", ".", "-", "+1", "1e5", "NaN", "0x1", " 1", "1.", ".5")))


# ---- modem lines -----------------------------------------------------------------------------------

_EOL = st.sampled_from((b"\r\n", b"\r\n", b"\n", b"\r", b"", b"\r\r\n"))


@st.composite
def _urc_stream(draw):
    lines = draw(st.lists(st.one_of(
        st.sampled_from((b"RING", b"SMS DONE", b"*ATREADY: 1", b"RDY", b"VOICE CALL: BEGIN",
                         b"+CGNSSPWR: READY!", b"NO CARRIER", b"+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY")),
        st.builds(lambda p, a: p + a.encode(),
                  st.sampled_from((b"+CIPRXGET: 1,", b"+IPCLOSE: ", b"+RXDTMF: ", b"+CMTI: \"SM\",",
                                   b"VOICE CALL: END: ", b"+CLIP: ", b"+CLCC: ")),
                  _ascii(most=30)),
        st.builds(lambda hdr, n, body: b'+CMT: "+4791111111","","26/09/14,17:10:00+08",145,'
                  + hdr.encode() + b',"+4790002100",145,' + str(n).encode() + b"\r\n" + body,
                  st.sampled_from(("4,0,0", "4,0,8", "68,0,0", "4,0,4", "x,y,z")),
                  st.integers(-3, 5000), st.binary(max_size=300)),
        st.binary(max_size=40)), max_size=12))
    eols = draw(st.lists(_EOL, min_size=len(lines), max_size=len(lines)))
    return b"".join([b"\r\n" + ln + e for ln, e in zip(lines, eols)])


@given(_urc_stream())
def _at_engine(data):
    _check("at_engine", data)


def test_at_engine():
    _run("at_engine", _at_engine)


@given(_urc_stream())
def _a76xx_urc(data):
    _check("a76xx_urc", data)


def test_a76xx_urc():
    _run("a76xx_urc", _a76xx_urc)


@st.composite
def _transcript(draw):
    cmd = draw(st.sampled_from((b"AT+CSQ", b"AT+CMGL=\"ALL\"", b"AT+CMGR=1", b"AT+CIPRXGET=2,0,1460",
                                b"AT+CIPSEND=0,5", b"ATD+4791111111;", b"AT+CGSN", b"AT")))
    parts = [cmd + b"\r"]
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.integers(0, 5))
        if kind == 0:
            parts.append(b"\r\n" + draw(_ascii(most=60)).encode() + b"\r\n")
        elif kind == 1:
            n = draw(st.integers(-2, 5000))
            parts.append(b"\r\n+CIPRXGET: 2,0," + str(n).encode() + b",0\r\n" + draw(st.binary(max_size=200)))
        elif kind == 2:
            n = draw(st.integers(-2, 300))
            dcs = draw(st.sampled_from((b"0", b"8", b"4")))
            parts.append(b'\r\n+CMGL: 1,"REC UNREAD","+4791111111","","26/09/14,17:10:00+08",145,4,0,'
                         + dcs + b',"+4790002100",145,' + str(n).encode()
                         + b"\r\n" + draw(st.binary(max_size=200)))
        elif kind == 3:
            parts.append(b"\r\n> ")
        elif kind == 4:
            parts.append(draw(st.binary(max_size=30)))
        else:
            parts.append(b"\r\n" + draw(st.sampled_from((b"OK", b"ERROR", b"+CME ERROR: 13", b"+CMS ERROR: x",
                                                         b"NO CARRIER", b"BUSY", b"*ATREADY: 1"))) + b"\r\n")
    return b"".join(parts)


@given(_transcript())
def _at_cmd(data):
    _check("at_cmd", data)


def test_at_cmd():
    _run("at_cmd", _at_cmd)


@st.composite
def _cgnssinfo(draw):
    layout = draw(st.sampled_from((3, 4, 2)))  # satellite counts before lat
    f = [draw(st.sampled_from(("", "0", "1", "2", "3", "4", "x")))]
    f += [draw(st.one_of(st.just(""), st.integers(0, 120).map(str))) for _ in range(layout)]
    deg = draw(st.booleans())
    ddmm = lambda d, m, fr: "%d%02d.%d" % (d, m, fr)  # noqa: E731
    if deg:
        lat = draw(_dec(2, 9))
        lon = draw(_dec(3, 9))
    else:
        lat = draw(st.builds(ddmm, st.integers(0, 95), st.integers(0, 61), st.integers(0, 999999)))
        lon = draw(st.builds(ddmm, st.integers(0, 185), st.integers(0, 61), st.integers(0, 999999)))
    f += [lat, draw(st.sampled_from("NSEW ")), lon, draw(st.sampled_from("EWNS "))]
    date = st.builds(lambda d, m, y: "%02d%02d%02d" % (d, m, y), st.integers(0, 32), st.integers(0, 13),
                     st.integers(0, 99))
    utc = st.builds(lambda h, m, s, c: "%02d%02d%02d.%02d" % (h, m, s, c), st.integers(0, 25),
                    st.integers(0, 61), st.integers(0, 61), st.integers(0, 99))
    f.append(draw(st.one_of(st.just(""), date)))
    f.append(draw(st.one_of(st.just(""), utc)))
    for ip, fp in ((5, 2), (4, 3), (3, 2), (2, 2), (3, 2), (2, 2)):  # alt speed course PDOP HDOP VDOP
        f.append(draw(_dec(ip, fp)))
    f += draw(st.lists(st.sampled_from(("", "0", "09")), max_size=2))
    return ("+CGNSSINFO: " + ",".join(f)).encode()


@given(_cgnssinfo())
def _cgnss(data):
    _check("cgnssinfo", data)


def test_cgnssinfo():
    _run("cgnssinfo", _cgnss)


@st.composite
def _cpsi(draw):
    mode = draw(st.sampled_from(("LTE", "GSM", "LTE NB-IOT", "LTE CAT-M1", "NO SERVICE", "WCDMA")))
    f = [mode, "Online", "%s-%s" % (draw(_num(0, 999, 50)), draw(_num(0, 999, 50))),
         draw(st.one_of(_num(0, 0xFFFF, 0x100).map(lambda v: "0x%X" % v if v >= 0 else str(v)),
                        st.sampled_from(("", "0x", "zz", "0xFFFFFFFFF")))),
         str(draw(_num(0, 0xFFFFFFF, 0x100)))]
    if mode == "GSM":
        f += [draw(st.sampled_from(("27 EGSM 900", "1", ""))), str(draw(_num(-120, 63, 30))), "2110", "42-42"]
    else:
        rsrq, rsrp = str(draw(_num(-30, 0, 10))), str(draw(_num(-140, 97, 60)))
        f += ["226", "EUTRAN-BAND20", "6300", "5", "5", rsrq, rsrp,
              draw(st.sampled_from(("255", "4294967296", "-70"))), "13"]
    return ("+CPSI: " + ",".join(f[:draw(st.integers(1, len(f)))])).encode()


@given(_cpsi())
def _cpsi_t(data):
    _check("cpsi", data)


def test_cpsi():
    _run("cpsi", _cpsi_t)


@st.composite
def _sms(draw):
    prefix = draw(st.sampled_from(('+CMT: ', '+CMGR: "REC UNREAD",', '+CMGL: 3,"REC READ",')))
    oa = draw(st.one_of(_ascii("0123456789+", 20), st.just("Telenor"), _ascii(most=10)))
    fo = draw(st.sampled_from((4, 68, 0, 255, -1)))
    dcs = draw(st.one_of(st.integers(0, 255), st.just(-1), st.just(2 ** 40)))
    body = draw(st.binary(max_size=400))
    n = draw(st.one_of(st.just(len(body)), st.integers(-5, 5000)))
    line = '%s"%s","","26/09/14,17:10:00+08",%d,%d,0,%d,"+4790002100",145,%d' % (prefix, oa, 145, fo, dcs, n)
    return line.encode() + b"\n" + body


@given(_sms())
def _sms_t(data):
    _check("sms_urc", data)


def test_sms_urc():
    _run("sms_urc", _sms_t)


@st.composite
def _call(draw):
    number = draw(st.one_of(_ascii("0123456789+*#", 20), _ascii(most=12)))
    if draw(st.booleans()):
        line = '+CLIP: "%s",%s,,,"%s",%s' % (number, draw(_num(0, 255, 10)), draw(_ascii(most=8)),
                                             draw(st.sampled_from(("0", "1", "2", "", "x"))))
    else:
        cid, mt, stat = draw(_num(0, 7, 3)), draw(_num(0, 1, 2)), draw(_num(0, 6, 3))
        line = '+CLCC: %s,%s,%s,0,0,"%s",%s,""' % (cid, mt, stat, number, draw(_num(0, 255, 10)))
    return line.encode()


@given(_call())
def _call_t(data):
    _check("call_urc", data)


def test_call_urc():
    _run("call_urc", _call_t)


@st.composite
def _scan(draw):
    out = b""
    for _ in range(draw(st.integers(0, 30))):
        ssid = draw(st.one_of(st.binary(max_size=40), st.sampled_from((b"x_nomap", b"Y_NoMap", b"a,b[c]}*"))))
        bssid = draw(st.one_of(st.binary(min_size=6, max_size=6),
                               st.sampled_from((b"\x00" * 6, b"\x01\x02\x03\x04\x05\x06", b"\x02" * 6))))
        shape = draw(st.integers(0, 255))
        bl = 6 if shape & 0x40 == 0 else 0xF0 + draw(st.integers(0, 8))
        if bl != 6:
            bssid = draw(st.binary(max_size=8))
        out += bytes([shape, len(ssid)]) + ssid + bytes([bl]) + bssid
        out += bytes([draw(st.integers(0, 255)) for _ in range(4)])
    return out


@given(_scan())
def _scan_t(data):
    _check("wifi_scan", data)


def test_wifi_scan():
    _run("wifi_scan", _scan_t)


# ---- SMS text, guardians' commands, the server's downlink --------------------------------------------

_UNITS = st.one_of(st.integers(0, 0xFFFF), st.sampled_from((0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xFFFD, 0x1B, 0)))


@st.composite
def _smsbody(draw):
    dcs = draw(st.integers(0, 255))
    if draw(st.booleans()):
        body = "".join(["%04X" % u for u in draw(st.lists(_UNITS, max_size=90))]).encode()
        body = body[:draw(st.integers(0, len(body)))] if draw(st.booleans()) else body
    else:
        body = draw(st.binary(max_size=200))
    return bytes([dcs]) + body


@given(_smsbody())
def _smsbody_t(data):
    _check("smscodec", data)


def test_smscodec():
    _run("smscodec", _smsbody_t)


def _as_sms_bytes(text):
    """sms_text() in reverse: Latin-1 after 0xFE, else UTF-16 units after 0xFF."""
    if all(ord(c) < 256 for c in text):
        return b"\xfe" + bytes([ord(c) for c in text])
    return b"\xff" + b"".join([struct.pack(">H", ord(c)) for c in text if ord(c) <= 0xFFFF])


_WORD = st.text(max_size=16)
_NUMBER = st.one_of(_ascii("0123456789 +-.()", 20),
                    st.sampled_from(("+4791111111", "92222222", "+4793333333", "")))


@st.composite
def _sms_cmd(draw):
    name = draw(st.sampled_from(("where", "interval", "add", "remove", "school", "sos", "cancel", "status",
                                 "help", "zone", "zonedel", "zones", "lowbat", "monitor", "Add", "ZONE")))
    words = st.sampled_from(("guardian+sos", "friend", "on", "off", "auto"))
    args = draw(st.lists(st.one_of(_NUMBER, _WORD, st.integers(-100, 100000).map(str), _dec(2, 7), words),
                         max_size=10))
    pin = draw(st.sampled_from(("4711", "4712", "", "47110", " 4711 ")))
    text = "%s,%s,%s%s" % (draw(st.sampled_from(("pw", "PW", " pw ", "pw2"))), pin, ",".join([name] + args),
                           draw(st.sampled_from(("#", "", "##", " # "))))
    return _as_sms_bytes(text)


@given(_sms_cmd())
def _sms_cmd_t(data):
    _check("sms_command", data)


def test_sms_command():
    _run("sms_command", _sms_cmd_t)


_ID = "862000012345674"


@st.composite
def _frames(draw):
    out = b""
    for _ in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from((
            "CR", "UPLOAD", "SOS1", "SOS", "SOSSMS", "LOWBAT", "REMIND", "PHB", "MESSAGE", "LZ", "FLOWER",
            "WHITELIST1", "WORK", "WORKTIME", "CENTER", "CONTACT", "CONTACTDEL", "CONTACTS", "SCHOOL",
            "SCHOOLTIME", "TZRULE", "STATUS", "LOWBATLEVEL", "ZONE", "ZONEDEL", "ZONES", "SILENCETIME",
            "FACTORY", "TK", "LK", "AL", "X")))
        hexes = st.lists(_UNITS, max_size=8).map(lambda u: "".join("%04X" % x for x in u))
        ints = st.integers(-10, 100000).map(str)
        args = draw(st.lists(st.one_of(_NUMBER, _ascii(most=12), ints, _dec(3, 7), hexes), max_size=9))
        content = ",".join([name] + args).encode()
        if name == "TK":
            content = b"TK," + draw(st.binary(max_size=60))
        index = draw(st.one_of(st.none(), st.sampled_from(("0001", "FFFF", "", "XYZ", "00000")),
                               st.integers(0, 0xFFFF).map(lambda v: "%04x" % v)))
        maker = draw(st.sampled_from(("SG", "3G", "CS", "**", "a,", "  ")))
        dev = draw(st.sampled_from((_ID, _ID, "1", "")))
        head = "[%s*%s*" % (maker, dev) + ("" if index is None else index + "*")
        out += head.encode() + b"%04X*" % len(content) + content + b"]"
        out += draw(st.sampled_from((b"", b"", b"junk", b"\r\n", b"[", b"]")))
    return out


@given(_frames())
def _frames_t(data):
    _check("downlink", data)


def test_downlink():
    _run("downlink", _frames_t)


# ---- files on flash ------------------------------------------------------------------------------------

_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2 ** 40, 2 ** 40), st.text(max_size=12),
              st.floats(allow_nan=False)),
    lambda kids: st.one_of(st.lists(kids, max_size=4),
                           st.dictionaries(st.text(max_size=8), kids, max_size=4)),
    max_leaves=12)


def _setting(key):
    d = config.DEFAULTS[key]
    lo, hi = config._RANGES.get(key, (-5, 5))
    if type(d) is bool:
        v = st.booleans()
    elif type(d) is int:
        v = _num(lo, hi, 100)
    elif type(d) is str:
        v = st.one_of(_ascii(most=30), st.text(max_size=10),
                      st.sampled_from(("", "4711", "47", "EU", "auto", "on", "watch", "SG", "3G", "x y")))
    else:
        items = st.sampled_from(("Mo-Fr 08:00-14:00", "08:10-1-1", "6-9", "22-6"))
        v = st.lists(st.one_of(_ascii(most=24), items), max_size=10)
    return st.one_of(v, _JSONISH)


@st.composite
def _config(draw):
    keys = draw(st.lists(st.sampled_from(sorted(config.DEFAULTS)), unique=True, max_size=12))
    d = {k: draw(_setting(k)) for k in keys}
    if draw(st.booleans()):
        d["unknown"] = 1
    data = json.dumps(d).encode()
    if draw(st.integers(0, 3)) == 0:
        data = data[:draw(st.integers(0, len(data)))]
    return data


@given(_config())
def _config_t(data):
    _check("config", data)


def test_config():
    _run("config", _config_t)


def _record(seq, payload):
    h = struct.pack("<BHI", 0xA5, len(payload), seq)
    return h + struct.pack("<I", crc32(payload, crc32(h))) + payload


@st.composite
def _outbox(draw):
    seq = draw(st.integers(1, 50))
    files = []
    for segno in sorted(draw(st.sets(st.integers(0, 12), max_size=5))):
        recs = b""
        for _ in range(draw(st.integers(0, 5))):
            seq += draw(st.sampled_from((1, 1, 1, 2, 0, -1, -3)))
            recs += _record(max(seq, 0) & 0xFFFFFFFF, draw(_ascii(most=40)).encode() or b"x")
        k = draw(st.integers(0, 4))
        if k == 1 and recs:  # torn
            recs = recs[:draw(st.integers(0, len(recs)))]
        elif k == 2 and recs:  # a flipped bit
            i = draw(st.integers(0, len(recs) - 1))
            recs = recs[:i] + bytes([recs[i] ^ (1 << draw(st.integers(0, 7)))]) + recs[i + 1:]
        elif k == 3:
            recs += draw(st.binary(max_size=20))
        name = "%d.log" % segno
        if draw(st.integers(0, 9)) == 0:
            name = draw(st.sampled_from(("00.log", "x.log", "%d.tmp" % segno)))
        files.append((name, recs))
    acked = draw(st.integers(0, max(seq, 0) + 2))
    nums = b"%d 0 0" % acked
    good = b"h " + nums + b" %d\n" % crc32(nums)
    head = draw(st.sampled_from((good, nums + b"\n", b"h " + nums + b" 1\n", b"")))
    files.append(("head", head))
    return b"".join([b"\n=== " + n.encode() + b"\n" + c for n, c in draw(st.permutations(files))])


@given(_outbox())
def _outbox_t(data):
    _check("outbox", data)


def test_outbox():
    _run("outbox", _outbox_t)


@st.composite
def _places(draw):
    lines = [b"places 1"]
    for _ in range(draw(st.integers(0, 26))):
        aps = draw(st.lists(st.tuples(st.one_of(st.binary(min_size=6, max_size=6).map(lambda b: b.hex()),
                                                _ascii("0123456789abcdefABCDEF:", 13)),
                                      _num(-120, 0, 10)), max_size=9))
        body = "%d %d %d %d %d" % (draw(_num(-90000000, 90000000, 10)), draw(_num(-180000000, 180000000, 10)),
                                   draw(_num(10, 2000, 10)), draw(_num(0, 10 ** 9, 10)), draw(_num(1, 8, 2)))
        body = (body + "".join([" %s:%d" % a for a in aps])).encode()
        crc = crc32(body) if draw(st.integers(0, 5)) else draw(st.integers(0, 2 ** 32 - 1))
        lines.append(body + b" %08x" % crc)
    data = b"\n".join(lines) + b"\n"
    if draw(st.integers(0, 4)) == 0:
        data = data[:draw(st.integers(0, len(data)))]
    return data


@given(_places())
def _places_t(data):
    _check("places", data)


def test_places():
    _run("places", _places_t)


_POINT = st.tuples(_num(-90000000, 90000000, 10), _num(-180000000, 180000000, 10))


@st.composite
def _zones(draw):
    out = []
    for _ in range(draw(st.integers(0, 9))):
        name = draw(st.one_of(_ascii(most=22), st.sampled_from(("home", "Home", " x", "a,b"))))
        if draw(st.booleans()):
            lat, lon = draw(_POINT)
            z = {"name": name, "lat": lat, "lon": lon, "r": draw(_num(20, 50000, 10))}
        else:
            lat, lon = draw(_POINT)
            pts = [[lat + draw(st.integers(-500000, 500000)), lon + draw(st.integers(-500000, 500000))]
                   for _ in range(draw(st.integers(0, 34)))]
            z = {"name": name, "poly": pts}
        if draw(st.integers(0, 9)) == 0:
            z[draw(st.sampled_from(("r", "lat", "poly", "x")))] = draw(_JSONISH)
        out.append(z)
    return json.dumps(out).encode()


@given(_zones())
def _zones_t(data):
    _check("zones", data)


def test_zones():
    _run("zones", _zones_t)


@given(st.dictionaries(st.one_of(st.sampled_from(("home", "school", "x")), st.text(max_size=5)),
                       st.one_of(st.sampled_from(("in", "out", "IN", "")), _JSONISH), max_size=5)
       .map(lambda d: json.dumps(d).encode()))
def _zones_json_t(data):
    _check("zones_json", data)


def test_zones_json():
    _run("zones_json", _zones_json_t)


@st.composite
def _contacts(draw):
    out = []
    for _ in range(draw(st.integers(0, 8))):
        c = {"name": draw(st.one_of(st.text(max_size=34), st.sampled_from(("Mamma", "a,b", "")))),
             "number": draw(st.one_of(_NUMBER, st.text(max_size=34))),
             "roles": draw(st.lists(st.sampled_from(("guardian", "sos", "friend", "x")), max_size=4))}
        if draw(st.integers(0, 9)) == 0:
            c[draw(st.sampled_from(("name", "number", "roles", "extra")))] = draw(_JSONISH)
        out.append(c)
    return json.dumps(out).encode()


@given(_contacts())
def _contacts_t(data):
    _check("contacts", data)


def test_contacts():
    _run("contacts", _contacts_t)


@given(st.one_of(_NUMBER, st.text(max_size=24)).map(lambda s: bytes([ord(c) & 0xFF for c in s])))
def _phone_t(data):
    _check("phone_number", data)


def test_phone_number():
    _run("phone_number", _phone_t)


@given(_JSONISH.map(lambda v: json.dumps(v).encode()))
def _state_t(data):
    _check("state_files", data)


def test_state_files():
    _run("state_files", _state_t)


def test_every_target_has_a_strategy():
    names = [n[5:] for n in globals() if n.startswith("test_") and n != "test_every_target_has_a_strategy"]
    assert sorted(names) == sorted([t.name for t in fuzzer.targets()])
