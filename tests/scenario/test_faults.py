"""A day full of faults: power cuts, a server outage, lost coverage, a modem that reboots,
goes mute and sends garbage, a server that sends garbage. Nothing queued may be lost."""
import pytest

INTERPRETERS = ["python", "micropython"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_no_report_lost_through_faults(sim, interp):
    run = sim("faults_day", interp)
    s = run.summary
    assert s["boots"] == 3  # two power cuts
    queued = s["reports_queued"]
    assert queued >= 280
    delivered = set(run.frames("up", "UD"))  # duplicates after a lost ack are allowed, losses are not
    assert len(delivered) >= queued - 1
    assert s["outbox_left"] <= 1


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_reports_queued_during_outage_survive_a_power_cut(sim, interp):
    run = sim("faults_day", interp)
    restored = run.kinds("outbox_restored")
    assert restored and restored[-1]["queued"] >= 3  # the 15:20 cut came during the server outage


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_watch_keeps_reporting_after_each_fault(sim, interp):
    run = sim("faults_day", interp)
    faults = run.kinds("fault")
    reports = [e["t"] for e in run.kinds("report")]
    assert len(faults) == 9
    for f in faults:
        later = [t for t in reports if t > f["t"]]
        assert later, "no report after fault %s" % f
    assert run.kinds("modem_rebooted"), "the modem's own reboot went unnoticed"
    hung = [e for e in run.kinds("modem_unresponsive") if e["t"] > faults[-1]["t"]]
    assert hung, "the hung modem was not power-cycled"
