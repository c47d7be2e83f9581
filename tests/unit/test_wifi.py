"""Wi-Fi scan (firmware/wifi.py): filtering, ranking, the radio switched off, the report block."""
import support
from firmware import clock, watchproto, wifi
from firmware.fix import Cell, Fix
from host_sim import traccar


class FakeWlan:
    """network.WLAN(STA_IF) as hardware.md §4 describes it: scan() needs the STA active."""

    def __init__(self, results=(), exc=None, off_exc=None):
        self.results = results
        self.exc = exc
        self.off_exc = off_exc
        self.on = False
        self.scans = 0

    def active(self, on=None):
        if on is None:
            return self.on
        self.on = on
        if not on and self.off_exc is not None:
            raise self.off_exc

    def scan(self):
        if not self.on:
            raise OSError("STA must be active")
        self.scans += 1
        if self.exc is not None:
            raise self.exc
        return self.results


def _b(*octets):
    return bytes(octets)


def _e(ssid, bssid, rssi, channel=6):
    return (ssid, bssid, channel, rssi, 3, False)


HOME = _b(0xA0, 0xB1, 0xC2, 0xD3, 0xE4, 0xF5)


def test_scan_returns_mac_rssi_ssid_and_turns_the_radio_off():
    w = FakeWlan([_e(b"Home", HOME, -52)])
    assert wifi.scan(w) == [("a0b1c2d3e4f5", -52, "Home")]
    assert w.on is False and w.scans == 1


def test_hostile_ssids_are_sanitised():
    rows = [
        _e(b"Home,Net[1]*}x", _b(0, 1, 2, 3, 4, 1), -50),
        _e("Caf\u00e9 \u2603".encode(), _b(0, 1, 2, 3, 4, 2), -51),
        _e(b"A" * 40, _b(0, 1, 2, 3, 4, 3), -52),
        _e(b"\x00\x01\xff\n\r", _b(0, 1, 2, 3, 4, 4), -53),
        _e(b"", _b(0, 1, 2, 3, 4, 5), -54),
        _e("str ssid,", _b(0, 1, 2, 3, 4, 6), -55),
        _e(None, _b(0, 1, 2, 3, 4, 7), -56),
    ]
    got = wifi.scan(FakeWlan(rows))
    assert [a[2] for a in got] == ["HomeNet1x", "Caf ", "A" * 32, "", "", "str ssid", ""]
    for ssid in [a[2] for a in got]:
        assert watchproto.sanitize(ssid) == ssid and len(ssid) <= watchproto.SSID_MAX


def test_bad_bssids_and_rssis_dropped():
    rows = [
        _e(b"short", _b(0, 1, 2, 3, 4), -50),
        _e(b"long", _b(0, 1, 2, 3, 4, 5, 6), -50),
        _e(b"zero", _b(0, 0, 0, 0, 0, 0), -50),
        _e(b"multicast", _b(0x01, 0, 0x5E, 0, 0, 1), -50),
        _e(b"broadcast", _b(0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF), -50),
        _e(b"str bssid", "a0b1c2d3e4f5", -50),
        _e(b"too weak", _b(0, 1, 2, 3, 4, 1), -121),
        _e(b"positive", _b(0, 1, 2, 3, 4, 2), 1),
        _e(b"float", _b(0, 1, 2, 3, 4, 3), -50.0),
        _e(b"bool", _b(0, 1, 2, 3, 4, 4), False),
        _e(b"none", _b(0, 1, 2, 3, 4, 5), None),
        (b"short tuple", _b(0, 1, 2, 3, 4, 6)),
        "not a tuple",
        None,
        _e(b"ok", bytearray(_b(0, 1, 2, 3, 4, 7)), -120),
        _e(b"ok0", _b(0, 1, 2, 3, 4, 8), 0),
    ]
    got = wifi.scan(FakeWlan(rows))
    assert got == [("000102030408", 0, "ok0"), ("000102030407", -120, "ok")]


def test_locally_administered_dropped():
    rows = [
        _e(b"AndroidAP", _b(0x02, 0x11, 0x22, 0x33, 0x44, 0x55), -40),  # phone hotspot
        _e(b"iPhone", _b(0xDA, 0x11, 0x22, 0x33, 0x44, 0x55), -41),  # 0xDA: bit 1 set
        _e(b"Mesh", _b(0x06, 0x11, 0x22, 0x33, 0x44, 0x55), -42),
        _e(b"Router", _b(0xDC, 0x11, 0x22, 0x33, 0x44, 0x55), -60),  # 0xDC: a real OUI
    ]
    assert wifi.scan(FakeWlan(rows)) == [("dc1122334455", -60, "Router")]


def test_nomap_dropped():
    rows = [
        _e(b"Home_nomap", _b(0, 1, 2, 3, 4, 1), -50),
        _e(b"Cafe_NOMAP", _b(0, 1, 2, 3, 4, 2), -50),
        _e(b"_nomap", _b(0, 1, 2, 3, 4, 3), -50),
        _e(b"nomap", _b(0, 1, 2, 3, 4, 4), -50),
        _e(b"x_nomap_not", _b(0, 1, 2, 3, 4, 5), -50),
    ]
    assert [a[2] for a in wifi.scan(FakeWlan(rows))] == ["nomap", "x_nomap_not"]


