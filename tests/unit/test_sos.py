"""The SOS policy as table-driven traces (time is an argument), the SMS text, the button."""
import support  # noqa: F401  (virtual time first)
from firmware import button, clock, smscodec, sos
from firmware.fix import Cell, Fix
from firmware.sos import (ALERTED, ALERTING, ANSWER, ANSWERED, CANCEL, CONNECTED, DIAL_FAILED, DIALED,
                          DIALING, DONE, ENDED, GAP, IDLE, INCOMING, KEY, RINGING, START, TIMEOUT)

NUMS = ["+4791111111", "+4792222222"]
RING_MS = 30000


def trace(rows, rounds=2, t0=clock.ticks_add(0, -5000)):
    """rows: (ms since start, event, arg, expected action, expected phase). The TIMEOUT rows
    must come exactly at the deadline the state asked for: a policy that sets the wrong
    deadline fails here. Starts near the tick wrap on purpose."""
    s = sos.State()
    for i, (at, event, arg, action, phase) in enumerate(rows):
        now = clock.ticks_add(t0, at)
        if event == TIMEOUT:
            assert s.deadline is not None and clock.ticks_diff(s.deadline, now) == 0, (i, at, s.deadline)
        got = sos.step(s, event, arg, now, RING_MS, rounds)
        assert got == action, (i, got, action)
        assert s.phase == phase, (i, sos.PHASES[s.phase], sos.PHASES[phase])
    return s


def test_voicemail_does_not_end_the_chain():
    # guardian 1's mailbox answers after 4 rings and never presses; guardian 2 presses 1
    s = trace([
        (0, START, NUMS, ("alert",), ALERTING),
        (6000, ALERTED, None, ("dial", 0), DIALING),
        (6100, DIALED, None, None, RINGING),
        (26000, ANSWER, None, None, ANSWERED),  # the mailbox picks up
        (46000, TIMEOUT, None, ("hangup", "no key"), GAP),  # no key within 20 s
        (46200, ENDED, "end", None, GAP),  # the hang-up's own end URCs change nothing
        (46300, ENDED, "no carrier", None, GAP),
        (49000, TIMEOUT, None, ("dial", 1), DIALING),
        (49100, DIALED, None, None, RINGING),
        (64000, ANSWER, None, None, ANSWERED),
        (67000, KEY, "1", ("accepted", 1), CONNECTED),
        (200000, ENDED, "end", None, DONE),
    ])
    assert s.accepted == 1 and s.outcome == "accepted"


def test_a_strangers_rejected_call_does_not_end_the_call_we_dialled():
    # a stranger rings while the SOS texts; the watch rejects it and dials; the stranger's
    # call's end ("incoming", firmware/drivers/a76xx.py) reaches the SOS after the ATD
    s = trace([
        (0, START, NUMS, ("alert",), ALERTING),
        (35000, ALERTED, None, ("dial", 0), DIALING),
        (35050, ENDED, "incoming", None, DIALING),
        (35100, DIALED, None, None, RINGING),
        (35150, ENDED, "incoming", None, RINGING),
        (40000, ANSWER, None, None, ANSWERED),
        (41000, ENDED, "incoming", None, ANSWERED),
        (43000, KEY, "1", ("accepted", 0), CONNECTED),
        (44000, ENDED, "incoming", None, CONNECTED),  # a call waiting behind ours gave up
        (90000, ENDED, "end", None, DONE),
    ])
    assert s.accepted == 0
    # a guardian who called back was answered: that incoming call's end is the end
    now = clock.ticks_add(clock.ticks_add(0, -5000), 100000)
    assert sos.step(s, INCOMING, "c", now, RING_MS, 2) == ("answer",) and s.phase == CONNECTED
    assert sos.step(s, ENDED, "incoming", now, RING_MS, 2) is None and s.phase == DONE


