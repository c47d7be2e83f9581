"""Learned places (firmware/places.py): learning, matching, bounds, forgetting, flash format."""
import os
from binascii import crc32

import support
from firmware import fsutil, geo, places
from firmware.places import MAX_APS, MAX_PLACES, Places

LAT = 59912345
LON = 10745678
T = 800000000  # epoch-2000 seconds (2025)
DAY = 86400
KEEP = 30 * DAY


def _north(m):
    """micro-degrees of latitude for m metres."""
    return m * 1000000 // 111195


def _aps(tag, n=6, top=-45, step=6):
    """A scan of n APs with macs tagged by tag (0..255), strongest first."""
    return [("%02x00000000%02x" % (tag, i), top - step * i, "ap%d" % i) for i in range(n)]


def _path(d):
    return d + "/places.dat"


def _write(path, data):
    f = open(path, "wb")
    f.write(data)
    f.close()


def _all(p):
    return [p.place(i) for i in range(len(p))]


class _Writes:
    """Counts fsutil.atomic_write calls while inside (places.py calls it through the module)."""

    def __enter__(self):
        self.real = fsutil.atomic_write
        self.calls = []

        def counted(path, data):
            self.calls.append(path)
            self.real(path, data)

        fsutil.atomic_write = counted
        return self.calls

    def __exit__(self, *exc):
        fsutil.atomic_write = self.real
        return False


def test_learn_then_match_at_the_same_place():
    d = support.tmpdir("pl")
    p = Places(d, KEEP)
    assert p.match(_aps(1), T) is None
    assert p.learn(LAT, LON, 12, _aps(1), T) == 0
    assert len(p) == 1
    lat, lon, r, seen, aps = p.place(0)
    assert (lat, lon, r, seen) == (LAT, LON, 12, T)
    assert aps == [(m, rssi) for m, rssi, _ in _aps(1)]
    assert p.match(_aps(1), T + 600) == (LAT, LON, 12 + places.MATCH_ACC_M, 0, 100)
    assert p.place(0)[3] == T + 600  # seen refreshed
    # the scan's order and SSIDs do not matter
    assert p.match([(m, r, "x") for m, r, _ in reversed(_aps(1))], T + 700)[4] == 100


def test_learn_ignores_poor_fixes_and_thin_scans():
    p = Places(support.tmpdir("pl"), KEEP)
    assert p.learn(LAT, LON, places.LEARN_ACC_M + 1, _aps(1), T) is None
    assert p.learn(LAT, LON, -1, _aps(1), T) is None
    assert p.learn(LAT, LON, 5, _aps(1, 1), T) is None
    assert p.learn(LAT, LON, 5, [], T) is None
    # duplicates and invalid entries do not make up the two APs
    one = _aps(1, 1)
    assert p.learn(LAT, LON, 5, one + one + [("nothex", -50, ""), ("00000000000z", -50, "")], T) is None
    assert p.learn(LAT, LON, 5, one + [("000000000001", 5, "")], T) is None
    assert len(p) == 0
    assert p.learn(LAT, LON, places.LEARN_ACC_M, _aps(1, 2), T) == 0
    assert p.place(0)[2] == places.LEARN_ACC_M
    assert p.learn(LAT + _north(1000), LON, 0, _aps(2, 2), T) == 1
    assert p.place(1)[2] == places.R_MIN  # a radius is never below R_MIN
    assert Places(support.tmpdir("pl"), 0).learn(LAT, LON, 5, _aps(1), T) is None  # keeps nothing


