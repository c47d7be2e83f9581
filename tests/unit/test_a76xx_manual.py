"""The driver against the emulator where the A76xx AT manual (V1.09) says how the module behaves:
network time only with AT+CTZU=1 and only after registration (§4.2.12), the network half-open
after NETWORK CLOSED UNEXPECTEDLY until AT+NETCLOSE (§15.4), AT+CIPTIMEOUT (§15.2.12), the
refusal and failure forms of the socket commands (§15.2.3-15.2.5, §15.3) and the variants
without GNSS or voice (ATI, §2.2.7; hardware.md §1.2a). Each test fails on a driver, or a
service, that ignores the behaviour."""
import support
import asyncio

from fakepeer import RecordingServer
from test_modem_emulator import ICCID, IMEI, Meter, scenario

from firmware import clock, fsutil, sos
from firmware.compat import sleep_ms
from firmware.drivers.a76xx import A76xx, SocketError, capabilities, parse_model
from firmware.drivers.at import ATError, ATTimeout
from firmware.positioning import Positioning
from firmware.telephony import Telephony
from host_sim import world as W
from host_sim.fakes import machine as fm
from host_sim.modem_a76xx import NITZ_MS, A76xxEmulator

VT = support.VT
M = 60000
HOST, PORT = "tracker.trygg.test", 5093
MAMMA = "+4791111111"


class Bench:
    """The emulated modem and the driver on one fake UART, inside a running loop (support.run
    resets virtual time first). kw: scenario keys; emu: emulator options. `sent` holds every
    command line the driver wrote."""

    def __init__(self, emu=None, **kw):
        fm.WIRING.reset()
        self.world = W.World(scenario(**kw), VT)
        self.server = RecordingServer(ack=b"[ACK]")
        self.world.add_server(HOST, "192.0.2.10", PORT, self.server)
        self.emu = A76xxEmulator(VT, self.world, IMEI, ICCID, meter=Meter(), **(emu or {}))
        self.frames = []
        self.emu.wire = lambda d, ch, peer, data: self.frames.append((d, ch, peer, data))
        fm.WIRING.attach_uart(26, 27, self.emu)
        self.emu.attach_pins(pwrkey=fm.WIRING.pin(4), dtr=fm.WIRING.pin(25), ri=fm.WIRING.pin(33))
        self.sent = []
        take = self.emu.on_host_write

        def write(data):
            if data.endswith(b"\r"):
                self.sent.append(str(data[:-1], "ascii"))
            take(data)

        self.emu.on_host_write = write
        uart = fm.UART(1, 115200, tx=26, rx=27)
        self.m = A76xx(uart, fm.Pin(4, fm.Pin.OUT, value=0), fm.Pin(25, fm.Pin.OUT, value=0),
                       fm.Pin(33, fm.Pin.IN))

    async def up(self):
        """Power on (the set-up included), SIM, registration."""
        m = self.m
        m.start()
        await m.power_on()
        assert await m.wait_sim()
        assert await m.wait_registered(30000, 500)
        return m

    def count(self, prefix):
        return len([c for c in self.sent if c.startswith(prefix)])


