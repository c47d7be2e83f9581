"""What holds on every simulated day, on both interpreters."""
import pytest

# each day, and the fewest wire frames it has (a guard against comparing two empty runs): a
# UD per report, and an LK and its ack per transfer, three reports in one while the watch
# stands still (batch_s), e.g. ~590 on the school day
DAYS = {"school_day": 500, "faults_day": 450, "sos_park": 550, "calls_day": 450, "boot_sos": 50,
        "guardian_day": 600, "school_dst": 1000, "sick_day": 350, "weekend_walks": 500,
        "low_battery": 100, "school_day_tls": 500, "school_day_osmand": 600,
        "school_day_sim7000": 600, "weekend_no_signal": 500}


@pytest.mark.parametrize("scenario", sorted(DAYS))
def test_same_wire_on_both_interpreters(sim, scenario):
    # the firmware and the simulator are deterministic: every frame, to the millisecond
    a = sim(scenario, "python").wire
    b = sim(scenario, "micropython").wire
    assert len(a) > DAYS[scenario] and a == b


@pytest.mark.parametrize("interp", ["python", "micropython"])
@pytest.mark.parametrize("scenario", sorted(DAYS))
def test_no_level_wake_spins(sim, scenario, interp):
    # a ringing call holds RI low 5.9 s of every 6, the SOS button is held for seconds: a
    # light sleep entered with its wake level already present would end at once, again and again
    assert sim(scenario, interp).summary["wake_spins"] == 0
