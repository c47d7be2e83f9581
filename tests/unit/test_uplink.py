"""The uplink's delivery rule: reports leave the outbox only when an LK sent after them is
acked (Traccar never acks UD), and nothing is lost when acks do not come."""
import os

import support
from firmware import uplink, watchproto
from firmware.compat import sleep_ms
from firmware.config import Config
from firmware.outbox import Outbox

ID = "862000012345674"


class FakeModem:
    """The socket half of the A76xx driver, wired to a scripted server: it acks each LK it
    receives after `ack_ms`, unless `ack` is False."""

    def __init__(self):
        self.sent = []
        self.urgent = []
        self.opens = 0
        self.closes = 0
        self.ack = True
        self.ack_word = "LK"
        self.ack_id = ID
        self.poison = None  # bytes: a send containing them is refused (no ack, link closed)
        self.closed_cb = None
        self.ack_ms = 200
        self.refuse = False
        self.dead = False  # the server is gone without a word: every send on the socket fails
        self._rx = b""
        self._cb = None

    async def net_open(self):
        pass

    async def tcp_open(self, link, host, port, timeout_ms):
        if self.refuse:
            raise OSError(111, "refused")
        self.opens += 1

    async def tcp_close(self, link):
        self.closes += 1

    async def tcp_send(self, link, data, urgent=False):
        if self.dead:
            raise OSError(5, "AT+CIPSEND: ERROR")
        self.sent.append(data)
        self.urgent.append(urgent)
        if self.poison is not None and self.poison in data:
            # as Traccar does with a frame its decoder throws on: the channel is closed
            if self.closed_cb is not None:
                support.VT.after(100, lambda: self.closed_cb(0))
            return
        if self.ack and b"*LK" in data:
            support.VT.after(self.ack_ms, self._deliver_ack)

    def _deliver_ack(self):
        self._rx += watchproto.encode("SG", self.ack_id, self.ack_word)
        self._cb(0)

    async def tcp_recv(self, link):
        data, self._rx = self._rx, b""
        return data


def _setup(name):
    root = support.tmpdir(name)
    cfg = Config.load(root)
    cfg.update({"server_host": "tracker.example"})
    ob = Outbox(root)
    m = FakeModem()
    return m, cfg, ob


async def _run(up, ms):
    import asyncio

    tasks = [asyncio.create_task(up.run_sender()), asyncio.create_task(up.run_receiver())]
    await sleep_ms(ms)
    for t in tasks:
        t.cancel()
    await sleep_ms(1)


async def _connected(name):
    """(modem, outbox, uplink) after the session's first LK was acked."""
    m, cfg, ob = _setup(name)
    up = uplink.Uplink(m, cfg, ob, ID)
    m._cb = up.on_data
    await _run(up, 5000)
    assert up.connected
    return m, ob, up


def test_reports_removed_only_after_the_lk_behind_them_is_acked():
    async def main():
        m, cfg, ob = _setup("up1")
        for i in range(3):
            ob.put("UD,report%d" % i)
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 5000)
        assert len(ob) == 0
        # the three reports and an LK went out together, in order, as one send
        first = m.sent[0]
        order = [first.index(x) for x in (b"report0", b"report1", b"report2", b"*LK]")]
        assert order == sorted(order)
        assert b"LK," not in first  # bare: Traccar stores no position row for it
        assert up.delivered == 3

    support.run(main())


def test_a_pass_that_hangs_on_the_modem_shows_for_the_watchdog():
    async def main():
        import asyncio

        from firmware import app, clock

        m, ob, up = await _connected("up8")  # nothing to send: waiting is not a hang
        assert up.moved_at() is None
        stuck = asyncio.Event()  # a bug that never lets go of the AT channel

        async def hung(link, data, urgent=False):
            await stuck.wait()

        m.tcp_send = hung
        ob.put("UD,behind-a-deadlock")
        up.kick()
        await _run(up, 11 * 60000)
        assert len(ob) == 1 and up.moved_at() is not None
        assert not app.uplink_ok(clock.ticks_ms(), up.moved_at())

    support.run(main())


