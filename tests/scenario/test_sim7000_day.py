"""The school day on the second board, the LilyGO T-SIM7000G (host_sim/scenarios/
school_day_sim7000.json: the school day with board "lilygo_t_sim7000g"), on CPython and on
MicroPython: the same firmware on a modem without voice and a board without RI
(docs/sim7000.md). What must hold: identical wire on both interpreters, every report at the
server, every zone crossing alerted, an SOS that sends the AL and the SMS and says it cannot
call, a call that reaches nobody, and a text and a server command that the driver's poll picks
up although their URCs were lost in light sleep."""
import json
import os

import pytest

from days import every_report_accounted_for, offset_ms, timeline
from firmware import clock
from host_sim import traccar

INTERPRETERS = ["python", "micropython"]
DAY = "school_day_sim7000"
HERE = os.path.dirname(__file__)
SC = json.load(open(os.path.join(HERE, "..", "..", "host_sim", "scenarios", DAY + ".json")))
BASE = json.load(open(os.path.join(HERE, "..", "..", "host_sim", "scenarios", "school_day.json")))
START = clock.parse_iso8601(BASE["start"])
t_ms, channel = timeline(START)
PEOPLE = dict((p["name"], p["number"]) for p in SC["people"])
SOS_STATUS = 0x00010000  # watch-protocol.md §6: bit 16, sos
POLL_MS = 300000  # boards/lilygo_t_sim7000g.py POLL_MS: the longest a text or a command waits


def test_same_wire_on_both_interpreters(sim):
    a = sim(DAY, "python").wire
    b = sim(DAY, "micropython").wire
    assert len(a) > 600 and a == b  # ~690 frames, reports batched while standing still


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_every_report_accounted_for_and_every_zone_alerted(sim, interp):
    run = sim(DAY, interp)
    s = run.summary
    n = every_report_accounted_for(run, t_ms)
    assert s["reports_delivered"] + s["outbox_left"] == n >= 287  # the last batch may be held
    assert s["boots"] == 1 and s["server_errors"] == 0 and s["firmware_errors"] == 0
    assert s["zone_crossings"] == 6 and s["zone_alerts_missed"] == 0 and s["zone_alerts_extra"] == 0
    assert s["wake_spins"] == 0
    # the board's own energy rows (host_sim/energy.py "sim7000"): its 490 uA board figure
    assert 489 <= s["avg_ua_parts"]["board"][1] <= 490


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_sos_without_voice_sends_the_al_and_the_sms_and_says_it_cannot_call(sim, interp):
    run = sim(DAY, interp)
    press = offset_ms("17:10")
    (sos,) = run.kinds("sos")
    assert 0 <= t_ms(sos["t"]) - press < 5000
    als = [(t_ms(w["t"]), traccar.decode_position(w["data"].split("*", 3)[3][:-1]))
           for w in run.wire if w["channel"] == "watch" and w["dir"] == "up" and "*AL," in w["data"]]
    sos_al = [(t, p) for t, p in als if p["status"] == SOS_STATUS]
    assert len(sos_al) == 1 and 0 <= sos_al[0][0] - t_ms(sos["t"]) < 2000
    sms = [(t, peer, data) for t, d, peer, data in channel(run, "sms") if d == "up"]
    assert sorted(peer for _, peer, _ in sms) == sorted(PEOPLE.values())
    for t, peer, data in sms:
        assert data.startswith("SOS ") and "cannot make or take calls" in data, data
        assert t - t_ms(sos["t"]) < 15000
    (no_calls,) = run.kinds("sos_no_calls")
    assert no_calls["why"] == "the modem has no voice" and no_calls["model"] == "SIMCOM_SIM7000G"
    assert channel(run, "call") == [] and not run.kinds("sos_call")
    assert run.summary["sos_call_ms"] is None and len(run.summary["sos_sms_ms"]) == 2


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_call_reaches_nobody_and_the_poll_finds_a_text_and_a_command(sim, interp):
    run = sim(DAY, interp)
    mamma = PEOPLE["Mamma"]
    assert [(p["event"], p["detail"]) for p in run.people if p["event"] == "unreachable"] == \
        [("unreachable", "no voice")]
    assert not run.kinds("call_ringing")
    # no RI: URC bytes were lost in light sleep, and still nothing was missed
    assert run.summary["uart_bytes_lost_in_sleep"] > 0
    text = [t for t, d, peer, data in channel(run, "sms") if d == "down" and peer == mamma]
    (kept,) = run.kinds("sms_kept")
    assert len(text) == 1 and 0 < t_ms(kept["t"]) - text[0] <= POLL_MS
    (cmd,) = [e for e in run.kinds("command") if e.get("command") == "CR"]
    assert 0 < t_ms(cmd["t"]) - offset_ms("12:00") <= POLL_MS
