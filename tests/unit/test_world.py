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


def test_nearest_cell_and_indoor_loss():
    w = fresh()
    home = w.cell_at(60000)  # home is ~200 m from cell ...617, ~900 m from ...618
    assert home["cid"] == 26383617 and home["tac"] == 2010 and home["mcc"] == 242 and home["mnc"] == 1
    assert home["rsrp"] == -78 - 0 - 10, home  # indoors: 10 dB
    school = w.cell_at(10 * H + 60000)
    assert school["cid"] == 26383618
    assert -82 >= school["rsrp"] >= -86


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