def test_a_backlog_that_drains_slowly_is_not_taken_for_a_hang():
    async def main():
        from firmware import app, clock

        m, ob, up = await _connected("up10")
        m.ack_ms = 29000  # a slow server: each batch of 16 acked just inside the 30 s bound
        for i in range(400):  # a day's outage: 25 batches, ~12 minutes in one pass
            ob.put("UD,backlog%d" % i)
        up.kick()
        await _run(up, 11 * 60000)
        assert 0 < len(ob) < 400 and up.moved_at() is not None  # still draining, in one pass
        assert app.uplink_ok(clock.ticks_ms(), up.moved_at())  # it moves: no reset

    support.run(main())


def test_a_report_held_for_its_batch_does_not_follow_the_send_under_way():
    async def main():
        m, ob, up = await _connected("up9")
        for i in range(2):
            ob.put("UD,batch%d" % i)
        send = m.tcp_send

        async def meanwhile(link, data, urgent=False):
            await send(link, data, urgent)
            if b"batch0" in data:  # a still report made while the batch is on its way
                ob.put("UD,next-batch")
                up.kick(900000)

        m.tcp_send = meanwhile
        up.kick()
        await _run(up, 60000)
        assert [s for s in m.sent if b"UD," in s] == [m.sent[1]] and b"next-batch" not in m.sent[1]
        assert len(ob) == 1  # it waits for its own batch, not a second send in the radio's tail

    support.run(main())


def test_no_ack_keeps_reports_and_resends_them_on_a_new_session():
    async def main():
        m, cfg, ob = _setup("up2")
        m.ack = False
        ob.put("UD,lost-ack")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 40000)  # past the 30 s ack timeout
        assert len(ob) == 1  # still queued
        assert m.closes >= 1 and m.opens >= 2  # the silent session was given up and reopened
        m.ack = True
        await _run(up, 400000)  # backoff, reconnect, resend
        assert len(ob) == 0
        assert m.opens >= 2
        assert sum(s.count(b"lost-ack") for s in m.sent) >= 2  # at least once more

    support.run(main())


def test_refused_connections_back_off_and_keep_everything():
    async def main():
        m, cfg, ob = _setup("up3")
        m.refuse = True
        ob.put("UD,waiting")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 60000)
        assert len(ob) == 1 and not m.sent
        assert up.backoff_s >= 20  # 5, 10, 20 ... seconds between tries, not a busy loop
        m.refuse = False
        await _run(up, 400000)
        assert len(ob) == 0

    support.run(main())


def test_heartbeat_keeps_an_idle_session_alive():
    async def main():
        m, cfg, ob = _setup("up4")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 3 * 600000 + 5000)  # three heartbeat periods, nothing to report
        lks = [s for s in m.sent if s.endswith(b"*0002*LK]")]  # bare LK heartbeats
        assert 3 <= len(lks) <= 5  # one at connect, then one per heartbeat_s
        assert m.opens == 1

    support.run(main())


def test_an_al_ack_does_not_confirm_a_batch():
    # Traccar acks an AL as soon as it reads it, before the frames after it (watch-protocol.md §4)
    async def main():
        m, cfg, ob = _setup("up5")
        m.ack_word = "AL"
        ob.put("UD,not-confirmed")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 20000)
        assert len(ob) == 1

    support.run(main())


def test_an_ack_for_another_watch_confirms_nothing():
    # issue 10 #8: any LK acknowledged the batch in flight, whatever device id it carried
    async def main():
        m, cfg, ob = _setup("up5b")
        m.ack_id = "862000099999999"
        ob.put("UD,not-ours")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 20000)
        assert len(ob) == 1 and up.delivered == 0

    support.run(main())


def test_a_report_the_server_refuses_does_not_block_the_ones_behind_it():
    # issue 10 #2: a garbled value the server's decoder throws on closed the link, and the watch
    # resent the same batch for 72 hours. Now: twice unacked, then a probe and one at a time;
    # the one refused alone twice (after acked probes) is dropped, the others all delivered.
    async def main():
        events = _recording()
        m, cfg, ob = _setup("up-poison")
        m.poison = b"GARBLED"
        for i in range(6):
            ob.put("UD,GARBLED" if i == 2 else "UD,report%d" % i)
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb, m.closed_cb = up.on_data, up.on_closed
        await _run(up, 1200000)
        assert len(ob) == 0 and up.delivered == 5 and up.rejected == 1
        rejected = [f for k, f in events if k == "report_rejected"]
        assert [f["seq"] for f in rejected] == [3]
        sent = b"".join(m.sent)
        for i in (0, 1, 3, 4, 5):
            assert b"UD,report%d" % i in sent
        assert m.opens <= 6  # a handful of sessions, not hundreds
        from firmware import log

        log.set_sink(None)

    support.run(main())


