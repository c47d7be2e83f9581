"""A school day that starts with 22% left, on CPython and on MicroPython (firmware/power.py):
one low-battery alarm per downward crossing of 20% (none again after a power cut at 19%), the
critical mode at 5% (a report an hour at the last position, no Wi-Fi scan, no GNSS search, no
look near the zone's edge), an SOS in it that still alarms, texts and calls, a friend's call
rejected and a guardian's rung, the charger, and every report accounted for."""
import json
import os

import pytest

from days import every_report_accounted_for, local, offset_ms, timeline
from firmware import clock
from host_sim import traccar

INTERPRETERS = ["python", "micropython"]
SCENARIO = os.path.join(os.path.dirname(__file__), "..", "..", "host_sim", "scenarios", "low_battery.json")
SC = json.load(open(SCENARIO))
START = clock.parse_iso8601(SC["start"])
t_ms, channel = timeline(START)
PEOPLE = {p["name"]: p for p in SC["people"]}
LOW_BATTERY = 0x00020000  # watch-protocol.md §6: bit 17 = lowBattery, and nothing else
SOS_STATUS = 0x00010000
CRITICAL_REPORT_S = SC["config"]["critical_report_s"]  # 20 minutes here, to fit the stretch
SOS_TRACK_MS = 40 * 60000 + 120000  # the SOS tracks 40 minutes (+ its last 2-minute report)
# a report is stamped when its position is known: the cell query after its grid slot; without
# GNSS or a scan that is seconds, not a GNSS window
TOL_S = 30


def events_at(run, name):
    return [(t_ms(e["t"]), e) for e in run.kinds(name)]


def alarms(run):
    """Distinct AL frames at the server, decoded as Traccar would: [(ms on the wire, pos)]."""
    seen = {}
    for w in run.wire:
        if w["channel"] == "watch" and w["dir"] == "up" and "*AL," in w["data"]:
            c = w["data"].split("*", 3)[3][:-1]
            if c not in seen:
                seen[c] = (t_ms(w["t"]), traccar.decode_position(c))
    return sorted(seen.values(), key=lambda x: x[0])


def battery_at(run, pct):
    """ms of the scenario's battery event that set pct."""
    return [offset_ms(e["at"]) for e in SC["events"] if e["do"] == "battery" and e["pct"] == pct][0]


def critical_window(run):
    crit = events_at(run, "battery_critical")
    ok = [t for t, e in events_at(run, "battery_ok") if not e["critical"]]
    assert len(crit) == 1 and ok, (crit, ok)
    return crit[0][0], [t for t in ok if t > crit[0][0]][0]


