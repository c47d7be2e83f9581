"""A day full of faults: power cuts, a server outage, lost coverage, a modem that reboots,
goes mute and sends garbage, a server that sends garbage. Nothing queued may be lost."""
import json
import os

import pytest
from days import every_report_accounted_for, offset_ms, timeline

from firmware import clock

SCENARIO = os.path.join(os.path.dirname(__file__), "..", "..", "host_sim", "scenarios", "faults_day.json")

INTERPRETERS = ["python", "micropython"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_no_report_lost_through_faults(sim, interp):
    run = sim("faults_day", interp)
    s = run.summary
    assert s["boots"] == 4  # two power cuts and a watchdog reset
    assert s["watchdog_resets"] == 1
    start = clock.parse_iso8601(json.load(open(SCENARIO))["start"])
    # every report by its seq, the last one too; duplicates after a lost ack are allowed
    n = every_report_accounted_for(run, timeline(start)[0], one_boot=False)
    assert n >= 280


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_reports_queued_during_outage_survive_a_power_cut(sim, interp):
    run = sim("faults_day", interp)
    restored = run.kinds("outbox_restored")
    t_ms = timeline(clock.parse_iso8601(json.load(open(SCENARIO))["start"]))[0]
    # the 15:20 cut came during the server outage (other boots may find a held batch too)
    cut = offset_ms("15:20")
    at_cut = [e for e in restored if cut <= t_ms(e["t"]) <= cut + 60000]
    assert len(at_cut) == 1 and at_cut[0]["queued"] >= 3, restored


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_watch_keeps_reporting_after_each_fault(sim, interp):
    run = sim("faults_day", interp)
    faults = run.kinds("fault")
    reports = [e["t"] for e in run.kinds("report")]
    assert len(faults) == 10
    for f in faults:
        later = [t for t in reports if t > f["t"]]
        assert later, "no report after fault %s" % f
    assert run.kinds("modem_rebooted"), "the modem's own reboot went unnoticed"
    hang = [f for f in faults if f["do"] == "modem_hang"][0]
    hung = [e for e in run.kinds("modem_unresponsive") if e["t"] > hang["t"]]
    assert hung, "the hung modem was not power-cycled"
    deadlock = [f for f in faults if f["do"] == "firmware_deadlock"][0]
    resets = [e for e in run.kinds("watchdog_reset") if e["t"] > deadlock["t"]]
    assert resets, "a deadlocked firmware was not reset by the watchdog"
    after = [e for e in run.kinds("boot") if e["t"] > resets[0]["t"]]
    assert after[0]["cause"] == "watchdog"  # the log tells a stuck firmware from a power cut
    boots = [e for e in run.kinds("identity") if e["t"] > resets[0]["t"]]
    assert boots and [e for e in run.kinds("delivered") if e["t"] > boots[0]["t"]]
