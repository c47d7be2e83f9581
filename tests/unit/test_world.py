"""The simulated world: route interpolation, sky, GNSS noise, cells, coverage and servers."""
import support
from fakepeer import RecordingConn, RecordingServer
from firmware import clock
from host_sim import world as W
from host_sim.fakes import machine as fm

VT = support.VT


def scenario(**kw):
    sc = {
        "start": "2026-09-13T22:00:00Z",
        "duration_s": 86400,
        "tz_offset_min": 120,
        "server": {"host": "tracker.trygg.test", "ip": "192.0.2.10", "port": 5093},
        "route": [
            {"at": "00:00", "place": "home", "lat": 59.9236, "lon": 10.7592, "sky": "indoor"},
            {"at": "07:45", "place": "home", "lat": 59.9236, "lon": 10.7592, "sky": "urban"},
            {"at": "08:00", "place": "school", "lat": 59.9170, "lon": 10.7640, "sky": "indoor"},
            {"at": "10:00", "place": "schoolyard", "lat": 59.9173, "lon": 10.7646, "sky": "open"},
            {"at": "25:30", "place": "home", "lat": 59.9236, "lon": 10.7592, "sky": "indoor"},
        ],
        "cells": [
            {"mcc": 242, "mnc": 1, "tac": 2010, "cid": 26383617, "lat": 59.9250, "lon": 10.7570, "rsrp": -78},
            {"mcc": 242, "mnc": 1, "tac": 2010, "cid": 26383618, "lat": 59.9160, "lon": 10.7660, "rsrp": -82},
        ],
        "events": [
            {"at": "12:00", "do": "no_coverage", "for_s": 600},
            {"at": "12:05", "do": "no_coverage", "for_s": 600},
            {"at": "15:00", "do": "server_down", "for_s": 1800},
            {"at": "09:07", "do": "modem_garbage"},
        ],
    }
    sc.update(kw)
    return sc


def fresh(**kw):
    fm.WIRING.reset()
    VT.reset()
    return W.World(scenario(**kw), VT)


H = 3600000
M = 60000


def test_offsets_and_clock():
    w = fresh()
    assert W.offset_ms("07:45") == 7 * H + 45 * M
    assert W.offset_ms("25:30:05") == 25 * H + 30 * M + 5000
    support.raises(ValueError, W.offset_ms, "7h45")
    support.raises(ValueError, W.offset_ms, "07:61")
    assert w.utc(0) == clock.from_parts(2026, 9, 13, 22, 0, 0)
    assert w.utc(1999) == w.utc(0) + 1
    VT.ms = 5000
    assert w.utc() == w.utc(0) + 5
    # 22:00 UTC + 2 h = midnight local, next day
    assert w.local_parts(0) == (2026, 9, 14, 0, 0, 0)
    assert w.local_parts(8 * H) == (2026, 9, 14, 8, 0, 0)


def test_interpolation_midway_on_a_walk():
    w = fresh()
    assert w.position_at(7 * H + 44 * M) == (59923600, 10759200, 0, 0, "indoor", "home")
    lat, lon, speed, course, sky, place = w.position_at(7 * H + 45 * M)
    assert (lat, lon, sky) == (59923600, 10759200, "urban")
    mid = w.position_at(7 * H + 52 * M + 30000)  # half way from home to school
    assert mid[0] == (59923600 + 59917000) // 2
    assert mid[1] == (10759200 + 10764000) // 2
    assert mid[4] == "urban"
    assert mid[5] == "home->school"
    # ~810 m in 15 min = 3.2 km/h, heading south-south-east
    assert 30 <= mid[2] <= 34, mid
    assert 150 <= mid[3] <= 165, mid
    assert w.position_at(8 * H)[:2] == (59917000, 10764000) and w.position_at(8 * H)[4] == "indoor"
    # after the last waypoint (25:30, beyond 24 h) the child stays there
    assert w.position_at(30 * H)[:2] == (59923600, 10759200)
    assert w.position_at(30 * H)[4] == "indoor"


def test_integer_geometry():
    assert W.isqrt(0) == 0 and W.isqrt(99) == 9 and W.isqrt(10 ** 12) == 10 ** 6
    assert W.cos_e6(0) == 1000000
    assert abs(W.cos_e6(60000000) - 500000) <= 1
    assert W.cos_e6(90000000) <= 1
    assert W.course_deg(0, 5) == 0
    assert W.course_deg(5, 0) == 90
    assert W.course_deg(0, -5) == 180
    assert W.course_deg(-5, 0) == 270
    assert W.course_deg(5, 5) == 45
    assert W.course_deg(-5, 5) == 315
    # 1 degree of latitude ~ 111.2 km
    assert abs(W.distance_mm(59000000, 10000000, 60000000, 10000000) - 111195000) < 1000


