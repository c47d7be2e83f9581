"""Telephony and the SOS service over a fake modem: the whitelist at the door, kept and dropped
SMS, and the SOS shell running its policy with phones that answer by behaviour."""
import support  # first: virtual time before asyncio

import asyncio  # noqa: E402
from firmware import clock, sos
from firmware.compat import sleep_ms
from firmware.config import Config
from firmware.contacts import Contacts
from firmware.drivers import events as ev
from firmware.drivers.a76xx import Sms
from firmware.fix import Cell
from firmware.sos import Sos
from firmware.telephony import Telephony

CONTACTS = [
    {"name": "Mamma", "number": "911 11 111", "roles": ["guardian", "sos"]},
    {"name": "Pappa", "number": "+47 922 22 222", "roles": ["guardian", "sos"]},
    {"name": "Bestemor", "number": "0047 933 33 333", "roles": ["friend"]},
]


class FakePhone:
    """The voice/SMS half of the A76xx driver. Each callee answers by a behaviour:
    (answer_after_ms or None, key_after_ms or None). Events go to `sink(kind, a, b)`."""

    def __init__(self):
        self.log = []
        self.sink = lambda kind, a, b: None
        self.behaviour = {}
        self.sim = {}  # index -> Sms on the SIM
        self.sms_out = []
        self.sms_ms = 2000
        self._gen = 0

    def _later(self, ms, kind, a, b=None):
        gen = self._gen
        support.VT.after(ms, lambda: gen == self._gen and self.sink(kind, a, b))

    async def dial(self, number, urgent=False):
        self.log.append((support.VT.ms, "dial", number, urgent))
        self._gen += 1
        answer, key = self.behaviour.get(number, (None, None))
        if answer is not None:
            self._later(answer, ev.CALL, ev.CALL_ACTIVE)
            if key is not None:
                self._later(answer + key, ev.DTMF, "1")

    async def hangup(self, urgent=False):
        self.log.append((support.VT.ms, "hangup", None, urgent))
        self._gen += 1
        self._later(50, ev.CALL, ev.CALL_ENDED, "end")

    async def answer(self, urgent=False):
        self.log.append((support.VT.ms, "answer", None, urgent))

    async def sms_send(self, number, text, urgent=False):
        await sleep_ms(self.sms_ms)
        self.sms_out.append((support.VT.ms, number, text, urgent))
        return len(self.sms_out)

    async def sms_read(self, index):
        return self.sim.get(index)

    async def sms_delete(self, index):
        self.log.append((support.VT.ms, "delete", index, False))
        self.sim.pop(index, None)


def _cfg(name, **kw):
    root = support.tmpdir(name)
    cfg = Config.load(root)
    values = {"contacts": CONTACTS, "country_code": "47", "wearer": "Emma"}
    values.update(kw)
    cfg.update(values)
    return root, cfg


def _count(events, kind):
    return len([1 for k, _ in events if k == kind])


def test_strangers_and_withheld_are_hung_up_contacts_ring():
    async def main():
        root, cfg = _cfg("tel1")
        phone = FakePhone()
        ring = []
        tel = Telephony(phone, lambda: Contacts(cfg["contacts"], "47"), ring.append, root)
        task = asyncio.create_task(tel.run())
        tel.on_ring("+4799999999", 145)
        tel.on_ring("+4799999999", 145)  # the same call ringing again: one decision
        await sleep_ms(10)
        tel.on_call(ev.CALL_ENDED, "end")
        tel.on_ring("", 128)  # withheld
        await sleep_ms(10)
        tel.on_call(ev.CALL_ENDED, "end")
        assert [x[1] for x in phone.log] == ["hangup", "hangup"] and phone.log[0][3]  # urgent
        assert ring == [] and _count(got, "call_rejected") == 2
        tel.on_ring("91111111", 129)  # Mamma, national form from the network
        assert ring == [True] and tel.ringing
        assert tel.answer_if_ringing()  # the short press
        await sleep_ms(10)
        assert phone.log[-1][1] == "answer"
        tel.on_call(ev.CALL_ACTIVE)
        assert ring == [True, False] and not tel.ringing and not tel.answer_if_ringing()
        tel.on_call(ev.CALL_ENDED, "end")
        tel.on_ring("+4793333333", 145)  # Bestemor (a friend) rings too, then gives up
        tel.on_call(ev.CALL_ENDED, "no carrier")
        assert ring == [True, False, True, False] and _count(got, "call_ringing") == 2
        phone.line_busy = True  # our SOS call is up: a stranger ringing in is not hung up on
        n = len(phone.log)
        tel.on_ring("+4798888888", 145)
        await sleep_ms(10)
        assert len(phone.log) == n and _count(got, "call_rejected") == 2
        phone.line_busy = False
        task.cancel()
        # outgoing: only to contacts
        await support.araises(ValueError, tel.send_sms("+4799999999", "hi"))
        await support.araises(ValueError, tel.dial("+4799999999"))
        assert await tel.send_sms("+4792222222", "hi") == 1

    with support.Events() as got:
        support.run(main())
    rejected = [f for k, f in got if k == "call_rejected"]
    assert rejected == [{"caller": "*99", "withheld": False}, {"caller": "withheld", "withheld": True}]