def test_weaker_match_gives_larger_accuracy():
    p = Places(support.tmpdir("pl"), KEEP)
    full = _aps(1, 6)
    p.learn(LAT, LON, 15, full, T)
    best = p.match(full, T)
    assert best[4] == 100 and best[2] == 15 + 25
    prev = best
    for scan in (full[:5], full[:4], full[1:4], full[:2], full[2:5]):
        m = p.match(scan, T)
        assert m is not None, scan
        assert m[:2] == (LAT, LON) and m[3] == 0
        assert m[4] < 100 and m[2] > best[2]
        if m[4] <= prev[4]:
            assert m[2] >= prev[2]
        prev = m
    # readings 20 dB weaker: the same APs, a weaker score, a larger accuracy
    far = p.match([(m, r - 20, s) for m, r, s in full], T)
    assert far is not None and far[4] < 100 and far[2] > best[2]
    # every weaker score claims no better accuracy
    got = [p.match(scan, T) for scan in (full, full[:5], full[:4], full[:3], full[:2])]
    got = [m for m in got if m is not None]
    got.sort(key=lambda m: -m[4])
    for a, b in zip(got, got[1:]):
        assert a[2] <= b[2]


def test_no_match_with_unrelated_or_too_few_shared_aps():
    p = Places(support.tmpdir("pl"), KEEP)
    home = _aps(1, 6)
    p.learn(LAT, LON, 10, home, T)
    assert p.match(_aps(9, 6), T) is None
    assert p.match([], T) is None
    assert p.match(home[:1], T) is None  # one AP of a place that knows six
    assert p.match(home[:1] + _aps(9, 6), T) is None
    # two weak shared APs drowned by a room full of others: below MATCH_MIN
    assert p.match(home[4:6] + _aps(9, 8, -40, 3), T) is None
    assert p.place(0)[3] == T


def test_a_place_that_knows_one_ap_matches_it_alone():
    p = Places(support.tmpdir("pl"), KEEP)
    bus = ("0a0000000001", -50, "bus")
    p.learn(LAT, LON, 10, [bus, ("0a0000000002", -70, "")], T)
    # the bus's AP heard again 5 km away: it moved, so the first place no longer holds it
    p.learn(LAT + _north(5000), LON, 10, [bus, ("0b0000000001", -60, "")], T + 60)
    assert len(p) == 2
    assert p.place(0)[4] == [("0a0000000002", -70)]
    assert p.match([("0a0000000002", -75, "")], T + 120)[3] == 0
    assert p.match([("0a0000000002", -81, "")], T + 120) is None  # more than 10 dB off


def test_two_nearby_places_told_apart():
    p = Places(support.tmpdir("pl"), KEEP)
    shared = ("0c0000000001", -85, "street")
    a = _aps(1, 5) + [shared]
    b = _aps(2, 5) + [(shared[0], -80, "street")]
    lat_b = LAT + _north(120)
    assert p.learn(LAT, LON, 10, a, T) == 0
    assert p.learn(lat_b, LON, 10, b, T) == 1
    assert len(p) == 2
    ma = p.match(a, T + 60)
    mb = p.match(b, T + 60)
    assert ma[3] == 0 and ma[:2] == (LAT, LON)
    assert mb[3] == 1 and mb[:2] == (lat_b, LON)
    # a scan in between with most of A and a little of B: A
    assert p.match(a[:4] + b[3:], T + 60)[3] == 0
    # a fix 30 m from A merges into A, even with B's APs heard too
    assert p.learn(LAT + _north(30), LON, 10, a[:4] + b[4:], T + 120) == 0
    assert len(p) == 2
    assert 0 < p.place(0)[0] - LAT < _north(30)
    # GNSS first: a fix within MERGE_M of A is A even when the APs heard are B's, 80 m away
    assert p.learn(LAT + _north(40), LON, 10, b, T + 180) == 0
    assert len(p) == 2 and p.place(1)[:2] == (lat_b, LON)


