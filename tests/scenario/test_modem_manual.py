"""The school day on an A7670E-LASE, the variant without GNSS (hardware.md §1.2a): the driver reads
the model once (ATI, A76-ATM §2.2.7) and the watch never sends a GNSS command, which that module
answers with ERROR (every one of them would be a logged error); the reports still go, every one,
from the last position (the day starts with one on flash; without a receiver nothing new is
ever learned). Also on that day: AT+CTZU=1 at set-up and the network time read again after the
boot's read missed it (NITZ comes after registration, §4.2.12)."""
import os

from days import every_report_accounted_for, timeline

from firmware import clock
from host_sim import scenario

SC = scenario.load(os.path.join(os.path.dirname(__file__), "..", "..", "host_sim", "scenarios",
                                "school_day_lase.json"))
T_MS = timeline(clock.parse_iso8601(SC["start"]))[0]


def test_a_module_without_gnss_reports_all_day_without_a_gnss_command(sim):
    run = sim("school_day_lase", "python")
    s = run.summary
    models = run.kinds("modem_model")
    assert len(models) == 1 and models[0]["model"] == "A7670E-LASE" and models[0]["gnss"] is False
    assert models[0]["voice"] is True and models[0]["sms"] is True
    assert s["gnss_on_s"] == 0 and s["reports_valid"] == 0
    assert s["firmware_errors"] == 0, [e for e in run.kinds("error")]  # an ERROR'd GNSS command logs one
    assert set(s["reports_by_source"]) <= {"last", "place"}
    assert every_report_accounted_for(run, T_MS) >= 280


def test_network_time_comes_after_the_boot_and_is_read_again(sim):
    run = sim("school_day_lase", "python")
    t_ms = T_MS
    ready = run.kinds("modem_ready")[0]
    clocks = run.kinds("clock")
    # the boot's read came before NITZ: one more read, 15 s on, has it
    assert len(clocks) == 1 and clocks[0]["tries"] == 1, clocks
    assert 0 < t_ms(clocks[0]["t"]) - t_ms(ready["t"]) < 30000


def test_a_network_that_always_answers_slower_than_the_limit_is_still_reached(sim):
    # every TCP connect takes 60 s (a slow handshake or DNS: roaming, a congested cell), beyond
    # the 20 s the driver gives the modem first (AT+CIPTIMEOUT, A76-ATM §15.2.12): the limit
    # doubles at each timeout, to 80 s here, and every report reaches the server
    sc = scenario.load(os.path.join(os.path.dirname(__file__), "..", "..", "host_sim", "scenarios",
                                    "school_day.json"))
    t_ms = timeline(clock.parse_iso8601(sc["start"]))[0]
    run = sim("school_day", "python", {"cipopen_ms": 60000})
    assert [e["ms"] for e in run.kinds("net_timeout")] == [40000, 80000]
    assert len(run.kinds("connect")) >= 1 and run.summary["zone_alerts_missed"] == 0
    assert every_report_accounted_for(run, t_ms) >= 280
