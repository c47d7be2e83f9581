"""Calls and SMS on a school day, on CPython and on MicroPython: the whitelist at the door
(firmware/telephony.py). Strangers and withheld numbers are hung up without the watch ringing,
contacts ring until a short press answers or they give up; contacts' texts are kept on flash,
everyone else's deleted unread by anyone and never logged; modem garbage changes nothing.
"""
import json
import os

import pytest

from days import batch_lag_ms, delivered_within, every_report_accounted_for, local, offset_ms, timeline
from firmware import clock

INTERPRETERS = ["python", "micropython"]
SCENARIO = os.path.join(os.path.dirname(__file__), "..", "..", "host_sim", "scenarios", "calls_day.json")
SC = json.load(open(SCENARIO))
START = clock.parse_iso8601(SC["start"])  # epoch-2000 s of the scenario start (local midnight)
PEOPLE = {p["name"]: p for p in SC["people"]}
t_ms, channel = timeline(START)
MAMMA = PEOPLE["Mamma"]["number"]
BESTEMOR = PEOPLE["Bestemor"]["number"]
STRANGER = PEOPLE["Stranger"]["number"]
WITHHELD = PEOPLE["Withheld"]["number"]
SPAMMER = PEOPLE["Spammer"]["number"]
STRANGERS = (STRANGER, WITHHELD, SPAMMER)
TEXT_MAX = 480  # characters kept per message (telephony._TEXT_MAX: three SMS' worth)
SMS_RETRY_MS = 600000  # the network retries an undelivered text every 10 minutes (emulator)


def call_frames(run, peer):
    return [(t, d, data) for t, d, p, data in channel(run, "call") if p == peer]


def events_between(run, a_ms, b_ms, kinds=None):
    return [e for e in run.events if a_ms <= t_ms(e["t"]) < b_ms and (kinds is None or e["kind"] in kinds)]


def ringer(run):
    return [(t_ms(e["t"]), e["on"]) for e in run.kinds("ringer")]


def press():
    return [e for e in SC["events"] if e["do"] == "press"][0]