def test_an_outage_drops_nothing_however_long():
    # the other side of the rule above: a link that acks nothing (not even a bare LK probe)
    # is the network's or the server's fault, and no report is ever dropped for it
    async def main():
        m, cfg, ob = _setup("up-outage")
        m.ack = False
        for i in range(3):
            ob.put("UD,report%d" % i)
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb, m.closed_cb = up.on_data, up.on_closed
        await _run(up, 3 * 3600 * 1000)
        assert len(ob) == 3 and up.rejected == 0 and m.opens >= 10
        m.ack = True
        await _run(up, 3600 * 1000)
        assert len(ob) == 0 and up.delivered == 3

    support.run(main())


def _damage(ob, marker):
    """Flip a byte of a record on flash, behind the outbox's back (bit rot after boot)."""
    seg = ob.dir + "/" + [n for n in os.listdir(ob.dir) if n.endswith(".log")][0]
    data = bytearray(open(seg, "rb").read())
    data[data.find(marker)] ^= 0xFF
    with open(seg, "wb") as f:
        f.write(data)


def test_a_record_damaged_after_boot_does_not_hold_back_the_others():
    async def main():
        m, cfg, ob = _setup("up6")
        for i in range(3):
            ob.put("UD,record-%d" % i)
        _damage(ob, b"record-1")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 20000)
        sent = b"".join(m.sent)
        assert b"record-0" in sent and b"record-2" in sent and b"record-1" not in sent
        assert len(ob) == 0

    support.run(main())


def test_an_unreadable_queue_is_repaired_not_spun_on():
    # pending() finds nothing readable while len() still counts the damaged record: the sender
    # must repair the outbox, not loop on it (a busy loop stalls virtual time: SimStalled)
    async def main():
        m, cfg, ob = _setup("up7")
        ob.put("UD,only-record")
        _damage(ob, b"only-record")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 20000)
        assert len(ob) == 0 and ob.corrupt == 1
        assert not [s for s in m.sent if b"only-record" in s]

    support.run(main())


def test_alarms_go_first_even_behind_hundreds_of_reports():
    async def main():
        m, cfg, ob = _setup("up-al")
        root = ob.dir.rsplit("/", 1)[0]
        al = Outbox(root, 64, 16, "alarms")
        for i in range(300):  # an outage's backlog
            ob.put("UD,old%03d" % i)
        up = uplink.Uplink(m, cfg, ob, ID, al)
        m._cb = up.on_data
        import asyncio

        sender = asyncio.create_task(up.run_sender())
        receiver = asyncio.create_task(up.run_receiver())
        await sleep_ms(300)  # connected; the first batch of the backlog is out, its ack due
        sent_before = len(m.sent)
        al.put("AL,sos")
        assert await up.alarm_written(1500)  # the SOS waits on this before its SMS
        at = [i for i, s in enumerate(m.sent) if b"AL,sos" in s]
        assert at == [sent_before]  # the very next send carries it ...
        first = m.sent[at[0]]
        assert first.index(b"AL,sos") < first.index(b"UD,old")  # ... ahead of the reports in it
        assert m.urgent[at[0]] and not any(m.urgent[:at[0]])  # and goes first on the AT channel
        await sleep_ms(60000)
        sender.cancel()
        receiver.cancel()
        await sleep_ms(1)
        assert len(al) == 0 and len(ob) == 0  # everything delivered, nothing lost
        assert sum(s.count(b"AL,sos") for s in m.sent) == 1
        # without a session, nobody waits for the alarm
        up.connected = False
        assert not await up.alarm_written(1500)

    support.run(main())


# ---- a broken or hostile server must not drain the battery (issue 8) ----


def _tricklers(m, every_ms, data):
    """The server's side of the fake socket: `data` one byte every every_ms, for ever."""
    state = {"i": 0}

    def tick():
        m._rx += data[state["i"] % len(data):state["i"] % len(data) + 1]
        state["i"] += 1
        m._cb(0)
        support.VT.after(every_ms, tick)

    support.VT.after(every_ms, tick)