def test_gnss_indoor_none_and_noise_small():
    w = fresh()
    assert w.gnss_at(60000) is None  # at home, indoors
    g = w.gnss_at(10 * H + 60000)  # schoolyard, open sky
    assert g is not None
    assert abs(g["lat"] - 59917300) < 60 and abs(g["lon"] - 10764600) < 120, g  # a few metres
    assert 9 <= g["sats"] <= 12 and 8 <= g["hdop10"] <= 12
    u = w.gnss_at(7 * H + 50 * M)  # urban walk
    assert 5 <= u["sats"] <= 7 and 20 <= u["hdop10"] <= 35
    exact = w.position_at(7 * H + 50 * M)
    assert abs(u["lat"] - exact[0]) <= 300 and abs(u["lon"] - exact[1]) <= 500


def test_noise_deterministic_across_instances():
    a = fresh()
    b = W.World(scenario(), VT)
    ms = [10 * H + k * 7777 for k in range(40)]
    sa = [a.gnss_at(t) for t in ms]
    sb = [b.gnss_at(t) for t in reversed(ms)]
    sb.reverse()
    assert sa == sb  # same values whatever the order of queries
    assert len(set([g["lat"] for g in sa])) > 5  # and it does move
    c = W.World(scenario(seed=42), VT)
    assert [c.gnss_at(t) for t in ms] != sa


def test_sky_since():
    w = fresh()
    assert w.sky_since(60000) is None
    assert w.sky_since(7 * H + 50 * M) == 7 * H + 45 * M
    assert w.sky_since(11 * H) == 10 * H


def _cell_loss(w, ms, cell):
    """The distance loss of a scenario cell (index) at ms: 35 dB/decade beyond 100 m."""
    lat, lon = w.position_at(ms)[:2]
    c = w.cells[cell]
    d = W.distance_mm(lat, lon, c["lat"], c["lon"])
    return 0 if d <= 100000 else (35 * (W.log10_e3(d) - 5000) + 500) // 1000


def test_nearest_cell_and_indoor_loss():
    w = fresh()
    home = w.cell_at(60000)  # home is ~200 m from cell ...617, ~900 m from ...618
    assert home["cid"] == 26383617 and home["tac"] == 2010 and home["mcc"] == 242 and home["mnc"] == 1
    # was -78 - 10 (a fixed 10 dB indoors, 1 dB per 250 m): now the building's own loss and
    # 35 dB/decade beyond 100 m, +-4 dB of fading
    assert 10 <= w.indoor_db("home") <= 20
    quiet = -78 - _cell_loss(w, 60000, 0) - w.indoor_db("home")
    assert 6 <= _cell_loss(w, 60000, 0) <= 14  # ~200 m: ~10 dB
    assert abs(home["rsrp"] - quiet) <= 4, home
    assert fresh(cell_fade_db=0).cell_at(60000)["rsrp"] == quiet
    school = w.cell_at(10 * H + 60000)  # the schoolyard, open sky, ~165 m from ...618
    assert school["cid"] == 26383618
    assert abs(school["rsrp"] - (-82 - _cell_loss(w, 10 * H + 60000, 1))) <= 4, school


def test_coverage_windows():
    w = fresh()
    assert w.coverage_at(12 * H - 1)
    assert not w.coverage_at(12 * H)
    assert w.cell_at(12 * H + 6 * M) is None
    assert not w.coverage_at(12 * H + 14 * M)
    assert w.coverage_at(12 * H + 15 * M)
    assert w.coverage_changes() == [12 * H, 12 * H + 15 * M]  # overlapping windows merge
    assert w.server_down_at(15 * H + 10) and not w.server_down_at(15 * H + 30 * M)


