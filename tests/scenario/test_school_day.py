"""The default school day, on CPython and on MicroPython: what Traccar would see."""
import json
import os

import pytest

from days import config, every_report_accounted_for, timeline
from firmware import clock
from host_sim import traccar

SCENARIO = os.path.join(os.path.dirname(__file__), "..", "..", "host_sim", "scenarios", "school_day.json")


def sky_changes():
    """[(seconds after the scenario start, sky)] from the scenario's route."""
    sc = json.load(open(SCENARIO))
    out = []
    for w in sc["route"]:
        h, m = w["at"].split(":")[:2]
        out.append((int(h) * 3600 + int(m) * 60, w["sky"]))
    return clock.parse_iso8601(sc["start"]), out

INTERPRETERS = ["python", "micropython"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_one_report_per_interval_all_day(sim, interp):
    run = sim("school_day", interp)
    s = run.summary
    # 24 h at a 5-minute interval: 288, give or take one at the edges, plus a report a minute
    # for 5 minutes after each of the day's six zone crossings
    start, _ = sky_changes()
    # each one by its seq, the last too: at the server, or in the batch still held at midnight
    n = every_report_accounted_for(run, timeline(start)[0])
    k = len(run.kinds("zone"))
    assert k == 6
    assert 287 + 3 * k <= n <= 289 + 5 * k
    assert s["reports_delivered"] + s["outbox_left"] == n
    assert s["server_errors"] == 0
    assert s["boots"] == 1


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_every_report_is_a_frame_traccar_decodes(sim, interp):
    run = sim("school_day", interp)
    uds = run.frames("up", "UD")
    assert len(uds) >= 287
    for content in uds:
        p = traccar.decode_position(content)
        assert p["cells"], content  # every report carries the serving cell
    # Indoors the watch cannot see the sky: never a fresh fix ('A'). On the walks every report
    # has one. Standing outside (breaks, the park) the watch does not search while Wi-Fi says
    # it has not moved, so it may report a learned place ('V'). Reports within a minute of a
    # change between indoors and outdoors may go either way.
    start, changes = sky_changes()
    sc = json.load(open(SCENARIO))
    route = sc["route"]
    walks = [(changes[i][0], changes[i + 1][0]) for i in range(len(route) - 1)
             if (route[i]["lat"], route[i]["lon"]) != (route[i + 1]["lat"], route[i + 1]["lon"])]
    checked = 0
    for content in uds:
        p = traccar.decode_position(content)
        t = p["time"] - start
        if any(abs(t - at) < 60 for at, _ in changes):
            continue
        sky = [sky for at, sky in changes if at <= t][-1]
        if sky == "indoor":
            assert not p["valid"], content
        elif any(a <= t < b for a, b in walks):
            assert p["valid"], (content, sky)
        checked += 1
    assert checked > 250


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_heartbeats_are_acked_and_link_never_idles_out(sim, interp):
    run = sim("school_day", interp)
    up_lk = run.frames("up", "LK")
    acks = [c for c in run.frames("down") if c == "LK"]
    # an LK closes each transfer: a batch held while the watch stands still (batch_s) goes
    # at most one interval and batch_s after the last, else a heartbeat or a report sooner
    cfg = config(run)
    most_s = cfg["report_interval_s"] + cfg["batch_s"] + cfg["gnss_timeout_s"]
    assert len(up_lk) >= 86400 // most_s
    assert len(acks) == len(up_lk)
    # Traccar drops sockets idle for 1800 s: no gap between uplink frames may reach that
    times = [w["t"] for w in run.wire if w["dir"] == "up"]
    secs = [int(t[11:13]) * 3600 + int(t[14:16]) * 60 + int(t[17:19]) for t in times]
    gaps = [b - a for a, b in zip(secs, secs[1:]) if b >= a]
    assert max(gaps) <= most_s < 1800
    assert run.summary["server_connections"] == 1  # one session held all day