def test_merge_moves_the_centre_and_old_places_still_adapt():
    p = Places(support.tmpdir("pl"), KEEP)
    aps = _aps(1)
    for i in range(20):  # fixes scattered +-8 m around LAT
        p.learn(LAT + _north(8 if i % 2 else -8), LON, 6, aps, T + i * 60)
    lat, lon, r, seen, _ = p.place(0)
    assert abs(lat - LAT) <= _north(3) and lon == LON
    assert places.R_MIN <= r <= 12
    assert seen == T + 19 * 60
    # the place itself moved 40 m (the fixes at the door, not the gate): it follows
    new = LAT + _north(40)
    for i in range(40):
        p.learn(new, LON, 6, aps, T + 3600 + i * 60)
    assert len(p) == 1
    assert geo.distance_m(p.place(0)[0], LON, new, LON) <= 2
    # a fingerprint this alike 150 m away is the same place too (a fix taken down the road)
    before = p.place(0)[0]
    assert p.learn(new + _north(150), LON, 6, aps, T + 9000) == 0
    assert len(p) == 1 and p.place(0)[0] > before


def test_ap_list_bounded_smoothed_and_faded():
    p = Places(support.tmpdir("pl"), KEEP)
    p.learn(LAT, LON, 10, _aps(1, 8), T)
    p.learn(LAT, LON, 10, [(m, r - 8, s) for m, r, s in _aps(1, 4)] + _aps(2, 4, -40), T + 60)
    aps = p.place(0)[4]
    assert len(aps) == MAX_APS
    assert aps[0] == ("020000000000", -40)  # new and strong
    assert ("010000000000", -47) in aps  # -45 then -53: smoothed 3:1
    rssis = [r for _, r in aps]
    assert rssis == sorted(rssis, reverse=True)
    assert len(set(m for m, _ in aps)) == MAX_APS
    # an AP never heard again fades out of the list
    for i in range(40):
        p.learn(LAT, LON, 10, _aps(2, 3, -40), T + 120 + i * 60)
    macs = [m for m, _ in p.place(0)[4]]
    assert macs == ["020000000000", "020000000001", "020000000002"]


def test_eviction_of_the_least_recently_seen():
    d = support.tmpdir("pl")
    p = Places(d, KEEP)
    for i in range(MAX_PLACES):
        assert p.learn(LAT + _north(1000 * i), LON, 10, _aps(i), T + i) == i
    assert len(p) == MAX_PLACES
    assert p.match(_aps(0), T + 100)[3] == 0  # place 0 seen again: place 1 is now the oldest
    assert p.learn(LAT - _north(5000), LON, 10, _aps(200), T + 200) == MAX_PLACES - 1
    assert len(p) == MAX_PLACES
    assert p.match(_aps(1), T + 300) is None
    assert p.match(_aps(0), T + 300)[:2] == (LAT, LON)
    assert p.match(_aps(200), T + 300)[:2] == (LAT - _north(5000), LON)
    assert len(Places(d, KEEP)) == MAX_PLACES


def test_forgetting():
    d = support.tmpdir("pl")
    p = Places(d, KEEP)
    p.learn(LAT, LON, 10, _aps(1), T)
    p.learn(LAT + _north(1000), LON, 10, _aps(2), T + 10 * DAY)
    assert p.forget(T + KEEP - 1) == 0
    assert p.forget(T + KEEP) == 1
    assert [x[0] for x in _all(p)] == [LAT + _north(1000)]
    assert [x[0] for x in _all(Places(d, KEEP))] == [LAT + _north(1000)]  # saved at once
    # seen refreshed by a match keeps a place
    p.match(_aps(2), T + 35 * DAY)
    assert p.forget(T + 50 * DAY) == 0
    # load with the time known forgets at once; learn and match forget too
    assert len(Places(d, KEEP, T + 100 * DAY)) == 0
    p = Places(d, KEEP)
    assert p.match(_aps(2), T + 100 * DAY) is None and len(p) == 0
    p = Places(d, KEEP)
    p.learn(LAT, LON, 10, _aps(1), T + 100 * DAY)
    assert len(p) == 1


