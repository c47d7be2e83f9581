"""Honest positions and safe zones on the default school day (issue 7), on both interpreters:
how far each report is from the truth, whether its accuracy covers that, every zone crossing
alerted within 60 s with exactly one alarm bit, and no more rows in Traccar than reports."""
import json
import os

import pytest

from firmware import geo, zones
from host_sim import traccar

SCENARIO = os.path.join(os.path.dirname(__file__), "..", "..", "host_sim", "scenarios", "school_day.json")
INTERPRETERS = ["python", "micropython"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_reports_are_near_the_truth_and_say_how_near(sim, interp):
    s = sim("school_day", interp).summary
    n = s["reports_delivered"]
    assert s["position_error_m"]["p95"] <= 50, s["position_error_m"]
    assert s["accuracy_exceeded"] * 100 <= 5 * n, (s["accuracy_exceeded"], n)
    src = s["reports_by_source"]
    assert sum(src.values()) == s["reports_queued"]
    # the watch knows where it is from GNSS on the walks, from learned places indoors
    assert src.get("gnss", 0) >= 20 and src.get("place", 0) >= 50, src


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_every_zone_crossing_is_alerted_within_a_minute(sim, interp):
    run = sim("school_day", interp)
    s = run.summary
    # home -> school, school -> home, home -> park -> home: six true crossings
    assert s["zone_crossings"] == 6
    assert s["zone_alerts_missed"] == 0 and s["zone_alerts_extra"] == 0
    assert s["zone_alert_latency_s"]["worst"] <= 60, s["zone_alert_latency_s"]
    # each AL carries exactly one alarm bit: 18 (exit) or 19 (enter), in the true order
    als = [traccar.decode_position(c) for c in run.frames("up", "AL")]
    bits = [p["status"] for p in als]
    assert bits == [0x40000, 0x80000, 0x40000, 0x80000, 0x40000, 0x80000], bits
    assert [p["alarm"] for p in als[:2]] == ["geofenceExit", "geofenceEnter"]
    # the zones the watch named are the zones the child crossed
    named = [(e["zone"], e["event"]) for e in run.kinds("zone")]
    assert named == [("home", "exit"), ("school", "enter"), ("school", "exit"), ("home", "enter"),
                     ("home", "exit"), ("home", "enter")], named


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_the_weekend_walks_cross_home_four_times_each_alerted_within_a_minute(sim, interp):
    s = sim("weekend_walks", interp).summary
    assert s["zone_crossings"] == 4 and s["zone_alerts_missed"] == 0 and s["zone_alerts_extra"] == 0
    assert s["zone_alert_latency_s"]["worst"] <= 60, s["zone_alert_latencies_s"]
    assert s["position_error_m"]["p95"] <= 50 and s["accuracy_exceeded"] * 20 <= s["reports_delivered"]


def test_a_sick_day_at_home_never_searches_the_sky_in_vain(sim):
    # standing still indoors all day: Wi-Fi says so, and GNSS is tried only at the start
    s = sim("sick_day", "python").summary
    assert s["gnss_on_s"] <= 120, s["gnss_on_s"]
    assert s["position_error_m"]["max"] <= 50


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_no_more_rows_in_traccar_than_reports(sim, interp):
    run = sim("school_day", interp)
    s = run.summary
    uds, als = run.frames("up", "UD"), run.frames("up", "AL")
    assert s["traccar_rows"] == len(uds) + len(als)
    lks = run.frames("up", "LK")
    assert lks and all(c == "LK" for c in lks)  # bare: Traccar stores nothing for them


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_reports_carry_the_cell_then_wifi_that_traccar_reads(sim, interp):
    run = sim("school_day", interp)
    with_wifi = 0
    for c in run.frames("up", "UD"):
        p = traccar.decode_position(c)
        assert p["cells"] and not p["network_ignored"], c
        assert len(p["wifis"]) <= 8
        with_wifi += bool(p["wifis"])
        for mac, rssi in p["wifis"]:
            assert int(mac.split(":")[0], 16) & 2 == 0, c  # never a phone's hotspot
            assert -120 <= rssi <= 0
    assert with_wifi >= 200


def test_the_zone_truth_is_what_the_route_says():
    """The simulator's own yardstick: the crossings it times the alerts against."""
    sc = json.load(open(SCENARIO))
    home = [z for z in sc["config"]["zones"] if z["name"] == "home"][0]
    school = [z for z in sc["config"]["zones"] if z["name"] == "school"][0]
    by_place = {}
    for w in sc["route"]:
        by_place[w["place"]] = (int(round(w["lat"] * 1e6)), int(round(w["lon"] * 1e6)))
    assert zones.edge_m(home, *by_place["home"]) < -200
    assert zones.edge_m(home, *by_place["park"]) > 50
    assert zones.edge_m(school, *by_place["school"]) < -100
    assert zones.edge_m(school, *by_place["schoolyard"]) < -100
    assert geo.distance_m(*(by_place["home"] + by_place["school"])) > 700
