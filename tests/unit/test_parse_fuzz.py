"""Property test of the modem reply parsers: real +CPSI and +CGNSSINFO lines (hardware.md
§1.3, §1.4) mutated thousands of times. Whatever a broken or hostile modem prints, the parser
answers None, an object whose every value is in range (and that watchproto.position turns into
a frame Traccar's decoder accepts whole), or ValueError; nothing else. Wi-Fi scans with hostile
SSIDs, addresses and signal values likewise end in frames Traccar reads. Mutations come from
our own LCG, seeded, so CPython and MicroPython run the very same cases (no `random` module
needed)."""
import support  # noqa: F401  (virtual time first)
from firmware import clock, watchproto, wifi
from firmware.drivers import a76xx
from firmware.fix import Cell, Fix

ROUNDS = 2500  # per seed line

CPSI = (
    "+CPSI: LTE,Online,460-01,0x230A,175499523,318,EUTRAN-BAND3,1650,5,0,21,67,255,19",  # A76-ATM §4.2.9
    "+CPSI: LTE,Online,242-01,0x07DA,26383618,226,EUTRAN-BAND20,6300,5,5,26,58,53,13",  # the emulator
    "+CPSI: LTE NB-IOT,Online,460-11,0x5AE1,187212754,82,EUTRAN-BAND5,2506,0,0,-7,-115,-110,13",
    "+CPSI: GSM,Online,242-01,0x0C1F,12401,27 EGSM 900,-64,2110,42-42",
)
CGNSSINFO = (
    "+CGNSSINFO: 2,09,05,00,3113.330650,N,12121.262554,E,131117,091918.00,32.9,0.0,255.0,1.1,0.8,0.7",
    "+CGNSSINFO: 3,09,,03,00,22.6550274,N,114.0600586,E,230824,063956.00,83.9,0.000,,10.83,10.01,4.13,0",
    "+CGNSSINFO: 2,04,00,21.5012345,N,114.12345678,E,020924,094145.00,-34.0,1.403,,6.9,6.8,1.0,03",
    "+CGNSSINFO: ,,,,,59.9173000,N,10.7646000,E,,112414.00,75.9,,,,,,09",  # no date (issue #157)
    "+CGNSSINFO: ,,,,,,,,",
)
# what gets spliced in: characters and whole fields a garbled or odd modem could produce
_CHARS = "0123456789,.-+ xNSEW:A\"0"
_FIELDS = ("", "0", "-1", "99", "100", "255", "4294967296", "-4294967296", "99999999999999", "0x",
           "0xFFFFF", "1.5", ".", "-", "N", "S", "E", "W", "1e5", "9.9.9", "NaN", "000000",
           "320124", "290223", "235960.00", "999999.99", "18000.1", "1000.01", "360.0", "-0.5")
NOW = clock.from_parts(2026, 9, 14, 12, 0, 0)


class Lcg:
    def __init__(self, seed):
        self.x = seed & 0x7FFFFFFF

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


def mutate(line, r):
    """One to three random edits of the text after the line's prefix."""
    i = line.find(":") + 1
    head, body = line[:i], line[i:]
    for _ in range(1 + r.below(3)):
        k = r.below(7)
        f = body.split(",")
        if k == 0 and body:  # change a character
            j = r.below(len(body))
            body = body[:j] + _CHARS[r.below(len(_CHARS))] + body[j + 1:]
        elif k == 1 and body:  # drop a character
            j = r.below(len(body))
            body = body[:j] + body[j + 1:]
        elif k == 2:  # insert a character
            j = r.below(len(body) + 1)
            body = body[:j] + _CHARS[r.below(len(_CHARS))] + body[j:]
        elif k == 3:  # replace a field
            f[r.below(len(f))] = _FIELDS[r.below(len(_FIELDS))]
            body = ",".join(f)
        elif k == 4:  # drop a field
            del f[r.below(len(f))]
            body = ",".join(f)
        elif k == 5:  # duplicate a field
            j = r.below(len(f))
            f.insert(j, f[j])
            body = ",".join(f)
        else:  # swap two fields
            a, b = r.below(len(f)), r.below(len(f))
            f[a], f[b] = f[b], f[a]
            body = ",".join(f)
    return head + body


def _check_cell(c, line):
    assert isinstance(c, Cell), line
    assert 0 <= c.mcc <= 999 and 0 <= c.mnc <= 999, line
    assert 0 <= c.lac < 0x10000 and 0 <= c.cid < 0x10000000, line
    assert c.rssi == 0 or -140 <= c.rssi <= -40, line