def _disconnects(events):
    return [f for k, f in events if k == "disconnect"]


def _recording():
    from firmware import log

    events = []
    log.set_sink(lambda kind, fields: events.append((kind, fields)))
    return events


def test_bad_backoff_doubles_from_a_minute_to_half_an_hour():
    assert [uplink.bad_backoff(n) for n in (0, 1, 2, 3, 4, 5, 6, 7, 1000)] == [
        0, 60, 120, 240, 480, 960, 1800, 1800, 1800]


def test_a_trickling_server_is_dropped_and_waited_out():
    async def main():
        from firmware import log

        events = _recording()
        m, cfg, ob = _setup("up-trickle")
        ob.put("UD,first")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        _tricklers(m, 5000, b"[SG*1*0400*MESSAGE,0000000000")  # slowloris: never a whole frame
        await _run(up, 30000)
        assert len(ob) == 0  # the ack came whole before the trickle: delivered
        bad = _disconnects(events)
        assert len(bad) == 1 and bad[0]["why"].startswith("trickle") and bad[0]["strikes"] == 1
        assert bad[0]["retry_s"] == 60 and up.strikes == 1
        opens = m.opens  # dropped at 15 s: the third read of the trickle, 10 s after the first
        await _run(up, 25000)
        ob.put("UD,second")
        up.kick()
        await _run(up, 1000)
        assert m.opens == opens and len(ob) == 1  # within the minute: no session for a report
        await _run(up, 40000)
        assert m.opens == opens + 1 and len(ob) == 0  # after it: delivered (and dropped again)
        assert up.strikes == 2 and _disconnects(events)[-1]["retry_s"] == 120
        log.set_sink(None)

    support.run(main())


def test_a_flood_of_commands_is_cut_off_after_twelve():
    async def main():
        events = _recording()
        m, cfg, ob = _setup("up-flood")
        applied = []

        def on_command(f):
            applied.append(f.content)
            return watchproto.encode("SG", ID, "PING")

        up = uplink.Uplink(m, cfg, ob, ID, on_command=on_command)
        m._cb = up.on_data
        await _run(up, 2000)  # connected, heartbeat acked
        m._rx += b"".join(watchproto.encode("SG", ID, "PING,%d" % i) for i in range(40))
        m._cb(0)
        await _run(up, 2000)
        assert len(applied) == 12  # the thirteenth frame nobody asked for ends the session
        assert [f["why"] for f in _disconnects(events)] == ["13 frames not asked for in an hour"]
        assert not [s for s in m.sent if b"PING" in s]  # no replies to a flood
        from firmware import log

        log.set_sink(None)

    support.run(main())


def test_a_flood_of_bytes_is_cut_off_within_a_minute():
    async def main():
        events = _recording()
        m, cfg, ob = _setup("up-bytes")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        await _run(up, 2000)
        for _ in range(3):  # 3 x 4000 bytes of garbage outside any frame
            m._rx += b"x" * 4000
            m._cb(0)
            await _run(up, 500)
        bad = _disconnects(events)
        assert len(bad) == 1 and bad[0]["why"] == "flood: 12028 bytes in a minute"  # and the ack
        from firmware import log

        log.set_sink(None)

    support.run(main())


def test_unacked_sessions_count_from_the_second_and_a_new_alarm_skips_the_wait():
    async def main():
        events = _recording()
        m, cfg, ob = _setup("up-noack")
        root = ob.dir.rsplit("/", 1)[0]
        al = Outbox(root, 64, 16, "alarms")
        m.ack = False
        ob.put("UD,waiting")
        up = uplink.Uplink(m, cfg, ob, ID, al)
        m._cb = up.on_data
        await _run(up, 70000)  # two sessions of 30 s without an ack
        d = _disconnects(events)
        assert [x.get("strikes") for x in d] == [None, 1]  # one lost ack may be the network's
        assert d[1]["retry_s"] == 60
        opens = m.opens
        al.put("AL,sos")
        up.kick()
        await _run(up, 6000)  # an alarm queued since: it goes at once (after 5 s), ...
        assert m.opens == opens + 1 and b"AL,sos" in m.sent[-1]
        await _run(up, 60000)  # ... once: unacked again, the next wait holds
        assert m.opens == opens + 1
        assert len(al) == 1 and len(ob) == 1  # nothing acked, nothing lost
        m.ack = True
        await _run(up, 1900000)  # the server behaves again: everything goes after the wait
        assert len(al) == 0 and len(ob) == 0
        from firmware import log

        log.set_sink(None)

    support.run(main())