# ---- calls --------------------------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_strangers_and_withheld_are_hung_up_without_ringing(sim, interp):
    run = sim("calls_day", interp)
    s = run.summary
    assert s["boots"] == 1
    assert s["calls_rejected"] == 2 and s["calls_rung"] == 2
    rings = ringer(run)
    for name, peer in (("Stranger", STRANGER), ("Withheld", "withheld")):
        at = offset_ms(PEOPLE[name]["calls"][0]["at"])
        frames = call_frames(run, peer)
        assert [(d, data) for _, d, data in frames] == [("down", "ring"), ("up", "reject")], (name, frames)
        ring_t, reject_t = frames[0][0], frames[1][0]
        assert ring_t == at
        # hung up within a few seconds of the first ring: before the second RING (6 s)
        assert reject_t - ring_t <= 3000, (name, local(ring_t), local(reject_t))
        # the ringer never turned on for them, not even briefly
        assert not [r for r in rings if ring_t - 1000 <= r[0] <= reject_t + 1000], (name, rings)
        # the log names only the fact: a masked number, or "withheld"
        rej = events_between(run, ring_t, reject_t + 1, ("call_rejected",))
        assert len(rej) == 1
        assert rej[0]["caller"] == ("withheld" if peer == "withheld" else "*" + STRANGER[-2:])
        assert rej[0]["withheld"] == (peer == "withheld")
    # nothing else was ever rejected
    assert len(run.kinds("call_rejected")) == 2
    # the withheld call really was withheld at the network: its number never shows on the wire
    assert not [c for c in channel(run, "call") if c[2] == WITHHELD]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_mamma_rings_until_a_short_press_answers(sim, interp):
    run = sim("calls_day", interp)
    at = offset_ms(PEOPLE["Mamma"]["calls"][0]["at"])
    p = press()
    press_t, press_for = offset_ms(p["at"]), p["for_ms"]
    frames = call_frames(run, MAMMA)
    assert [(d, data) for _, d, data in frames] == [("down", "ring"), ("up", "answer"), ("down", "hangup")], \
        frames
    ring_t, answer_t, hangup_t = [t for t, _, _ in frames]
    assert ring_t == at
    # answered by the short press (recognised on its release), not before it, not by itself
    assert press_t + press_for <= answer_t <= press_t + press_for + 1000, local(answer_t)
    rang = events_between(run, ring_t, press_t, ("call_ringing",))
    assert [e["name"] for e in rang] == ["Mamma"]
    # the ringer: on at the ring, on without a break until the answer, off then
    rings = [r for r in ringer(run) if ring_t <= r[0] <= hangup_t]
    assert [on for _, on in rings] == [True, False], rings
    assert rings[0][0] - ring_t <= 2000
    assert answer_t <= rings[1][0] <= answer_t + 1000, (local(answer_t), local(rings[1][0]))
    ends = events_between(run, ring_t, hangup_t + 1000, ("call_answered", "call_missed"))
    assert [e["kind"] for e in ends] == ["call_answered"]
    # she talked her full minute: the watch did not drop the call
    assert hangup_t - answer_t >= PEOPLE["Mamma"]["calls"][0]["talk_s"] * 1000
    # a short press never starts an SOS
    assert not run.kinds("sos") and not [b for b in run.kinds("button") if b.get("press") == "long"]
    assert not [w for w in run.wire if w["channel"] == "watch" and "*AL," in w["data"]]
    assert not [c for c in channel(run, "call") if c[1] == "up" and c[3] == "dial"]
    assert not [c for c in channel(run, "sms") if c[1] == "up"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_bestemor_rings_until_she_gives_up(sim, interp):
    run = sim("calls_day", interp)
    call = PEOPLE["Bestemor"]["calls"][0]
    frames = call_frames(run, BESTEMOR)
    assert [(d, data) for _, d, data in frames] == [("down", "ring"), ("down", "hangup")], frames
    ring_t, gone_t = frames[0][0], frames[1][0]
    assert ring_t == offset_ms(call["at"]) and gone_t - ring_t == call["ring_s"] * 1000
    assert [e["name"] for e in events_between(run, ring_t, gone_t, ("call_ringing",))] == ["Bestemor"]
    rings = [r for r in ringer(run) if ring_t <= r[0] <= gone_t + 5000]
    assert [on for _, on in rings] == [True, False], rings
    assert rings[0][0] - ring_t <= 2000
    assert gone_t <= rings[1][0] <= gone_t + 1000  # stops when she gives up
    ends = events_between(run, ring_t, gone_t + 5000, ("call_answered", "call_missed"))
    assert [e["kind"] for e in ends] == ["call_missed"]
    # the ringer ran only while Mamma's and Bestemor's calls rang
    mamma = call_frames(run, MAMMA)
    # besides the two calls, the vibration only gives a 300 ms buzz for each SMS kept (Mamma's
    # two: outside school mode a new message is announced at once)
    kept = [t_ms(e["t"]) for e in run.kinds("sms_kept")]
    assert len(kept) == 2
    assert run.summary["ringer_ms"] <= (mamma[1][0] - mamma[0][0]) + (gone_t - ring_t) + 2 * 300
    buzz = [r for r in ringer(run) if any(k <= r[0] <= k + 300 for k in kept)]
    assert [(on, t - k) for (t, on), k in zip(buzz, [kept[0], kept[0], kept[1], kept[1]])] == [
        (True, 0), (False, 300), (True, 0), (False, 300)], buzz
    assert [r[1] for r in ringer(run) if r not in buzz] == [True, False, True, False]


# ---- SMS ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_contacts_texts_kept_everyone_elses_dropped(sim, interp):
    run = sim("calls_day", interp)
    s = run.summary
    assert s["sms_kept"] == 2 and s["sms_dropped"] == 6
    sms_in = [(t, peer, text) for t, d, peer, text in channel(run, "sms") if d == "down"]
    # every one of the spammer's five texts reached the watch in the end: three at once, the
    # two that found the SIM store (capacity 3) full at the network's first retry, which found
    # the store emptied (the watch deletes every text it has read)
    spam_at = offset_ms(PEOPLE["Spammer"]["texts"][0]["at"])
    spam = [(t, text) for t, peer, text in sms_in if peer == SPAMMER]
    assert sorted(text for _, text in spam) == sorted(x["text"] for x in PEOPLE["Spammer"]["texts"])
    assert len([t for t, _ in spam if t == spam_at]) == SC["device"]["sms_capacity"]
    late = [t for t, _ in spam if t > spam_at]
    assert len(late) == 2 and all(t <= spam_at + SMS_RETRY_MS + 5000 for t in late), [local(t) for t in late]
    # one drop per text from a stranger, each soon after it arrived; one keep per contact text
    dropped = [t_ms(e["t"]) for e in run.kinds("sms_dropped")]
    from_strangers = sorted(t for t, peer, _ in sms_in if peer in STRANGERS)
    assert len(from_strangers) == len(dropped) == 6
    for arrived, gone in zip(from_strangers, sorted(dropped)):
        assert 0 <= gone - arrived <= 5000, (local(arrived), local(gone))
    kept = run.kinds("sms_kept")
    assert [(e["name"], e["chars"]) for e in kept] == [("Mamma", len(x["text"]))
                                                       for x in PEOPLE["Mamma"]["texts"]]
    assert not run.kinds("error")


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_kept_texts_on_flash_exact_and_bounded(sim, interp):
    run = sim("calls_day", interp)
    with open(os.path.join(run.out, "flash", "messages.json"), "rb") as f:
        items = json.loads(f.read().decode("utf-8"))
    texts = [x["text"] for x in PEOPLE["Mamma"]["texts"]]
    assert [m["from"] for m in items] == [MAMMA, MAMMA]
    assert [m["name"] for m in items] == ["Mamma", "Mamma"]
    # æøå and the emoji intact, every character
    assert items[0]["text"] == texts[0]
    assert "🙂" in items[0]["text"] and "æøå" in items[0]["text"]
    # the 1000-character text cut to 480 characters
    assert len(texts[1]) == 1000
    assert items[1]["text"] == texts[1][:TEXT_MAX]
    assert len(items[1]["text"]) == TEXT_MAX


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_strangers_texts_and_numbers_never_logged(sim, interp):
    run = sim("calls_day", interp)
    raw = open(os.path.join(run.out, "events.jsonl"), encoding="utf-8").read()
    flash = open(os.path.join(run.out, "flash", "messages.json"), "rb").read().decode("utf-8")
    words = ["friend of your dad", "Meet me", "at the gate", "Hi Emma"]
    words += [x["text"] for x in PEOPLE["Spammer"]["texts"]]  # "Win 1" ... "Win 5"
    # the numbers in every form a log might write them: +47..., 0047..., national
    numbers = [n[3:] for n in STRANGERS]
    for needle in words + numbers:
        assert needle not in raw, needle
        assert needle not in flash, needle
    # ... while the texts themselves did reach the watch (the check above is not vacuous)
    down = " ".join(text for _, d, _, text in channel(run, "sms") if d == "down")
    for needle in words:
        assert needle in down, needle


# ---- garbage and injection ----------------------------------------------------------------------


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_modem_garbage_changes_nothing(sim, interp):
    run = sim("calls_day", interp)
    fault = [e for e in SC["events"] if e["do"] == "modem_garbage"][0]
    at = offset_ms(fault["at"])
    assert [t_ms(e["t"]) for e in run.kinds("fault")] == [at]
    # it reached the firmware (the simulator sends it when the ESP32 is awake to read it): the
    # malformed +CLIP, +CMTI and +CLCC were each parsed, refused and counted
    assert run.summary["modem_bad_replies"] == 3
    hour = events_between(run, at, at + 3600000)
    phantom = [e for e in hour if e["kind"].startswith(("call_", "sms_", "sos", "ringer", "error"))]
    assert not phantom, phantom
    assert not [c for c in channel(run, "call") + channel(run, "sms") if at <= c[0] < at + 3600000]
    # the watch keeps reporting through it, and each report gets delivered, as late as its
    # batch allows at most (batch_s: three or four a transfer while the watch stands still)
    reports = [e for e in hour if e["kind"] == "report"]
    assert len(reports) >= 11
    delivered_within(run, t_ms, reports, batch_lag_ms(run))
    # no service died anywhere in the day (App._keep logs restart_ms when one does)
    assert not [e for e in run.kinds("error") if "restart_ms" in e]
    assert run.summary["boots"] == 1 and run.summary["firmware_errors"] == 0


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_at_text_inside_an_sms_is_only_text(sim, interp):
    # the stranger's text carries "OK\r\n+CIPRXGET: 1,0": read by length, it must not end a
    # command early or start a socket read; the link carries on as before
    run = sim("calls_day", interp)
    at = offset_ms(PEOPLE["Stranger"]["texts"][0]["at"])
    after = events_between(run, at, at + 900000)
    assert [e["kind"] for e in after if e["kind"].startswith("sms_")] == ["sms_dropped"]
    bad = [e for e in after if e["kind"] in ("error", "disconnect", "connect", "downlink", "modem_rebooted",
                                             "modem_unresponsive")]
    assert not bad, bad
    reports = [e for e in after if e["kind"] == "report"]
    assert len(reports) >= 2
    delivered_within(run, t_ms, reports, batch_lag_ms(run))  # in their batches, on the same link
    assert run.summary["server_connections"] == 1


# ---- nothing lost, same on both interpreters -----------------------------------------------------


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_every_report_accounted_for_by_seq(sim, interp):
    run = sim("calls_day", interp)
    n = every_report_accounted_for(run, t_ms)
    assert 287 <= n <= 289  # 24 h at 5 minutes
