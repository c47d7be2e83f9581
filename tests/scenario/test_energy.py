"""The energy model on whole days (docs/energy.md): the school day's budget at three ends, and a
week on one 800 mAh charge that ends when the cell browns out. Both interpreters."""
import pytest
from days import every_report_accounted_for, timeline

from firmware import clock

INTERPRETERS = ["python", "micropython"]
ENDS = ("low", "central", "high")
PARTS = ("modem", "gnss", "esp32", "wifi", "led", "board")

# The modem's share of the school day's average current (central end). Today ~4 mA: it sleeps
# (AT+CSCLK=1, DTR high) between reports. A firmware that stopped letting it sleep (no
# AT+CSCLK=1, or DTR held low) draws ~20 mA at the central end and ~10 mA even at the kind one
# (measured with the command removed: docs/energy.md), far beyond this bound.
MODEM_BUDGET_UA = 8000
# The ESP32's share (central, at the cell): ~1.9 mA, light-sleeping (0.8 mA, 1.0 through the
# boost) through the board's own idle hook (boards/*.py Board.idle, installed by firmware/main.py
# start(), as on the device) between the firmware's turns. A board that stopped sleeping draws
# its active ~32 mA (80 MHz, through the boost) all day.
ESP32_BUDGET_UA = 2500
WEEK_H = 7 * 24


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_school_day_energy_budget(sim, interp):
    s = sim("school_day", interp).summary
    avg, parts = s["avg_current_ua_ends"], s["avg_ua_parts"]
    assert avg["low"] < avg["central"] < avg["high"], avg
    for i in range(3):  # the parts add up to the total at every end (each rounded down)
        total = sum(parts[p][i] for p in PARTS)
        assert avg[ENDS[i]] - len(PARTS) <= total <= avg[ENDS[i]], (ENDS[i], parts)
    assert parts["modem"][1] < MODEM_BUDGET_UA, parts["modem"]
    assert parts["esp32"][1] < ESP32_BUDGET_UA, parts["esp32"]
    assert s["esp32_mhz"] == 80  # the boards' clock (CPU_HZ), charged at its row
    # the board's boost (host_sim/energy.py SUPPLY_PERMILLE): the cell gives every part more than
    # its own current, but the board's figure measured on the battery
    own = s["avg_ua_parts_own"]
    for p in PARTS:
        assert all(own[p][i] <= parts[p][i] for i in range(3)), (p, own[p], parts[p])
    assert own["board"] == parts["board"] and own["esp32"][1] < parts["esp32"][1] * 850 // 1000
    # the STATUS LED is lit all day (the modem is never off): it draws at every end
    assert all(x > 0 for x in parts["led"]), parts["led"]
    # a school day does not empty a full cell; a cell lasts longest at the kind end
    assert s["died_at"] is None and s["battery_left_permille"] > 500
    days = s["battery_days_x10_ends"]
    assert days["high"] < days["central"] < days["low"], days


def test_school_day_energy_identical_on_both_interpreters(sim):
    a = sim("school_day", "python").summary
    b = sim("school_day", "micropython").summary
    for k in ("avg_current_ua_ends", "avg_ua_parts", "avg_ua_parts_own", "battery_left_permille",
              "battery_mv_at_end"):
        assert a[k] == b[k], k


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_week_on_one_charge_ends_when_the_cell_browns_out(sim, interp):
    run = sim("week", interp)
    s = run.summary
    avg = s["avg_current_ua"]
    # the scenario is for the brown-out: its average outruns 800 mAh in a week (the brown-out
    # comes at ~2 % left: the loaded voltage falls below the modem's 3.4 V on the curve's
    # knee). A firmware that lasts the week makes this fail: then give the week more to do.
    assert avg * WEEK_H > 800 * 1000 * 97 // 100, "week.json must brown out (%d uA)" % avg
    assert s["died_at"] is not None and s["died_why"] in ("voltage", "empty")
    died_s = clock.parse_iso8601(s["died_at"][:19]) - clock.parse_iso8601("2026-09-13T22:00:00")
    # the run ended there (the world does not go on dead), every report accounted for by its
    # seq: at the server, or in the batch still held when the cell died (batch_s)
    assert died_s <= s["sim_seconds"] <= died_s + 5
    every_report_accounted_for(run, timeline(clock.parse_iso8601("2026-09-13T22:00:00"))[0])
    # the charge drawn by then is the cell, less what the brown-out left in it
    drawn_uah = avg * died_s // 3600
    left = s["battery_left_permille"]
    assert 0 < left <= 30 and s["died_mv"] < 3400
    assert abs(drawn_uah - 800 * (1000 - left)) <= 800 * 5, (drawn_uah, left)
    # the harsh end was empty earlier, the kind end not yet
    empty = s["battery_empty_at"]
    assert empty["high"] is not None and empty["high"] < s["died_at"] and empty["low"] is None
    # ... and the days a full cell lasts at each end's average bracket it
    days = s["battery_days_x10_ends"]
    assert days["high"] * 24 <= s["died_after_h_x10"] <= days["low"] * 24
    # the firmware heard the cell going: the gauge it reports fell with the voltage
    batt = [p["battery"] for p in run_positions(run)]
    assert batt[0] >= 90 and batt[-1] <= 10, (batt[:3], batt[-3:])


def test_week_identical_on_both_interpreters(sim):
    a = sim("week", "python")
    b = sim("week", "micropython")
    assert len(a.wire) > 1200 and a.wire == b.wire  # three days of reports
    assert a.summary["died_at"] == b.summary["died_at"]


def run_positions(run):
    """The reports at the server in order, decoded as Traccar would."""
    from host_sim import traccar

    out = []
    for w in run.wire:
        if w["channel"] == "watch" and w["dir"] == "up" and "*UD," in w["data"]:
            out.append(traccar.decode_position(w["data"].split("*", 3)[3][:-1]))
    return out