def test_held_reports_go_together_at_their_deadline_and_an_alarm_takes_them_at_once():
    from firmware.outbox import Outbox as Box

    async def main():
        import asyncio

        m, cfg, ob = _setup("uphold")
        al = Box(support.tmpdir("uphold-al"), 64, name="alarms")
        up = uplink.Uplink(m, cfg, ob, ID, al)
        m._cb = up.on_data
        tasks = [asyncio.create_task(up.run_sender()), asyncio.create_task(up.run_receiver())]
        await sleep_ms(5000)  # connected, the first LK acked
        sends = len(m.sent)
        for i in range(3):  # three reports five minutes apart, each allowed to wait 15 minutes
            ob.put("UD,held%d" % i)
            up.kick(900000)
            await sleep_ms(300000)
        assert len(m.sent) == sends and len(ob) == 3  # all held, and no heartbeat meanwhile
        await sleep_ms(5000)  # the first one's deadline: all three in one send
        assert len(m.sent) == sends + 1 and len(ob) == 0
        assert all(b"held%d" % i in m.sent[-1] for i in range(3))
        ob.put("UD,next")
        up.kick(900000)
        await sleep_ms(1000)
        assert len(ob) == 1
        al.put("AL,alarm")  # an alarm never waits, and takes the held report along
        up.kick()
        await sleep_ms(2000)
        assert len(ob) == 0 and len(al) == 0 and b"AL,alarm" in m.sent[-1] and b"UD,next" in m.sent[-1]
        for t in tasks:
            t.cancel()
        await sleep_ms(1)

    support.run(main())


def test_an_sos_does_not_wait_for_a_send_into_a_dead_session():
    # sos_park with batch_s 900: the watch stood still, its reports held, when the server went
    # down; the SOS's alarm went into the dead session, its send failed at once, and the SOS
    # still waited the whole bound for "written" before its SMS
    from firmware import clock
    from firmware.outbox import Outbox as Box

    async def main():
        import asyncio

        m, cfg, ob = _setup("up-dead")
        al = Box(support.tmpdir("up-dead-al"), 64, name="alarms")
        up = uplink.Uplink(m, cfg, ob, ID, al)
        m._cb = up.on_data
        tasks = [asyncio.create_task(up.run_sender()), asyncio.create_task(up.run_receiver())]
        await sleep_ms(5000)  # connected, the first LK acked
        ob.put("UD,held")
        up.kick(900000)  # standing still: the report waits for its batch
        await sleep_ms(60000)
        m.dead = True  # the server went away; nothing tells the watch until it sends
        assert up.connected and len(ob) == 1
        al.put("AL,sos")
        t0 = clock.ticks_ms()
        assert not await up.alarm_written(1500)  # not written: the session died under it
        assert clock.ticks_diff(clock.ticks_ms(), t0) < 100  # ... and the SMS need not wait
        assert not up.connected and len(al) == 1 and len(ob) == 1  # both still queued
        m.dead = False  # the server is back: the alarm goes first, the held report with it
        await sleep_ms(30000)
        assert len(al) == 0 and len(ob) == 0
        first = [x for x in m.sent if b"AL,sos" in x][0]
        assert first.index(b"AL,sos") < first.index(b"UD,held")
        for t in tasks:
            t.cancel()
        await sleep_ms(1)

    support.run(main())


def test_held_reports_never_keep_the_session_silent_past_traccars_idle_timeout():
    # heartbeat_s at its most (1740 s) and batch_s 900: a report held just before the heartbeat
    # came due went 900 s later, ~2600 s after the last ack, and Traccar (1800 s idle) had
    # dropped the session by then
    from firmware import clock

    async def main():
        import asyncio

        m, cfg, ob = _setup("up-silent")
        cfg.update({"heartbeat_s": 1740, "batch_s": 900})
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        tasks = [asyncio.create_task(up.run_sender()), asyncio.create_task(up.run_receiver())]
        await sleep_ms(5000)  # connected, the first LK acked
        acked = up._last_ack
        sends = len(m.sent)
        await sleep_ms(1700000)
        assert len(m.sent) == sends  # no heartbeat yet
        ob.put("UD,held")
        up.kick(900000)
        await sleep_ms(30000)
        assert len(m.sent) == sends  # held: 1730 s of silence so far
        await sleep_ms(30000)
        assert len(m.sent) == sends + 1 and b"UD,held" in m.sent[-1] and len(ob) == 0
        assert clock.ticks_diff(up._last_ack, acked) < 1800000  # within Traccar's idle timeout
        for t in tasks:
            t.cancel()
        await sleep_ms(1)

    support.run(main())


