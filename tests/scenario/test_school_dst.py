"""School mode across Oslo's autumn change (Sunday 25 Oct 2026, 03:00 CEST -> 02:00 CET): a
Mo-Fr 08:00-14:00 window starts at 08:00 local on the Friday before and the Monday after, and a
friend's call in it is rejected while one on Saturday rings (firmware/school.py, schoolmode.py;
the simulated network's AT+CCLK zone follows the change)."""
import pytest

from firmware import clock

INTERPRETERS = ["python", "micropython"]


def utc(iso):
    return clock.parse_iso8601(iso[:19])


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_the_window_starts_at_0800_local_on_both_sides_of_the_change(sim, interp):
    run = sim("school_dst", interp)
    changes = [(e["t"][:16], e["quiet"]) for e in run.kinds("school_mode")]
    assert changes == [
        ("2026-10-23T06:00", True), ("2026-10-23T12:00", False),  # Friday, CEST (UTC+2)
        ("2026-10-26T07:00", True), ("2026-10-26T13:00", False),  # Monday, CET (UTC+1)
    ], changes


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_friend_is_rejected_in_lessons_and_rings_at_the_weekend(sim, interp):
    run = sim("school_dst", interp)
    rejected = [(e["t"][:16], e.get("why")) for e in run.kinds("call_rejected")]
    assert rejected == [("2026-10-23T06:30", "school"), ("2026-10-26T07:30", "school")], rejected
    rung = [e["t"][:13] for e in run.kinds("call_ringing")]
    assert rung == ["2026-10-24T13"]  # Saturday 15:00 CEST
    assert run.summary["calls_rejected"] == 2 and run.summary["calls_rung"] == 1