def test_reload_from_flash_equals_before():
    d = support.tmpdir("pl")
    p = Places(d, KEEP)
    p.learn(LAT, LON, 10, _aps(1), T)
    p.learn(-33868820, 151209290, 25, _aps(2, 8), T + 5)  # southern and eastern
    p.learn(-33868820 - _north(3000), -179999990, 25, _aps(3, 2), T + 6)
    for i in range(10):
        p.learn(LAT + _north(i), LON - i, 7, _aps(1, 5, -50 + i), T + 60 * i)
    p.match(_aps(2, 8), T + 9999)
    p.flush()
    q = Places(d, KEEP)
    assert _all(q) == _all(p) and q.damaged == 0
    data = fsutil.read_bytes(_path(d))
    assert data.startswith(b"places 1\n") and data.count(b"\n") == 4
    # a place near the antimeridian keeps its longitude in range
    assert -180000000 <= q.place(2)[1] <= 180000000
    # flush with nothing changed writes nothing
    with _Writes() as w:
        q.flush()
    assert w == []


def _saved(d):
    p = Places(d, KEEP)
    for i in range(4):
        p.learn(LAT + _north(1000 * i), LON, 10, _aps(i, 3 + i), T + i)
    return fsutil.read_bytes(_path(d)), _all(p)


def test_truncated_or_garbled_file_loads_what_it_can():
    d = support.tmpdir("pl")
    data, want = _saved(d)
    lines = data.split(b"\n")
    assert len(lines) == 6 and lines[-1] == b""
    # a flipped bit in the second place's line, and a torn fifth line
    bad = bytearray(lines[2])
    bad[3] ^= 0x04
    garbled = b"\n".join(lines[:2] + [bytes(bad)] + lines[3:5]) + b"\n" + lines[4][:20]
    _write(_path(d), garbled)
    p = Places(d, KEEP)
    assert _all(p) == [want[0], want[2], want[3]]
    assert p.damaged == 2
    # a well-formed line (good CRC) with a field out of range, and plain junk
    body = b"91000000 0 10 1 1 000000000001:-50 000000000002:-60"
    out_of_range = body + b" %08x" % crc32(body)
    dup_body = b"1 2 10 1 1 000000000001:-50 000000000001:-60"
    dup = dup_body + b" %08x" % crc32(dup_body)
    junk = b"\xff\xfe junk\n\n"  # and an empty line
    _write(_path(d), lines[0] + b"\n" + out_of_range + b"\n" + dup + b"\n" + junk + lines[1] + b"\n")
    p = Places(d, KEEP)
    assert _all(p) == [want[0]] and p.damaged == 4
    # the next save rewrites the file clean
    p.flush()
    assert Places(d, KEEP).damaged == 0 and _all(Places(d, KEEP)) == [want[0]]
    # an unknown version is not read; a file over MAX_FILE is not read at all
    _write(_path(d), b"places 2\n" + b"\n".join(lines[1:]))
    p = Places(d, KEEP)
    assert len(p) == 0 and p.damaged == 1
    _write(_path(d), data + b"x" * places.MAX_FILE)
    p = Places(d, KEEP)
    assert len(p) == 0 and p.damaged == 1
    # a stale .tmp (a save cut short) is deleted; the file itself is the last good one
    _write(_path(d), data)
    _write(_path(d) + ".tmp", data[:30])
    assert _all(Places(d, KEEP)) == want
    assert not fsutil.exists(_path(d) + ".tmp")


def test_a_cut_at_every_byte_never_raises():
    d = support.tmpdir("pl")
    data, want = _saved(d)
    for cut in range(len(data) + 1):
        _write(_path(d), data[:cut])
        p = Places(d, KEEP)
        part = data[:cut]
        whole = part.count(b"\n") - 1 if part.startswith(b"places 1\n") else 0
        assert _all(p) == want[:whole], cut
        assert p.damaged == (0 if part.endswith(b"\n") else 1), cut
    # and a place learned after loading a cut file is saved with the rest
    _write(_path(d), data[:len(data) - 10])
    p = Places(d, KEEP)
    p.learn(LAT - _north(9000), LON, 10, _aps(99), T + 9)
    assert _all(Places(d, KEEP)) == want[:3] + [p.place(3)]