def _check_fix(f, line):
    assert isinstance(f, Fix) and f.valid and f.source == "gnss", line
    assert -90000000 <= f.lat <= 90000000 and -180000000 <= f.lon <= 180000000, line
    assert f.lat or f.lon, line
    assert clock.from_parts(2000, 1, 1) <= f.t < clock.from_parts(2100, 1, 1), line
    y, mo, d, h, mi, s = clock.to_parts(f.t)
    assert 2000 <= y < 2100, line
    assert -1000 <= f.alt <= 18000 and 0 <= f.speed <= 18520 and 0 <= f.course < 360, line
    assert 0 <= f.sats <= 396 and 5 <= f.acc <= 1000, line  # 2 x HDOP 99.99 x 5 m


def _frame(fix, cell):
    text = watchproto.position("UD", fix, 50, 80, 0, 0, [cell] if cell else [])
    assert text.startswith("UD,") and "\r" not in text and "\n" not in text
    return _traccar_reads(text)


def _traccar_reads(text):
    """The content as Traccar decodes it: no exception (an exception closes the connection and
    the watch sends the frame again forever), a position, every cell and AP read."""
    from host_sim import traccar

    frame = watchproto.encode("SG", "862000012345674", text)
    assert watchproto.parse(frame).content.decode() == text
    p = traccar.decode_position(text)
    assert not p["network_ignored"], text
    return p


def _run(seeds, parse, check, seed0):
    r = Lcg(seed0)
    counts = {"none": 0, "value": 0, "error": 0}
    for i in range(ROUNDS * len(seeds)):
        line = mutate(seeds[i % len(seeds)], r)
        try:
            v = parse(line, r)
        except ValueError:
            counts["error"] += 1
            continue
        if v is None:
            counts["none"] += 1
            continue
        counts["value"] += 1
        check(v, line)
    return counts


def test_cpsi_fuzz():
    fix = Fix(NOW, 59917300, 10764600, True, 20, 0, 0, 9, 5, "gnss")

    def check(c, line):
        _check_cell(c, line)
        _frame(fix, c)

    counts = _run(CPSI, lambda line, r: a76xx.parse_cpsi(line), check, 20260914)
    # every outcome is exercised: the mutations are neither all harmless nor all fatal
    assert counts["value"] > 1000 and counts["error"] > 1000 and counts["none"] > 50, counts


def test_cgnssinfo_fuzz():
    cell = Cell(242, 1, 2010, 26383618, -82)

    def parse(line, r):
        return a76xx.parse_cgnssinfo(line, NOW if r.below(2) else None)

    def check(f, line):
        _check_fix(f, line)
        _frame(f, cell)

    counts = _run(CGNSSINFO, parse, check, 1579)
    assert counts["value"] > 1000 and counts["error"] > 1000 and counts["none"] > 1000, counts


def test_seed_lines_parse():
    # the unmutated lines are what the parsers are for
    for line in CPSI:
        _check_cell(a76xx.parse_cpsi(line), line)
    for line in CGNSSINFO[:4]:
        _check_fix(a76xx.parse_cgnssinfo(line, NOW), line)
    assert a76xx.parse_cgnssinfo(CGNSSINFO[4], NOW) is None


def test_wifi_scan_fuzz():
    """Hostile scans (any bytes as SSIDs, odd addresses, out-of-range or non-int signals, junk
    tuples) -> at most 8 APs, each read back by Traccar with its MAC and signal."""
    r = Lcg(777)
    cell = Cell(242, 1, 2010, 26383618, -82)
    fix = Fix(NOW, 59917300, 10764600, True, 20, 0, 0, 9, 5, "gnss")
    kept = 0
    for _ in range(400):
        entries = []
        for _ in range(r.below(30)):
            ssid = bytes([r.below(256) for _ in range(r.below(40))])
            n = 6 if r.below(8) else r.below(9)
            bssid = bytes([r.below(256) for _ in range(n)])
            rssi = (-r.below(140), r.below(50), "x", None, -50.5, True)[r.below(6) if r.below(3) == 0 else 0]
            entry = (ssid, bssid, r.below(14), rssi, r.below(10), False)
            if r.below(20) == 0:
                entry = entry[:r.below(6)]  # a short tuple
            entries.append(entry)
        aps = wifi.select(entries)  # malformed entries are dropped, never raised
        assert len(aps) <= 8
        kept += len(aps)
        p = _frame(fix, cell) if not aps else _traccar_reads(
            watchproto.position("UD", fix, 50, 80, 0, 0, [cell], wifi.block(aps)))
        assert len(p["wifis"]) == len(aps)
        for (mac, rssi), ap in zip(p["wifis"], aps):
            assert mac.replace(":", "") == ap[0] and rssi == ap[1]
    assert kept > 500  # most random addresses are multicast or locally administered: dropped