def test_sms_kept_from_contacts_dropped_from_strangers_never_logged():
    root, cfg = _cfg("tel2")

    async def main():
        phone = FakePhone()
        tel = Telephony(phone, lambda: Contacts(cfg["contacts"], "47"), lambda on: None, root)
        phone.sim = {1: Sms(1, "+4799999999", 145, "26/09/14,09:15:00+08", 0, "Meet me at the gate"),
                     2: Sms(2, "91111111", 129, "26/09/14,16:45:00+08", 8, "Kom hjem 🙂 æøå"),
                     3: Sms(3, "+4791111111", 145, "26/09/14,19:30:00+08", 0, "x" * 1000)}
        task = asyncio.create_task(tel.run())
        for i in (1, 2, 3, 7):  # 7: an index that is empty by now
            tel.on_sms(i)
        await sleep_ms(10)
        # a direct +CMT (not on the SIM): handled the same, nothing to delete
        tel.on_sms(Sms(None, "+4792222222", 145, "26/09/14,20:00:00+08", 0, "Pappa her"))
        await sleep_ms(10)
        assert phone.sim == {} and [x[2] for x in phone.log if x[1] == "delete"] == [1, 2, 3]
        # a power cut after saving and before deleting: the SMS is read again, kept once
        phone.sim = {2: Sms(2, "91111111", 129, "26/09/14,16:45:00+08", 8, "Kom hjem 🙂 æøå")}
        tel2 = Telephony(phone, lambda: Contacts(cfg["contacts"], "47"), lambda on: None, root)
        task2 = asyncio.create_task(tel2.run())
        tel2.on_sms(2)
        await sleep_ms(10)
        task.cancel()
        task2.cancel()
        return tel2.inbox.items

    with support.Events() as got:
        items = support.run(main())
    assert [(m["name"], m["text"]) for m in items] == [
        ("Mamma", "Kom hjem 🙂 æøå"), ("Mamma", "x" * 480), ("Pappa", "Pappa her")]
    assert items[0]["from"] == "+4791111111"  # stored normalised
    dropped = [f for k, f in got if k == "sms_dropped"]
    assert dropped == [{}]  # the fact only: no number, no text
    text = repr(got)
    assert "gate" not in text and "9999" not in text


def test_sos_service_voicemail_then_key_with_no_fix_weak_battery_and_no_server():
    root, cfg = _cfg("sos1", sos_ring_s=30, sos_rounds=2)

    async def main():
        phone = FakePhone()
        contacts = Contacts(cfg["contacts"], "47")
        phone.behaviour = {"+4791111111": (20000, None),  # voicemail after 20 s, never a key
                           "+4792222222": (15000, 3000)}  # a person: answers, presses 1
        alarms = []

        async def alarm(status):
            alarms.append((support.VT.ms, status))
            return 7  # no session: the alarm waits in its outbox, nothing to wait for

        s = Sos(phone, cfg, lambda: contacts, alarm, lambda n, t: phone.sms_send(n, t, True),
                lambda: (None, 0, Cell(242, 1, 2010, 26383618, -90)), lambda: 3)

        def sink(kind, a, b):
            if kind == ev.CALL:
                s.on_call(a, b)
            else:
                s.on_dtmf(a)

        phone.sink = sink
        task = asyncio.create_task(s.run())
        t0 = support.VT.ms
        s.trigger()
        await sleep_ms(2000)
        s.trigger()  # a second long press changes nothing
        await sleep_ms(200000)
        track = s.tracking_ms()
        task.cancel()
        return t0, alarms, phone, track

    with support.Events() as got:
        t0, alarms, phone, track = support.run(main())
    assert alarms == [(t0, 0x00010000)]  # at once
    # both SOS SMS before the first call (SMS commands fail during a call, A76-SMS §2)
    sms = [(t - t0, n) for t, n, _, urgent in phone.sms_out if urgent]
    assert sms == [(2000, "+4791111111"), (4000, "+4792222222")]
    text = phone.sms_out[0][2]
    assert "pos unknown, cell 242-1 2010/26383618" in text and "3%" in text
    calls = [(t - t0, what, n) for t, what, n, urgent in phone.log if urgent]
    assert calls == [(4000, "dial", "+4791111111"),  # rings; the mailbox answers at 24 s
                     (44000, "hangup", None),  # no key within 20 s of the answer
                     (47000, "dial", "+4792222222"),  # 3 s gap
                     ]
    accepted = [f for k, f in got if k == "sos_accepted"]
    assert accepted == [{"by": "Pappa", "ms": 65000, "round": 1}]
    assert [k for k, f in got if k == "sos_ignored"] == ["sos_ignored"]
    assert track == 30000  # fast tracking runs


def _sos(cfg, phone, contacts):
    """An Sos over the fake phone, no position, battery 50 %, alarms queued at once."""
    async def alarm(status):
        return 1

    s = Sos(phone, cfg, lambda: contacts, alarm, lambda n, t: phone.sms_send(n, t, True),
            lambda: (None, 0, None), lambda: 50)
    phone.sink = lambda kind, a, b: s.on_call(a, b)
    return s