def test_busy_no_answer_dropped_call_and_rounds_exhausted():
    s = trace([
        (0, START, NUMS, ("alert",), ALERTING),
        (1000, ALERTED, None, ("dial", 0), DIALING),
        (1100, DIALED, None, None, RINGING),
        (3000, ENDED, "busy", None, GAP),
        (6000, TIMEOUT, None, ("dial", 1), DIALING),
        (6100, DIALED, None, None, RINGING),
        (36100, TIMEOUT, None, ("hangup", "no answer"), GAP),  # rang sos_ring_s unanswered
        (39100, TIMEOUT, None, ("dial", 0), DIALING),  # round 2
        (39200, DIAL_FAILED, None, None, GAP),  # ATD refused (a call came in just then) ...
        (42200, TIMEOUT, None, ("dial", 0), DIALING),  # ... the same contact again, once
        (42300, DIAL_FAILED, None, None, GAP),
        (45300, TIMEOUT, None, ("dial", 1), DIALING),  # then the chain goes on
        (45400, DIALED, None, None, RINGING),
        (53000, ANSWER, None, None, ANSWERED),
        (55000, ENDED, "end", None, GAP),  # answered and hung up without a key: next
        (58000, TIMEOUT, None, ("exhausted",), DONE),
    ])
    assert s.outcome == "exhausted" and s.accepted is None and s.round == 3
    # tracking goes on after an unanswered chain, and a contact calling back is answered
    now = clock.ticks_add(clock.ticks_add(0, -5000), 60000)
    assert sos.tracking_ms(s, now) == 30000 and sos.active(s, now)
    assert sos.step(s, INCOMING, "c", now, RING_MS, 2) == ("answer",) and s.phase == CONNECTED


def test_one_round_and_no_contacts():
    trace([
        (0, START, NUMS[:1], ("alert",), ALERTING),
        (1000, ALERTED, None, ("dial", 0), DIALING),
        (1100, DIALED, None, None, RINGING),
        (31100, TIMEOUT, None, ("hangup", "no answer"), GAP),
        (34100, TIMEOUT, None, ("exhausted",), DONE),
    ], rounds=1)
    s = trace([(0, START, [], ("alert",), ALERTING), (10, ALERTED, None, ("exhausted",), DONE)])
    assert s.outcome == "no contacts"


def test_second_press_changes_nothing_and_cancel_ends_everything():
    s = trace([
        (0, START, NUMS, ("alert",), ALERTING),
        (500, START, NUMS, None, ALERTING),  # a second long press while it runs
        (1000, ALERTED, None, ("dial", 0), DIALING),
        (1100, DIALED, None, None, RINGING),
        (2000, START, NUMS, None, RINGING),
        (5000, CANCEL, None, ("hangup", "cancelled"), IDLE),
        (5100, ENDED, "end", None, IDLE),
        (6000, KEY, "1", None, IDLE),
    ])
    assert s.outcome == "cancelled" and sos.tracking_ms(s, 0) is None and not sos.active(s, 0)
    # cancelling between calls needs no hang-up; a new long press after it starts a new SOS
    s = trace([
        (0, START, NUMS, ("alert",), ALERTING),
        (1000, ALERTED, None, ("dial", 0), DIALING),
        (1100, DIALED, None, None, RINGING),
        (2000, ENDED, "busy", None, GAP),
        (2500, CANCEL, None, None, IDLE),
        (2600, START, NUMS, ("alert",), ALERTING),
    ])


def test_keys_only_count_on_an_answered_call():
    trace([
        (0, START, NUMS, ("alert",), ALERTING),
        (1000, ALERTED, None, ("dial", 0), DIALING),
        (1100, DIALED, None, None, RINGING),
        (2000, KEY, "1", None, RINGING),  # a stray key before anyone answered
        (3000, INCOMING, "c", None, RINGING),  # a call-back while we dial is not taken
        (5000, ANSWER, None, None, ANSWERED),
        (6000, KEY, "5", ("accepted", 0), CONNECTED),  # any key is a person
    ])