def test_a_file_of_many_short_lines_or_a_short_heap_is_loaded_without_raising():
    # Found by tests/fuzz (places, on MicroPython): 10 KB of short lines split into a list
    # raised MemoryError out of Places(): at boot on the ESP32, a reboot loop. Read line by
    # line now; and whatever loading raises for want of memory leaves the watch without places
    d = support.tmpdir("pl")
    data, want = _saved(d)
    _write(_path(d), data + b"x\n" * 4000)
    p = Places(d, KEEP)
    assert _all(p) == want and p.damaged == 4000
    real = fsutil.read_bytes

    def short(path, limit=-1):
        raise MemoryError("memory allocation failed, allocating 131072 bytes")

    fsutil.read_bytes = short
    try:
        with support.Events() as got:
            p = Places(d, KEEP)
    finally:
        fsutil.read_bytes = real
    assert len(p) == 0 and [k for k, f in got] == ["error"]


def test_learning_at_the_same_place_writes_flash_a_bounded_number_of_times():
    d = support.tmpdir("pl")
    p = Places(d, KEEP)
    with _Writes() as w:
        for i in range(100):  # a fix a minute for 100 minutes, jittering +-5 m and +-3 dB
            j = (i * 7) % 11 - 5
            p.learn(LAT + _north(j), LON + j, 8, [(m, r + j % 4 - 1, s) for m, r, s in _aps(1)], T + 60 * i)
    assert 1 <= len(w) <= 3, w  # created, then at most once an hour
    assert w == [_path(d)] * len(w) and p.writes == len(w)
    with _Writes() as w:
        for i in range(100):  # every 5 minutes for 8 h 20 min
            p.learn(LAT, LON, 8, _aps(1), T + 6000 + 300 * i)
    assert len(w) <= 9, w  # 8 h 20 min: at most one save an hour
    with _Writes() as w:  # a day of matches (a classroom) saves `seen` at most once
        for i in range(288):
            assert p.match(_aps(1, 4), T + 40000 + 300 * i) is not None
    assert len(w) <= 1, w
    # a move > SAVE_MOVE_M is saved at once
    with _Writes() as w:
        for i in range(10):
            p.learn(LAT + _north(300), LON, 8, _aps(1), T + 200000 + i)
    assert 1 <= len(w) <= 10
    p.learn(LAT + _north(300), LON, 8, _aps(1), T + 200020)
    p.flush()
    assert _all(Places(d, KEEP)) == _all(p)


def test_a_failing_flash_is_logged_not_raised():
    d = support.tmpdir("pl")
    p = Places(d, KEEP)
    real = fsutil.atomic_write

    def broken(path, data):
        raise OSError(28)  # ENOSPC

    fsutil.atomic_write = broken
    try:
        with support.Events() as got:
            assert p.learn(LAT, LON, 10, _aps(1), T) == 0
    finally:
        fsutil.atomic_write = real
    assert got and got[0][0] == "error" and got[0][1]["where"] == "places"
    assert len(p) == 1 and not fsutil.exists(_path(d))
    p.flush()  # still dirty: the next save writes it
    assert len(Places(d, KEEP)) == 1


def test_clear():
    d = support.tmpdir("pl")
    p = Places(d, KEEP)
    p.learn(LAT, LON, 10, _aps(1), T)
    assert fsutil.exists(_path(d))
    p.clear()
    assert len(p) == 0 and p.match(_aps(1), T) is None
    assert "places.dat" not in os.listdir(d)
    assert len(Places(d, KEEP)) == 0
    p.clear()  # twice is fine