def test_connect_rules():
    w = fresh()
    srv = RecordingServer()
    w.add_server("tracker.trygg.test", "192.0.2.10", 5093, srv)
    sent = []
    c = w.connect("tracker.trygg.test", 5093, "p", sent.append, None)
    assert isinstance(c, RecordingConn) and c.peer == "p"
    assert w.connect("192.0.2.10", 5093, "p", sent.append, None) is not None
    assert w.resolve("tracker.trygg.test") == "192.0.2.10"
    assert w.resolve("nowhere.test") is None
    assert w.connect("nowhere.test", 5093, "p", sent.append, None) is None
    assert w.connect("tracker.trygg.test", 80, "p", sent.append, None) is None
    VT.ms = 12 * H + 60000
    assert w.connect("tracker.trygg.test", 5093, "p", sent.append, None) is None  # no coverage
    VT.ms = 15 * H + 60000
    assert w.connect("tracker.trygg.test", 5093, "p", sent.append, None) is None  # server down
    VT.ms = 16 * H
    w.add_server("refuse.test", "192.0.2.11", 1, RecordingServer(refuse=True))
    assert w.connect("refuse.test", 1, "p", sent.append, None) is None


def test_default_cell_without_cells():
    w = fresh(cells=[])
    c = w.cell_at(0)
    assert c is not None and c["mcc"] == 242


def test_indoor_loss_differs_between_places():
    w = fresh(cell_fade_db=0)
    names = ["home", "school", "schoolyard", "park", "shop", "library", "grandma", "pool"]
    dbs = [w.indoor_db(n) for n in names]
    assert all(10 <= d <= 20 for d in dbs), dbs
    assert len(set(dbs)) >= 3, dbs  # not one figure for every building
    assert fresh().indoor_db("home") == w.indoor_db("home")  # fixed per place and seed
    # at home: indoors at 07:44, out of the door (same spot) at 07:45
    inside = w.cell_at(7 * H + 44 * M)["rsrp"]
    outside = w.cell_at(7 * H + 45 * M)["rsrp"]
    assert outside - inside == w.indoor_db("home")


def test_cells_fade_smoothly_and_cells_at():
    w = fresh()
    seen = set()
    prev = None
    for s in range(0, 1200):  # 20 min at home, 1 s apart
        c = w.cell_at(60000 + s * 1000)
        assert c["cid"] == 26383617
        seen.add(c["rsrp"])
        if prev is not None:
            assert abs(c["rsrp"] - prev) <= 2, (s, c, prev)  # no jumps
        prev = c["rsrp"]
    assert len(seen) >= 4  # and it does fade
    assert max(seen) - min(seen) <= 8
    # on the walk to school every cell is heard; strongest first, the serving cell first
    ms = 7 * H + 52 * M
    cs = w.cells_at(ms)
    assert cs[0] == w.cell_at(ms)
    assert [c["rsrp"] for c in cs] == sorted([c["rsrp"] for c in cs], reverse=True)
    assert all(c["rsrp"] >= -125 for c in cs[1:])
    assert set(cs[0]) == set(["mcc", "mnc", "tac", "cid", "rsrp"])
    assert w.cells_at(12 * H + 60000) == []  # no coverage
    # the serving cell is the strongest: between the two sites it changes hands
    cids = set([w.cell_at(7 * H + 45 * M + k * 5000)["cid"] for k in range(180)])
    assert cids == set([26383617, 26383618])


def _ap_table(w):
    return [(a.ssid, a.bssid, a.channel, a.tx, a.security, a.indoor, a.place, a.lat, a.lon, a.t0, a.t1)
            for a in w.aps]


def test_aps_generated_deterministically():
    a = fresh()
    b = W.World(scenario(), VT)
    assert _ap_table(a) == _ap_table(b) and len(a.aps) >= 4 * 3
    c = W.World(scenario(seed=42), VT)
    assert _ap_table(c) != _ap_table(a)
    bssids = [x.bssid for x in a.aps]
    assert len(set(bssids)) == len(bssids) and all(len(m) == 6 for m in bssids)
    for x in a.aps:
        if x.t0 is None:
            assert x.bssid[0] & 3 == 0  # globally administered, unicast
        else:
            assert x.bssid[0] & 3 == 2  # a phone's hotspot: locally administered
    # 4-7 in the buildings within 30 m of each named place
    for name, lat, lon in [("home", 59923600, 10759200), ("school", 59917000, 10764000)]:
        here = [x for x in a.aps if x.place == name]
        assert 4 <= len(here) <= 7, (name, len(here))
        assert all(W.distance_mm(lat, lon, x.lat, x.lon) <= 30100 and x.indoor for x in here)
    # shops along the ~810 m walk from home to school: one every ~120 m
    shops = [x for x in a.aps if x.place is None and x.t0 is None]
    assert len(shops) >= 2 * 6
    # 1-2 strangers' hotspots during the longest walk (schoolyard -> home, 10:00-25:30)
    phones = [x for x in a.aps if x.t0 is not None]
    assert 1 <= len(phones) <= 2
    assert all(10 * H <= x.t0 < x.t1 <= 25 * H + 30 * M for x in phones)
    assert W.World(scenario(aps=[]), VT).aps == []  # a world without Wi-Fi
    assert W.World(scenario(aps=[]), VT).wifi_at(60000) == []