def test_fast_tracking_schedule_across_the_tick_wrap():
    s = sos.State()
    t0 = clock.ticks_add(0, -60000)  # a minute before the 2^30 wrap
    sos.step(s, START, NUMS, t0, RING_MS, 2)
    for el, want in ((0, 30000), (599999, 30000), (600000, 120000), (2399999, 120000), (2400000, None)):
        assert sos.tracking_ms(s, clock.ticks_add(t0, el)) == want, el


def test_sms_text_fits_one_sms():
    fix = Fix(0, 59923600, 10759200, True, 0, 0, 0, 7, 8, "gnss")
    t = sos.sos_text("Emma", fix, 180, 80)
    assert t == ("SOS Emma! https://maps.google.com/?q=59.92360,10.75920 8m 3min ago. Battery 80%. "
                 "When we call you, press 1 to accept.")
    assert smscodec.encode_sms(t)[0] == "gsm" and len(t) <= 160
    # a name outside GSM 7-bit: UCS2, at most 70, the link and the figures kept
    t = sos.sos_text("Łukasz", fix, 30, 5)
    kind, body = smscodec.encode_sms(t)
    assert kind == "ucs2" and smscodec.utf16_units(t) <= 70
    assert "59.92360,10.75920" in t and "5%" in t and "now" in t
    t = sos.sos_text("Zoë 🦄 Łucja-Maria", fix, 7300, 50)
    assert smscodec.utf16_units(t) <= 70 and "59.92360,10.75920" in t and "2h ago" in t
    # never had a fix: the cell instead; no cell either: said so
    t = sos.sos_text("", None, 0, 64, Cell(242, 1, 2010, 26383618, -80))
    assert t.startswith("SOS watch! pos unknown, cell 242-1 2010/26383618.") and "64%" in t
    assert "pos unknown" in sos.sos_text("Emma", None, 0, 64)
    assert "3d ago" in sos.sos_text("Emma", fix, 3 * 86400 + 5, 64)


def test_button_long_short_and_bounce():
    for held, released, want in ((0, False, None), (10, True, None), (29, True, None), (30, True, "short"),
                                 (2999, True, "short"), (2999, False, None), (3000, False, "long"),
                                 (3000, True, "long"), (9000, False, "long")):
        assert button.classify(held, released, 3000) == want, (held, released)


def test_button_task_times_presses_from_the_edges():
    import asyncio

    from firmware.compat import sleep_ms
    from host_sim.fakes import machine as fm

    fm.WIRING.reset()
    pin_state = fm.WIRING.pin(0)
    pin_state.drive(1)
    got = []

    def press(at, ms, bounce=True):
        support.VT.after(at, lambda: pin_state.drive(0))
        if bounce:
            support.VT.after(at + 2, lambda: pin_state.drive(1))
            support.VT.after(at + 5, lambda: pin_state.drive(0))
        support.VT.after(at + ms, lambda: pin_state.drive(1))

    async def main():
        b = button.Button(fm.Pin(0, fm.Pin.IN, fm.Pin.PULL_UP))
        b.start()
        t0 = clock.ticks_ms()
        def note(kind):
            return lambda: got.append((kind, clock.ticks_diff(clock.ticks_ms(), t0)))

        task = asyncio.create_task(b.run(lambda: 3000, note("long"), note("short")))
        press(1000, 300)  # a short press with contact bounce
        press(5000, 3500)  # long: recognised at 3 s, not at the release
        press(12000, 10, False)  # 10 ms: noise
        press(15000, 9000)  # held very long: one SOS only
        await sleep_ms(30000)
        task.cancel()

    support.run(main())
    # times from the (last) falling edge: short at the first 50 ms step after the release
    assert got == [("short", 1005 + 300), ("long", 5005 + 3000), ("long", 15005 + 3000)], got