def test_duplicates_keep_strongest_sorted_and_capped():
    rows = [_e(b"n%d" % i, _b(0, 1, 2, 3, 4, i), -90 + i) for i in range(12)]
    rows += [_e(b"again", _b(0, 1, 2, 3, 4, 0), -30), _e(b"weaker", _b(0, 1, 2, 3, 4, 11), -95)]
    rows += [_e(b"tie", _b(0, 1, 2, 3, 4, 0x20), -79)]  # ties with n11 at -79: ordered by mac
    got = wifi.scan(FakeWlan(rows))
    assert len(got) == 8
    assert got[0] == ("000102030400", -30, "again")
    assert got[1] == ("00010203040b", -79, "n11")
    assert got[2] == ("000102030420", -79, "tie")
    assert [a[1] for a in got] == [-30, -79, -79, -80, -81, -82, -83, -84]
    assert len(wifi.scan(FakeWlan(rows), 3)) == 3
    assert wifi.scan(FakeWlan(rows), 0) == []
    assert len(wifi.scan(FakeWlan(rows), 100)) == 13
    # the same entries in another order give the same result
    assert wifi.scan(FakeWlan(list(reversed(rows)))) == got


def test_scan_that_raises_turns_the_radio_off_logs_once_and_returns_empty():
    for exc in (OSError(116), OSError("STA must be active"), RuntimeError("driver"), ValueError("x")):
        w = FakeWlan(exc=exc)
        with support.Events() as got:
            assert wifi.scan(w) == []
        assert w.on is False, exc
        assert len(got) == 1 and got[0][0] == "error" and got[0][1]["where"] == "wifi", got


def test_radio_that_will_not_turn_off_is_logged_never_raised():
    w = FakeWlan([_e(b"Home", HOME, -52)], off_exc=OSError(5))
    with support.Events() as got:
        assert wifi.scan(w) == []
    assert len(got) == 1 and got[0][1]["where"] == "wifi"
    w = FakeWlan(None)  # a driver returning None: logged, never raised
    with support.Events() as got:
        assert wifi.scan(w) == []
    assert len(got) == 1 and w.on is False


def test_empty_scan():
    w = FakeWlan([])
    with support.Events() as got:
        assert wifi.scan(w) == []
    assert got == [] and w.on is False


def test_block_is_accepted_by_watchproto_and_read_back_by_traccar():
    rows = [_e(b"Home,Net", HOME, -52), _e(b"[LG]*}", _b(0x00, 0x1E, 0x42, 0x25, 0x2F, 0x3E), -71)]
    aps = wifi.scan(FakeWlan(rows))
    blk = wifi.block(aps)
    assert blk == [("HomeNet", "a0:b1:c2:d3:e4:f5", -52), ("LG", "00:1e:42:25:2f:3e", -71)]
    fix = Fix(clock.from_parts(2026, 9, 14, 6, 5, 7), 59912345, 10754321, acc=12)
    content = watchproto.position("UD", fix, 60, 80, 0, 0, [Cell(242, 1, 3021, 1234567, -71)], blk)
    assert ",2,HomeNet,a0:b1:c2:d3:e4:f5,-52,LG,00:1e:42:25:2f:3e,-71,12" in content
    p = traccar.decode_position(content)
    assert p["wifis"] == [("a0:b1:c2:d3:e4:f5", -52), ("00:1e:42:25:2f:3e", -71)]
    assert wifi.block([]) == []


def test_similarity():
    a = [("000000000001", -50, "a"), ("000000000002", -60, "b"), ("000000000003", -70, "c")]
    assert wifi.similarity(a, a) == 100
    assert wifi.similarity(a, list(reversed(a))) == 100
    noisy = [("000000000001", -55, ""), ("000000000002", -57, ""), ("000000000003", -76, "")]
    assert wifi.similarity(a, noisy) == 100  # <= 6 dB is noise
    other = [("0000000000aa", -50, ""), ("0000000000bb", -60, "")]
    assert wifi.similarity(a, other) == 0
    assert wifi.similarity(a, []) == 0 and wifi.similarity([], []) == 0
    # weighted by signal: losing the weakest AP costs less than losing the strongest
    lost_weak = wifi.similarity(a, a[:2])
    lost_strong = wifi.similarity(a, a[1:])
    assert 100 > lost_weak > lost_strong > 0
    assert (lost_weak, lost_strong) == (110 * 100 // 150, 90 * 100 // 150)  # weights 60, 50, 40
    # symmetric, and falls as readings drift apart
    prev = 101
    for d in (0, 6, 10, 20, 29, 30, 40):
        b = [(m, r - d, s) for m, r, s in a]
        s = wifi.similarity(a, b)
        assert s == wifi.similarity(b, a)
        assert s <= prev
        prev = s
    assert prev == 0
    # a place's (mac, rssi) list compares with a scan's (mac, rssi, ssid)
    assert wifi.similarity([(m, r) for m, r, _ in a], a) == 100
    for x in (a, noisy, other, a[:2], a[1:]):
        for y in (a, noisy, other, a[:2], a[1:]):
            assert wifi.similarity(x, y) == wifi.similarity(y, x)
            assert 0 <= wifi.similarity(x, y) <= 100


def test_similarity_tells_moved_from_still():
    room = [("00000000000%d" % i, -45 - 6 * i, "") for i in range(8)]
    # the next scan in the same room: the weakest two gone, one new weak AP, a few dB off
    again = [(m, r + (3 if i % 2 else -4), "") for i, (m, r, _) in enumerate(room[:6])]
    again.append(("0000000000ff", -88, ""))
    assert wifi.similarity(room, again) >= wifi.STILL
    # 50 m away: the strongest three gone, the rest 12 dB weaker, new APs
    away = [(m, r - 12, "") for m, r, _ in room[3:]]
    away += [("0000000000e%d" % i, -50 - 5 * i, "") for i in range(3)]
    assert wifi.similarity(room, away) < wifi.STILL