def sos_window(run):
    sos = events_at(run, "sos")
    assert len(sos) == 1
    return sos[0][0], sos[0][0] + SOS_TRACK_MS


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_one_alarm_per_crossing_and_none_again_after_a_reboot(sim, interp):
    run = sim("low_battery", interp)
    low = [(t, p) for t, p in alarms(run) if p["status"] & LOW_BATTERY]
    # two downward crossings of 20%: the morning's, and the one after the charger
    assert len(low) == 2, [p for _, p in low]
    for t, p in low:
        assert p["status"] == LOW_BATTERY and p["alarm"] == "lowBattery", p
        assert p["battery"] <= 20
    logged = events_at(run, "battery_low")
    assert len(logged) == 2 and all(e["seq"] is not None for _, e in logged)
    for (t, p), (tl, e) in zip(low, logged):
        # on the air within seconds: the log line follows the alarm's queueing, which waits
        # up to 1.5 s for the uplink to send it (App._alarm), so either may come first
        assert abs(t - tl) <= 5000, (local(t), local(tl))
    # the first before the power cut at 19%, the second after the charge: none in between
    cut = offset_ms([e for e in SC["events"] if e["do"] == "reboot"][0]["at"])
    assert logged[0][0] < cut and logged[1][0] > battery_at(run, 40)
    boots = events_at(run, "boot")
    assert len(boots) == 2 and boots[1][0] >= cut and run.summary["watchdog_resets"] == 0
    # the reboot came back "low" from flash: the next change is into critical
    kinds = ("battery_low", "battery_ok", "battery_critical")
    changes = [(t, k) for k in kinds for t, _ in events_at(run, k)]
    after_cut = sorted(x for x in changes if x[0] > cut)
    assert after_cut[0][1] == "battery_critical", after_cut
    # no report carries the bit (it belongs to the one message that reports the event)
    for w in run.wire:
        if w["channel"] == "watch" and w["dir"] == "up" and "*UD," in w["data"]:
            assert not traccar.decode_position(w["data"].split("*", 3)[3][:-1])["status"] & LOW_BATTERY


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_critical_thins_reports_without_scans_or_gnss(sim, interp):
    run = sim("low_battery", interp)
    c0, c1 = critical_window(run)
    assert battery_at(run, 5) <= c0 <= battery_at(run, 5) + 130000  # two readings a minute apart
    assert battery_at(run, 40) <= c1 <= battery_at(run, 40) + 130000
    s0, s1 = sos_window(run)
    assert c0 < s0 < s1 < c1
    reports = [(t, e) for t, e in events_at(run, "report") if c0 < t < c1]
    thin = [(t, e) for t, e in reports if not s0 <= t <= s1]
    assert thin, "no report at all while critical"
    for t, e in thin:  # the last position, no Wi-Fi, no GNSS
        assert e["src"] == "last" and e["aps"] == 0 and not e["valid"], (local(t), e)
    # thin reports an hour apart after the SOS (before it the day has none: the SOS comes 9
    # minutes after the watch went critical)
    after = [t for t, _ in thin if t > s1]
    assert len(after) >= 2, [local(t) for t in after]
    for a, b in zip(after, after[1:]):
        assert b - a >= (CRITICAL_REPORT_S - TOL_S) * 1000, (local(a), local(b))
    assert len(thin) <= (c1 - c0 - (s1 - s0)) // (CRITICAL_REPORT_S * 1000) + 3
    # no looks near the zone edge outside the SOS (the day has them before and after)
    looks = [t for t, _ in events_at(run, "look") if c0 < t < c1 and not s0 <= t <= s1]
    assert looks == [], [local(t) for t in looks]
    # out of critical on the charger: every 5 minutes again, the first at once (logged when its
    # position is known: after a GNSS window, searches are allowed again)
    later = [t for t, _ in events_at(run, "report") if t > c1]
    assert later[0] - c1 <= 9000 + 45000 + 15000
    assert len(later) >= (SC["duration_s"] * 1000 - c1) // 300000 - 1


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_an_sos_while_critical_alarms_texts_calls_and_tracks(sim, interp):
    run = sim("low_battery", interp)
    s0, s1 = sos_window(run)
    sos = [(t, p) for t, p in alarms(run) if p["status"] & SOS_STATUS]
    assert len(sos) == 1 and sos[0][1]["status"] == SOS_STATUS and 0 <= sos[0][0] - s0 <= 3000
    texts = [(t, peer) for t, d, peer, data in channel(run, "sms") if d == "up" and data.startswith("SOS ")]
    assert sorted(p for _, p in texts) == sorted([PEOPLE["Mamma"]["number"], PEOPLE["Pappa"]["number"]])
    assert all(t - s0 <= 15000 for t, _ in texts)
    dials = [t for t, d, peer, data in channel(run, "call") if d == "up" and data == "dial"]
    assert dials and dials[0] - s0 <= 20000
    assert run.summary["sos_accepted_by"] == "Mamma"
    # it tracks as ever: a report every 30 s for the first 10 minutes
    fast = [t for t, _ in events_at(run, "report") if s0 <= t <= s0 + 600000]
    assert 20 <= len(fast) <= 21, [local(t) for t in fast]  # no GNSS window to stretch them


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_friends_rejected_guardians_ring_texts_kept(sim, interp):
    run = sim("low_battery", interp)
    c0, c1 = critical_window(run)
    rejected = events_at(run, "call_rejected")
    assert [(e["caller"], e["why"]) for _, e in rejected] == [("Bestemor", "critical")]
    assert c0 < rejected[0][0] < c1
    rung = events_at(run, "call_ringing")
    assert [e["name"] for _, e in rung] == ["Pappa"] and c0 < rung[0][0] < c1
    kept = events_at(run, "sms_kept")
    assert [e["name"] for _, e in kept] == ["Mamma"] and c0 < kept[0][0] < c1


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_every_report_and_alarm_delivered(sim, interp):
    run = sim("low_battery", interp)
    every_report_accounted_for(run, t_ms, one_boot=False)
    queued = [events_at(run, k) for k in ("battery_low", "sos_alarm_queued", "zone")]
    assert [len(q) for q in queued] == [2, 1, 2]  # the zone: leaving home, coming back
    assert len(alarms(run)) == 5


def test_same_wire_on_both_interpreters(sim):
    a = sim("low_battery", "python").wire
    b = sim("low_battery", "micropython").wire
    assert len(a) > 200 and a == b