def test_sos_cancel_hangs_up_and_ends_tracking():
    root, cfg = _cfg("sos2")

    async def main():
        phone = FakePhone()
        contacts = Contacts(cfg["contacts"], "47")
        phone.sms_ms = 100

        s = _sos(cfg, phone, contacts)
        task = asyncio.create_task(s.run())
        s.trigger()
        await sleep_ms(5000)  # ringing Mamma (nobody answers in this test)
        assert sos.active(s.s, clock.ticks_ms()) and s.tracking_ms() == 30000
        s.cancel()
        await sleep_ms(100)
        assert phone.log[-1][1] == "hangup" and not sos.active(s.s, clock.ticks_ms())
        assert s.tracking_ms() is None
        await sleep_ms(100000)
        task.cancel()
        return [x[1] for x in phone.log]

    with support.Events():
        assert support.run(main()) == ["dial", "hangup"]  # nothing after the cancel


def test_contacts_in_config_are_validated_and_bad_entries_skipped():
    root, cfg = _cfg("cfgc")
    c = Contacts(cfg["contacts"], cfg["country_code"])
    assert [x.number for x in c.sos()] == ["+4791111111", "+4792222222"]
    # a duplicate after normalisation is skipped, not fatal
    c = Contacts(CONTACTS + [{"name": "Again", "number": "+4791111111", "roles": ["friend"]}], "47")
    assert len(c) == 3 and c.skipped and c.skipped[0][0] == 3
    for bad in ({"contacts": [{"name": "", "number": "1", "roles": []}]}, {"country_code": "047"},
                {"wearer": 'Emma "x"'}, {"sos_ring_s": 5}, {"sos_rounds": 9}, {"sos_press_ms": 100}):
        e = support.raises(ValueError, cfg.update, bad)
        assert e.field == list(bad)[0]
    assert clock.ticks_ms() is not None


def test_sos_sms_that_failed_goes_again_before_the_next_call():
    root, cfg = _cfg("sos3", sos_rounds=1)

    async def main():
        phone = FakePhone()
        phone.sms_ms = 100
        contacts = Contacts(cfg["contacts"], "47")
        fails = {"+4791111111": 2}  # the network refuses Mamma's SMS twice (CMS 332 timeouts)
        send = phone.sms_send

        async def flaky(number, text, urgent=False):
            if fails.get(number):
                fails[number] -= 1
                raise OSError(5, "+CMS ERROR: 332")
            return await send(number, text, urgent)

        phone.sms_send = flaky

        s = _sos(cfg, phone, contacts)
        task = asyncio.create_task(s.run())
        s.trigger()
        await sleep_ms(200000)
        task.cancel()
        await sleep_ms(1)
        return phone

    with support.Events() as got:
        phone = support.run(main())
    order = [("sms", n) for _, n, _, _ in phone.sms_out]
    kinds = [(k, f.get("to")) for k, f in got if k in ("sos_sms", "sos_sms_failed", "sos_call")]
    assert kinds == [("sos_sms_failed", "Mamma"), ("sos_sms", "Pappa"), ("sos_call", "Mamma"),
                     ("sos_sms_failed", "Mamma"), ("sos_call", "Pappa"), ("sos_sms", "Mamma")]
    assert order == [("sms", "+4792222222"), ("sms", "+4791111111")]


def test_slow_sms_do_not_hold_back_the_first_call():
    root, cfg = _cfg("sos4", sos_rounds=1)

    async def main():
        phone = FakePhone()
        phone.sms_ms = 12000  # the network takes 12 s for each (the manual allows 40 s)
        phone.behaviour = {"+4791111111": (None, None),  # Mamma does not answer
                           "+4792222222": (5000, 2000)}  # Pappa answers and presses 1
        s = _sos(cfg, phone, Contacts(cfg["contacts"], "47"))

        def sink(kind, a, b):
            s.on_dtmf(a) if kind == ev.DTMF else s.on_call(a, b)

        phone.sink = sink
        task = asyncio.create_task(s.run())
        t0 = support.VT.ms
        s.trigger()
        await sleep_ms(200000)
        task.cancel()
        await sleep_ms(1)
        return t0, phone

    with support.Events():
        t0, phone = support.run(main())
    order = [(t - t0, "sms", n) for t, n, _, _ in phone.sms_out]
    order += [(t - t0, what, n) for t, what, n, _ in phone.log if what == "dial"]
    order.sort(key=lambda x: (x[0], x[1] == "dial"))  # an SMS is logged when the network took it
    # Mamma's SMS (started at once, done at 12 s) is past the 10 s budget: Mamma is called
    # next; Pappa's SMS goes before Pappa's call
    assert [(w, n) for _, w, n in order] == [("sms", "+4791111111"), ("dial", "+4791111111"),
                                           ("sms", "+4792222222"), ("dial", "+4792222222")], order
    assert order[1][0] == 12000 and order[2][0] == 57000  # Pappa's SMS after 30 s of ringing + 3 s
