"""The school day on a watch with a step counter (school_day_steps.json: the school day, plus
an LSM6DSL on I2C and a child who walks about indoors 6 times an hour by day): the same alerts
and honest positions as the school day, for far fewer scans and modem wakes."""
import pytest


@pytest.mark.parametrize("interp", ["python", "micropython"])
def test_a_child_who_sits_still_costs_no_scans(sim, interp):
    steps = sim("school_day_steps", interp)
    plain = sim("school_day", interp)
    s, p = steps.summary, plain.summary
    # the pedometer replaced the Wi-Fi looks for motion and the reports' scans while still
    assert s["wifi_scans"] * 3 < p["wifi_scans"], (s["wifi_scans"], p["wifi_scans"])
    still = [e for e in steps.kinds("report") if e.get("still")]
    assert len(still) > len(steps.kinds("report")) // 2
    assert all(e["aps"] == 0 for e in still)  # nothing heard now is claimed
    # ... and nothing the school day reached is lost: every crossing alerted within the
    # minute the zone policy allows (firmware/reporter.py _ALERT_S), and reports as honest
    # about their accuracy: at most 1 % beyond it (a GNSS fix's stated accuracy is not a hard
    # bound: the emulated receiver's error now and then exceeds it, on either day; the
    # positioning suite allows 5 %, test_positions.py)
    assert s["zone_crossings"] == p["zone_crossings"] == 6
    assert s["zone_alerts_missed"] == 0 and s["zone_alerts_extra"] == 0
    assert max(s["zone_alert_latencies_s"]) <= 60
    assert s["accuracy_exceeded"] * 100 <= s["reports_delivered"] and s["firmware_errors"] == 0
    # the budget this buys (central end): Wi-Fi and the ESP32 together at least 1 mA below
    # the plain day's; the sensor itself ~15 uA (host_sim/energy.py)
    saved = p["avg_ua_wifi"] + p["avg_ua_esp32"] - s["avg_ua_wifi"] - s["avg_ua_esp32"]
    assert saved > 1000, saved
    assert 0 < s["avg_ua_parts"]["accel"][1] < 100


def test_same_wire_on_both_interpreters(sim):
    a = sim("school_day_steps", "python").wire
    b = sim("school_day_steps", "micropython").wire
    assert len(a) > 500 and a == b


def test_the_reports_count_real_steps(sim):
    from host_sim import traccar

    run = sim("school_day_steps", "python")
    steps = [traccar.decode_position(c)["steps"] for c in run.frames("up", "UD")]
    assert steps == sorted(steps) and steps[-1] > 2000  # the walks to school, home, the park