def test_hostile_ssids_present():
    w = fresh()
    ssids = [x.ssid for x in w.aps]
    assert any(b"," in s for s in ssids)
    assert any(b"[" in s or b"*" in s for s in ssids)
    utf = [s for s in ssids if any(ch >= 0x80 for ch in s)]
    assert utf and utf[0].decode("utf-8")
    assert any(len(s) == 32 for s in ssids) and all(len(s) <= 32 for s in ssids)
    assert b"" in ssids
    assert any(s.endswith(b"_nomap") for s in ssids)
    # and the watch hears some of them where the child is
    heard = set()
    for k in range(0, 24 * 60, 10):
        for t in w.wifi_at(k * M):
            heard.add(t[0])
    assert len([s for s in heard if s in W._SSID_HOSTILE]) >= 3, heard


def test_wifi_scan_tuples_like_the_esp32():
    w = fresh()
    # at home, in the schoolyard, and on the walk to school (where there may be none)
    for ms in [60000, 3 * H, 10 * H + 60000] + [7 * H + 45 * M + k * 20000 for k in range(45)]:
        res = w.wifi_at(ms)
        assert res or 7 * H + 45 * M <= ms < 8 * H, ms
        chans = [t[2] for t in res]
        assert chans == sorted(chans)  # in channel order, not by strength
        for t in res:
            assert len(t) == 6
            ssid, bssid, ch, rssi, sec, hidden = t
            assert isinstance(ssid, bytes) and isinstance(bssid, bytes) and len(bssid) == 6
            assert 1 <= ch <= 13 and -92 <= rssi <= -20 and 0 <= sec <= 9 and hidden is False
    VT.ms = 60000
    assert w.wifi_at() == w.wifi_at(60000)


def _ap(ssid, bssid, lat, lon, **kw):
    a = {"ssid": ssid, "bssid": bssid, "lat": lat, "lon": lon}
    a.update(kw)
    return a


def _rssi(w, ms, ssid):
    for t in w.wifi_at(ms):
        if t[0] == ssid:
            return t[3]
    return None