async def _wait_until(fn, ms, step=100):
    for _ in range(ms // step):
        if fn():
            return True
        await sleep_ms(step)
    return fn()


# ==================================================================== network time (A76-ATM §4.2.12)


def test_setup_turns_network_time_on_and_reads_it_once_it_comes():
    async def main():
        b = Bench()
        assert b.emu.ctzu == 0  # the factory value
        m = await b.up()
        assert b.emu.ctzu == 1 and b.count("AT+CTZU=1") == 1
        i = b.sent.index
        assert i("AT+CFGRI=1") < i("ATI") < i("AT+CTZU=1") < i("AT+CIPTIMEOUT=20000,20000,20000")
        # registered, but NITZ comes seconds later: the modem's unset clock (70/01/01) is no time
        assert await m.network_time() is None
        await sleep_ms(NITZ_MS)
        t = await m.network_time()
        assert t is not None and abs(t - b.world.utc()) <= 1 and m.net_offset_min == 120
        # a modem restart: the clock is gone, the setting is not (nonvolatile): not sent again
        b.emu.reboot()
        await sleep_ms(15000)
        await m.power_on()
        assert b.count("AT+CTZU=1") == 1 and b.count("ATI") == 1 and b.count("AT+CIPTIMEOUT=") == 2
        assert await m.wait_registered(30000, 500)
        assert await m.network_time() is None
        await sleep_ms(NITZ_MS)
        assert await m.network_time() is not None

    support.run(main())


def test_without_ctzu_the_time_never_comes():
    # a driver that skips AT+CTZU=1 on a factory-fresh module: NITZ arrives and is ignored
    async def main():
        b = Bench()
        m = b.m
        m._ctzu = True  # as if it had been written: it is not
        m.start()
        await m.power_on()
        assert await m.wait_registered(30000, 500)
        await sleep_ms(10 * M)
        assert await m.network_time() is None and b.emu.ctzu == 0

    support.run(main())


def test_an_operator_that_never_sends_time():
    async def main():
        b = Bench(emu={"nitz": "never"})
        m = await b.up()
        await sleep_ms(3600000)
        assert await m.network_time() is None and b.emu.ctzu == 1

    support.run(main())


def _day(hours, **device):
    """The school day's first hours, with device options (emulator options from the scenario's
    "device" block) and the modem's commands counted by name."""
    import json

    with open("host_sim/scenarios/school_day.json") as f:
        sc = json.load(f)
    sc["duration_s"] = hours * 3600
    sc["device"].update(device)
    return sc


def _simulate(sc, name, count=()):
    """Run scenario sc in the simulator: (summary, events, {command: times sent})."""
    import sys

    from firmware import log
    from host_sim import modem_a76xx, runner

    saved = dict((k, sys.modules.get(k)) for k in ("machine", "network", "esp32"))
    sink = log._sink
    counts = dict((c, 0) for c in count)
    handlers = dict((c, modem_a76xx._HANDLERS[c]) for c in count)

    def counting(c):
        def h(e, kind, args):
            counts[c] += 1
            return handlers[c](e, kind, args)
        return h

    for c in count:
        modem_a76xx._HANDLERS[c] = counting(c)
    clock.wall = clock.WallClock()  # a new watch: no time from an earlier run in this process
    try:
        out = support.tmpdir(name)
        sim = runner.Sim(sc, out, echo=False)
        s = sim.run()
        events = []
        with open(out + "/events.jsonl") as f:
            import json

            for line in f:
                events.append(json.loads(line))
    finally:
        modem_a76xx._HANDLERS.update(handlers)
        log.set_sink(sink)
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    _release()
    return s, events, counts


def _release():
    """Drop what still points at the finished run (the world's events, the fake pins and radio):
    the MicroPython unit run's later tests want their heap back."""
    import gc

    from host_sim.fakes import network

    VT.reset()
    fm.WIRING.reset()
    network.WIRING_SCAN = None
    network.METER = None
    network.power_off()
    gc.collect()


def test_the_app_asks_for_the_time_again_until_it_comes():
    # late (8 s after registration): the boot's read misses it, the first retry has it
    s, events, n = _simulate(_day(1), "clock-late", ("+CCLK",))
    clocks = [e for e in events if e["kind"] == "clock"]
    assert clocks and clocks[0].get("tries") == 1, clocks
    assert n["+CCLK"] == 2 and s["firmware_errors"] == 0
    reports = [e for e in events if e["kind"] == "report"]
    assert reports and _all_sent_but_a_batch(s)


def test_the_app_keeps_asking_without_spinning_the_modem_when_time_never_comes():
    s, events, n = _simulate(_day(6, nitz="never"), "clock-never", ("+CCLK",))
    assert not [e for e in events if e["kind"] == "clock" and e.get("source") == "network"]
    # 15 s, then doubling to an hour: 9 reads in the first 2 h 8 min, then one an hour
    assert 10 <= n["+CCLK"] <= 14, n
    assert s["reports_queued"] > 0 and _all_sent_but_a_batch(s)


def _all_sent_but_a_batch(s):
    """Every report made reached the server, but for the newest ones still held in the outbox
    for their batch (batch_s 900 at a 300 s interval: at most three, the run ending before it
    went). The seq-by-seq account is the scenario suite's (days.every_report_accounted_for)."""
    return s["reports_delivered"] + s["outbox_left"] == s["reports_queued"] and s["outbox_left"] <= 3


# ==================================================================== the network half-open (§15.4)


def test_network_closed_unexpectedly_closes_sockets_and_netclose_before_netopen():
    async def main():
        # coverage goes at 00:30 for 5 minutes (the emulator tests' scenario)
        b = Bench()
        m = await b.up()
        await m.net_open()
        await m.tcp_open(0, HOST, PORT, 30000)
        await sleep_ms(30 * M - VT.ms + 500)
        await m.at.pump()
        assert not m.net_up and not m.links[0]
        await sleep_ms(6 * M)  # coverage is back, the modem registered again
        b.sent = []
        await m.net_open()
        # A76-ATM §15.4: close the sockets, then AT+NETCLOSE as AT+NETOPEN? says still open
        want = ["AT+CIPCLOSE=0", "AT+NETOPEN?", "AT+NETCLOSE", "AT+CIPRXGET=1", "AT+NETOPEN"]
        assert b.sent[:5] == want, b.sent
        await m.tcp_open(0, HOST, PORT, 30000)
        await m.tcp_send(0, b"[SG*1*0002*LK]")
        await sleep_ms(1000)
        assert b.server.conns[-1].got == b"[SG*1*0002*LK]"
        assert await m.tcp_recv(0) == b"[ACK]"

    support.run(main())


def test_a_driver_that_skips_netclose_never_connects_again():
    async def main():
        b = Bench()
        m = await b.up()
        await m.net_open()
        await sleep_ms(30 * M - VT.ms + 500)
        await m.at.pump()
        await sleep_ms(6 * M)
        m._net_lost = False  # forget the URC: what a driver without the release does
        await m.net_open()  # "already opened", and NETOPEN? says 1: looks fine ...
        e = await support.araises(SocketError, m.tcp_open(0, HOST, PORT, 30000))
        assert e.busy and e.code == 1  # ... but nothing connects (refused at once)
        assert m._net_lost  # the refusal says why: the next net_open releases the library
        await m.net_open()
        await m.tcp_open(0, HOST, PORT, 30000)
        assert m.links[0] and len(b.server.conns) == 1

    support.run(main())


# ==================================================================== AT+CIPTIMEOUT (§15.2.12)


def test_a_slow_connect_ends_with_the_modems_timeout_and_both_sides_agree():
    async def main():
        b = Bench(emu={"cipopen_ms": 45000})
        m = await b.up()
        assert b.emu.cip_to == [20000, 20000, 20000]
        await m.net_open()
        t0 = VT.ms
        e = await support.araises(SocketError, m.tcp_open(0, HOST, PORT, 30000))
        took = VT.ms - t0
        assert e.code == 10 and not e.busy and "failed 10" in str(e)  # <err> 10: Timeout (§15.3.2)
        assert 20000 <= took < 21000, took  # the modem's limit, before the driver's 30 s
        await sleep_ms(60000)  # past the 45 s the network would have taken
        assert b.emu.links[0] is None and not m.links[0] and b.server.conns == []

    support.run(main())


def test_a_network_slower_than_the_limit_every_time_is_reached_with_a_longer_one():
    async def main():
        b = Bench(emu={"cipopen_ms": 45000, "netopen_ms": 30000})  # every open that slow
        m = await b.up()
        assert m.net_timeout_ms == 20000
        e = await support.araises(SocketError, m.net_open())
        assert e.code == 10 and m.net_timeout_ms == 40000 and b.emu.cip_to == [20000] * 3
        await m.net_open()  # the limit written first, then the 30 s PDP activation fits
        assert m.net_up and b.emu.cip_to == [40000] * 3
        t0 = VT.ms
        e = await support.araises(SocketError, m.tcp_open(0, HOST, PORT, 30000))
        assert e.code == 10 and 40000 <= VT.ms - t0 < 41000 and m.net_timeout_ms == 80000
        await m.tcp_open(0, HOST, PORT, 30000)  # 45 s: within 80
        assert m.links[0] and len(b.server.conns) == 1 and b.emu.cip_to == [80000] * 3
        # never past the manual's 120 s
        m.net_timeout_ms = 120000
        m._slow_net(10)
        assert m.net_timeout_ms == 120000

    support.run(main())


def test_without_ciptimeout_the_modem_opens_a_socket_the_driver_gave_up_on():
    # the disagreement AT+CIPTIMEOUT prevents: the modem's default limit is 120 s
    async def main():
        b = Bench(emu={"cipopen_ms": 45000})
        m = await b.up()
        await m.at.cmd("AT+CIPTIMEOUT=120000,120000,120000")
        await m.net_open()
        await support.araises(ATTimeout, m.tcp_open(0, HOST, PORT, 30000))
        await sleep_ms(60000)
        assert b.emu.links[0] is not None and not m.links[0] and len(b.server.conns) == 1

    support.run(main())


def test_a_slow_netopen_ends_with_the_modems_timeout():
    async def main():
        b = Bench(emu={"netopen_ms": 45000})
        m = await b.up()
        e = await support.araises(SocketError, m.net_open(30000))
        assert e.code == 10 and not e.busy and not m.net_up

    support.run(main())


# ==================================================================== the reply forms (§15.2, §15.3)


def test_refused_at_once_and_failed_later_keep_their_codes():
    async def main():
        b = Bench()
        m = await b.up()
        # CIPOPEN before NETOPEN: '+CIPOPEN: 0,2' then ERROR at once
        e = await support.araises(SocketError, m.tcp_open(0, HOST, PORT, 30000))
        assert e.busy and e.code == 2 and "busy 2" in str(e)
        await m.net_open()
        # a link in use (a driver that does not close first): '+CIPOPEN: 0,4' then ERROR
        await m.tcp_open(0, HOST, PORT, 30000)

        async def no_close(link, timeout_ms=0):
            pass

        m.tcp_close = no_close
        e = await support.araises(SocketError, m.tcp_open(0, HOST, PORT, 30000))
        assert e.busy and e.code == 4 and e.command.startswith("AT+CIPOPEN=0,")
        del m.tcp_close
        # nothing listening: OK, then '+CIPOPEN: 1,4' - the same code, but it failed on the network
        e = await support.araises(SocketError, m.tcp_open(1, "192.0.2.10", 81, 30000))
        assert not e.busy and e.code == 4 and "failed 4" in str(e)
        # a send on a link that is not open: '+CIPERROR: 4' then ERROR
        e = await support.araises(SocketError, m.tcp_send(2, b"x"))
        assert e.busy and e.code == 4 and e.command == "AT+CIPSEND=2,1"
        # an empty buffer: '+IP ERROR: No data' then ERROR is no data, and no garbage
        garbage = m.at.garbage
        assert await m.tcp_recv(0) == b"" and await m.tcp_recv(5) == b""
        assert m.at.garbage == garbage
        # the server closes, then a send: refused at once, the code kept
        b.server.conns[0].close_cb()
        await sleep_ms(500)
        e = await support.araises(SocketError, m.tcp_send(0, b"x"))
        assert e.busy and e.code == 4
        assert isinstance(e, ATError) and isinstance(e, OSError)  # the services' handlers hold

    support.run(main())


def test_a_send_whose_link_goes_during_entry_fails_with_minus_one():
    async def main():
        b = Bench()
        m = await b.up()
        await m.net_open()
        await m.tcp_open(0, HOST, PORT, 30000)
        u = m.at.uart
        write = u.write

        def cut(data):  # the payload's first byte: the server closes before the rest comes
            if data[:1] == b"[":
                b.emu._net_closed(b.emu.links[0])
                b.emu.links[0].state = "closed"
            return write(data)

        u.write = cut
        e = await support.araises(SocketError, m.tcp_send(0, b"[SG*1*0002*LK]"))
        assert not e.busy and e.code == -1  # '+CIPSEND: 0,14,-1' (§15.2.4 <cnfSendLength>)

    support.run(main())


# ==================================================================== variants (ATI, hardware.md §1.2a)


def test_capabilities_by_model():
    assert capabilities("A7670E-FASE") == (True, True, True)
    assert capabilities("A7670SA-FASE") == (True, True, True)
    assert capabilities("A7670E-LASE") == (False, True, True)
    assert capabilities("A7670SA-LASC") == (False, True, True)
    assert capabilities("A7670G-LLSE") == (False, True, True)
    assert capabilities("A7670E-LNXY-UBL") == (False, False, False)
    assert capabilities("SIM7670G-MNGV") == (True, False, False)
    assert capabilities(None) == (True, True, True) and capabilities("A7608SA-H") == (True, True, True)
    assert parse_model(["Manufacturer: INCORPORATED", "Model: A7670E-LASE", "Revision: A011B07A7670M7_F",
                        "IMEI: 862000012345674", "+GCAP: +CGSM,+FCLASS,+DS"]) == "A7670E-LASE"
    assert parse_model(["A7600E"]) == "A7600E"  # AT+CGMM (A76-ATM §2.2.17 example)
    assert parse_model(["+GCAP: +CGSM", "Revision: x"]) is None


def _lastfix(root):
    t = clock.from_parts(2026, 9, 13, 16, 10, 0)
    fsutil.atomic_write(root + "/lastfix.csv", ("%d,59923600,10759200,0,8" % t).encode())


def test_a_module_without_gnss_never_powers_a_receiver():
    async def main():
        b = Bench(emu={"model": "A7670E-LASE"})
        with support.Events() as got:
            m = await b.up()
        assert m.model == "A7670E-LASE" and not m.has_gnss and m.has_voice and m.has_sms
        assert ("modem_model", {"model": "A7670E-LASE", "gnss": False, "voice": True, "sms": True}) in got
        root = support.tmpdir("nognss")
        _lastfix(root)
        pos = Positioning(m, root)
        for _ in range(3):
            f = await pos.locate(60, await m.serving_cell(), [], True)
            assert f is not None and f.source == "last" and not f.valid
            await pos.track(True)  # a reporter near a zone edge: still nothing to power
            await pos.track(False)
        assert b.count("AT+CGNSS") == 0 and b.emu.gnss_powerons == 0
        assert not pos.last_failed and pos._cold_fails == 0  # no search was even tried
        # the same looks on a module with a receiver search with it
        b = Bench()
        m = await b.up()
        pos = Positioning(m, root)
        await pos.locate(20, await m.serving_cell(), [], True)
        assert b.count("AT+CGNSSPWR=1") == 1

    support.run(main())


class _Contact:
    def __init__(self, name, number):
        self.name = name
        self.number = number


class _Contacts:
    def __init__(self):
        self.list = [_Contact("Mamma", MAMMA)]

    def sos(self):
        return self.list

    def find(self, number, ntype=None):
        for c in self.list:
            if c.number == number:
                return c
        return None


_CFG = {"sos_ring_s": 30, "sos_rounds": 2, "sos_sms": True, "wearer": "Emma"}


async def _sos(b):
    """Trigger an SOS through the service on bench b; (alarms queued, events logged)."""
    with support.Events() as b.setup_events:
        m = await b.up()
        await m.phone_setup()
    alarms = []

    async def alarm(status):
        alarms.append(status)
        return len(alarms)

    async def text(number, t):
        return await m.sms_send(number, t, True)

    s = sos.Sos(m, _CFG, _Contacts, alarm, text, lambda: (None, 0, None), lambda: 77)
    with support.Events() as got:
        task = asyncio.create_task(s.run())
        s.trigger()
        await sleep_ms(3 * M)
        task.cancel()
    return s, alarms, got


def test_sos_without_voice_sends_the_alarm_and_the_sms_and_never_dials():
    async def main():
        b = Bench(emu={"voice": False})
        s, alarms, got = await _sos(b)
        assert alarms == [sos.SOS_BIT]
        kinds = [k for k, _ in got]
        assert "sos_no_calls" in kinds and "sos_sms" in kinds and "sos_call" not in kinds
        texts = [f for f in b.frames if f[:2] == ("up", "sms")]
        assert len(texts) == 1 and texts[0][2] == MAMMA
        assert "cannot make or take calls" in texts[0][3].decode()
        # a variant ATI does not name as voice-less: AT+CLIP=1's bare ERROR tells, once
        assert not b.m.has_voice and ("modem_lacks", {"part": "voice", "model": "A7670E-FASE",
                                                      "command": "AT+CLIP=1"}) in b.setup_events
        assert b.count("ATD") == 0 and b.count("AT+CLIP") == 1 and b.count("AT+CLCC") == 0
        await b.m.phone_setup()
        assert b.count("AT+CLIP") == 1
        assert s.s.outcome == "no voice" and s.tracking_ms() is not None  # tracking goes on
        tel = Telephony(b.m, _Contacts, lambda on: None, support.tmpdir("novoice"))
        await support.araises(ValueError, tel.dial(MAMMA))
        assert b.count("ATD") == 0

    support.run(main())


def test_sos_with_voice_still_calls():
    async def main():
        b = Bench()
        s, alarms, got = await _sos(b)
        assert b.count("ATD") >= 1 and "sos_no_calls" not in [k for k, _ in got]

    support.run(main())


def test_a_module_with_neither_voice_nor_sms_still_raises_the_alarm():
    async def main():
        b = Bench(emu={"model": "A7670E-LNXY-UBL"})
        s, alarms, got = await _sos(b)
        assert alarms == [sos.SOS_BIT]
        kinds = [k for k, _ in got]
        assert "sos_no_sms" in kinds and "sos_no_calls" in kinds and "error" not in kinds, got
        assert b.count("ATD") == 0 and b.count("AT+CMG") == 0 and b.count("AT+CLIP") == 0
        await b.m.resync()  # asks for neither calls nor SMS the module cannot have
        assert b.count("AT+CLCC") == 0 and b.count("AT+CMGL") == 0

    support.run(main())


def test_a_module_that_refuses_every_gnss_command_is_not_asked_again():
    # a variant without a receiver whose model the table does not know (LilyGO issue #52)
    async def main():
        b = Bench(emu={"gnss": False})
        m = await b.up()
        assert m.has_gnss  # the model says so
        for _ in range(3):
            await support.araises(ATError, m.gnss_power(True))
        assert not m.has_gnss
        n = b.emu.commands
        assert await m.gnss_power(True) is False and b.emu.commands == n  # not a command more

    support.run(main())