def test_the_answer_to_locate_now_is_not_held_for_a_batch():
    # a guardian's CR ("locate now") at a learned place indoors: the report that answers it was
    # held 15 minutes for its batch like any other made while the watch stood still
    async def main():
        import asyncio

        m, cfg, ob = _setup("up-asked")
        up = uplink.Uplink(m, cfg, ob, ID)
        m._cb = up.on_data
        tasks = [asyncio.create_task(up.run_sender()), asyncio.create_task(up.run_receiver())]
        await sleep_ms(5000)  # connected, the first LK acked
        sends = len(m.sent)
        ob.put("UD,held")
        up.kick(900000)
        await sleep_ms(60000)
        assert len(m.sent) == sends  # held
        up.asked()  # CR: the reporter starts a report now
        await sleep_ms(20000)  # the scan, the cell, the GNSS window: then the answer is queued
        assert len(m.sent) == sends
        ob.put("UD,answer")
        up.kick(900000)  # standing still, as before
        await sleep_ms(2000)
        assert len(m.sent) == sends + 1 and len(ob) == 0  # at once, with the held one
        assert b"UD,held" in m.sent[-1] and b"UD,answer" in m.sent[-1]
        await sleep_ms(300000)
        ob.put("UD,later")  # the next report waits for its batch again
        up.kick(900000)
        await sleep_ms(2000)
        assert len(ob) == 1
        for t in tasks:
            t.cancel()
        await sleep_ms(1)

    support.run(main())


def test_a_new_session_sends_held_reports_at_once():
    # after a reboot (no ack yet on this session) held reports go with the first send: it also
    # binds the session at the server; before this the sender spun waiting for a heartbeat
    # it never sent
    async def main():
        m, cfg, ob = _setup("uphold2")
        ob.put("UD,held")
        up = uplink.Uplink(m, cfg, ob, ID)
        up.kick(900000)
        m._cb = up.on_data
        await _run(up, 5000)
        assert len(ob) == 0 and b"UD,held" in m.sent[0]

    support.run(main())


def test_an_alarm_after_a_refused_report_and_a_new_alarm_behind_a_suspected_one_go_at_once():
    # the careful pass goes on after the refused report was dropped (its suspect forgotten):
    # an alarm then goes alone, no TypeError; and with an alarm already suspected (sent alone,
    # unacked) a newer one does not wait for a probe that a server storing without acks never
    # answers (hostile_never_ack: every crossing's AL must reach the server within seconds)
    async def main():
        events = _recording()
        m, cfg, ob = _setup("up-poison-al")
        root = ob.dir.rsplit("/", 1)[0]
        al = Outbox(root, 64, 16, "alarms")
        m.poison = b"GARBLED"
        for i in range(4):
            ob.put("UD,GARBLED" if i == 1 else "UD,report%d" % i)
        up = uplink.Uplink(m, cfg, ob, ID, al)
        m._cb, m.closed_cb = up.on_data, up.on_closed
        await _run(up, 1200000)
        assert up.rejected == 1 and len(ob) == 0 and up._careful and up._suspect is None
        al.put("AL,zone1")
        up.kick()
        await _run(up, 60000)
        assert len(al) == 0 and not [f for k, f in events if k == "error"]
        # a server that stores and never acks: the first alarm goes, unacked, and is suspected;
        # the second is sent at once, not held behind a probe
        m.ack = False
        al.put("AL,zone2")
        up.kick()
        await _run(up, 120000)
        al.put("AL,zone3")
        up.kick()
        await _run(up, 20000)
        assert b"AL,zone3" in b"".join(m.sent)
        from firmware import log

        log.set_sink(None)

    support.run(main())