def test_wifi_rssi_falls_with_distance_and_walls_cost():
    assert W.wifi_path_loss_db(0) == 0 and W.wifi_path_loss_db(1000) == 0
    assert W.wifi_path_loss_db(10000) == 30 and W.wifi_path_loss_db(100000) == 60
    assert W.wifi_path_loss_db(2000) == 9 and W.wifi_path_loss_db(50000) == 51
    lat, lon = 59.9236, 10.7592  # home: the child indoors until 07:45
    dlat = 0.000009  # ~1 m
    w = fresh(aps=[
        _ap("near", "00:11:22:33:44:01", lat + 2 * dlat, lon, place="home"),
        _ap("far", "00:11:22:33:44:02", lat + 40 * dlat, lon, place="home"),
        _ap("own", "00:11:22:33:44:03", lat + 5 * dlat, lon),  # within 30 m: home's
        _ap("neighbour", "00:11:22:33:44:04", lat + 5 * dlat, lon, place="next door"),
        _ap("street", "00:11:22:33:44:05", lat + 5 * dlat, lon, indoor=False),
    ])
    assert [a.place for a in w.aps] == ["home", "home", "home", "next door", None]
    diffs = {"walls": 0, "one": 0}
    n = 0
    for k in range(200):
        ms = 60000 + k * 10000
        near, far = _rssi(w, ms, b"near"), _rssi(w, ms, b"far")
        own, nb, street = _rssi(w, ms, b"own"), _rssi(w, ms, b"neighbour"), _rssi(w, ms, b"street")
        assert near is not None and own is not None and street is not None
        if far is not None:
            assert near > far  # 2 m vs 40 m: 39 dB apart, more than the fading
        assert -30 - 9 - 6 <= near <= -30 - 9 + 6
        assert -30 - 21 - 6 <= own <= -30 - 21 + 6  # same building: no wall
        assert -30 - 21 - 12 - 6 <= street <= -30 - 21 - 12 + 6  # the child's wall
        assert nb is None or -30 - 21 - 24 - 6 <= nb <= -30 - 21 - 24 + 6  # two walls
        if nb is not None:
            diffs["walls"] += own - nb
            n += 1
        diffs["one"] += own - street
    assert n > 100 and abs(diffs["walls"] // n - 24) <= 3
    assert abs(diffs["one"] // 200 - 12) <= 3
    # out of the door (urban sky from 07:45, still at the door): the home's APs are behind
    # one wall now
    out = 7 * H + 45 * M
    assert -30 - 21 - 12 - 6 <= _rssi(w, out, b"own") <= -30 - 21 - 12 + 6


def test_weak_aps_are_sometimes_missed():
    # standing in the schoolyard, open sky: an outdoor AP ~85 m away is at ~-88 dBm
    lat, lon = 59.9173, 10.7646
    w = fresh(route=[{"at": "00:00", "place": "schoolyard", "lat": lat, "lon": lon, "sky": "open"}],
              aps=[_ap("weak", "00:11:22:33:44:06", lat + 0.000765, lon, indoor=False),
                   _ap("strong", "00:11:22:33:44:07", lat + 0.00003, lon, indoor=False)])
    listed = 0
    for k in range(360):
        ms = 11 * H + k * 10000
        assert _rssi(w, ms, b"strong") is not None  # ~3 m: always there
        r = _rssi(w, ms, b"weak")
        if r is not None:
            listed += 1
            assert r >= -92
    assert 60 <= listed <= 300, listed  # weak: missed in many scans, not all


def test_moving_hotspot_only_in_its_window_and_near_the_child():
    w = fresh(aps=[{"ssid": "Galaxy A52 7F3C", "bssid": "da:a1:19:5c:20:01", "follows": "child",
                    "from": "07:46", "to": "07:55"}])
    assert _rssi(w, 7 * H + 46 * M - 1, b"Galaxy A52 7F3C") is None
    assert _rssi(w, 7 * H + 55 * M, b"Galaxy A52 7F3C") is None
    for k in range(54):  # every 10 s of the walk: within ~11 m, no wall
        r = _rssi(w, 7 * H + 46 * M + k * 10000, b"Galaxy A52 7F3C")
        assert r is not None and r >= -30 - 32 - 6, (k, r)
    dog = {"ssid": "x", "bssid": "da:a1:19:5c:20:01", "follows": "dog", "from": "07:46", "to": "07:55"}
    support.raises(ValueError, W.World, scenario(aps=[dog]), VT)
    support.raises(ValueError, W.World, scenario(aps=[_ap("x", "da:a1:19:5c:20", 59.9, 10.7)]), VT)
    # the generated ones too: present only in their window, strong, during the walk home
    g = fresh()
    for ph in [x for x in g.aps if x.t0 is not None]:
        assert _rssi(g, ph.t0 - 1, ph.ssid) is None and _rssi(g, ph.t1, ph.ssid) is None
        mid = (ph.t0 + ph.t1) // 2
        assert _rssi(g, mid, ph.ssid) >= -30 - 32 - 6


def test_fake_wlan_blocks_and_meters():
    from host_sim.energy import EnergyMeter
    from host_sim.fakes import network

    w = fresh()
    meter = EnergyMeter(VT)
    network.power_off()
    network.WIRING_SCAN, network.METER, network.SCANS = w.wifi_at, meter, 0
    try:
        wlan = network.WLAN(network.STA_IF)
        support.raises(OSError, wlan.scan)
        assert meter.state("wifi") == "off"
        VT.ms = 60000
        wlan.active(True)
        assert VT.ms == 60150 and meter.state("wifi") == "on" and wlan.active()
        res = wlan.scan()
        assert VT.ms == 60150 + 1560 and network.SCANS == 1
        assert res == w.wifi_at(VT.ms)
        assert meter.state("wifi") == "on"
        assert network.WLAN(network.STA_IF).active()  # one radio
        wlan.active(False)
        assert meter.state("wifi") == "off"
        assert meter.average_ua_of("wifi") == meter.rows[("wifi", "scan")][1] * 1710 // VT.ms
    finally:
        network.power_off()
        network.WIRING_SCAN, network.METER, network.SCANS = None, None, 0
