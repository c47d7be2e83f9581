"""The SIM7000 driver (firmware/drivers/sim7000.py) against its emulator (host_sim/modem_sim7000.py)
as SIMCom's SIM7000 manual gives the module: power-on with auto-baud, the set-up, +CGNSINF
parsing (the fix, the no-fix forms, garbage), the antenna GPIO and XTRA, the app network and
the chapter-18 sockets with their error forms, SMS in text mode, no voice, the poll that stands
in for RI, PSM kept off, the radio choice, power-off and the wrong-board hints; the board module
and the energy profile."""
import support
import asyncio

from fakepeer import RecordingServer
from scripted import ScriptedUART
from test_modem_emulator import ICCID, IMEI, Meter, scenario

from boards import lilygo_t_sim7000g as board7000
from firmware import clock
from firmware.compat import sleep_ms
from firmware.drivers import events
from firmware.drivers.a76xx import SocketError
from firmware.drivers.at import ATError, ATTimeout
from firmware.drivers.sim7000 import Sim7000, parse_cgnsinf
from host_sim import energy
from host_sim import world as W
from host_sim.fakes import machine as fm
from host_sim.modem_a76xx import A76xxEmulator
from host_sim.modem_sim7000 import BOOT_MS, XTRA_BYTES, Sim7000Emulator

VT = support.VT
M = 60000
HOST, PORT = "tracker.trygg.test", 5093
MAMMA = "+4791111111"
TX, RX = board7000.PINS["modem_tx"], board7000.PINS["modem_rx"]
# S7000-GNSS §4.1, exactly (the app note wraps it over two lines)
NOTE_FIX = "+CGNSINF: 1,1,20171103022632.000,31.222067,121.354368,34.700,0.00,0.0,1,,1.1,1.4,0.9,,21,6,,,45,,"


class Bench:
    """The emulated SIM7000 and the driver on the T-SIM7000G's pins (no RI), inside a running
    loop (support.run resets virtual time first). kw: scenario keys; emu: emulator options;
    drv: driver options; emu_class: another emulator. `sent` holds every command line."""

    def __init__(self, emu=None, drv=None, emu_class=Sim7000Emulator, **kw):
        fm.WIRING.reset()
        self.world = W.World(scenario(**kw), VT)
        self.server = RecordingServer(ack=b"[ACK]")
        self.world.add_server(HOST, "192.0.2.10", PORT, self.server)
        self.meter = Meter()
        self.emu = emu_class(VT, self.world, IMEI, ICCID, meter=self.meter, **(emu or {}))
        self.frames = []
        self.emu.wire = lambda d, ch, peer, data: self.frames.append((d, ch, peer, data))
        fm.WIRING.attach_uart(TX, RX, self.emu)
        self.emu.attach_pins(pwrkey=fm.WIRING.pin(4), dtr=fm.WIRING.pin(25), ri=None)
        self.sent = []
        take = self.emu.on_host_write

        def write(data):
            if data.endswith(b"\r"):
                self.sent.append(str(data[:-1], "ascii"))
            take(data)

        self.emu.on_host_write = write
        uart = fm.UART(1, 115200, tx=TX, rx=RX)
        d = {"gnss_gpio": 48}
        d.update(drv or {})
        self.m = Sim7000(uart, fm.Pin(4, fm.Pin.OUT, value=0), fm.Pin(25, fm.Pin.OUT, value=0), None, **d)

    async def up(self, net=False):
        """Power on (the set-up included), SIM, registration; net: the app network too."""
        m = self.m
        m.start()
        await m.power_on()
        assert await m.wait_sim()
        assert await m.wait_registered(30000, 500)
        if net:
            await m.set_apn("telenor.smart")
            await m.net_open()
        return m

    def count(self, prefix):
        return len([c for c in self.sent if c.startswith(prefix)])


def _kinds(m):
    out = []
    while True:
        e = m.events.get()
        if e is None:
            return out
        out.append((e[0], e[1]))


# ==================================================================== +CGNSINF (S7000-ATM §14.2.2)


def test_cgnsinf_the_app_notes_fix():
    f = parse_cgnsinf(NOTE_FIX)
    assert f.t == clock.from_parts(2017, 11, 3, 2, 26, 32)
    assert (f.lat, f.lon) == (31222067, 121354368)  # signed decimal degrees, no N/S field
    # 34.700 m -> 35; 0.00 km/h; HDOP 1.1 -> 2 x 1.1 x 5 m = 11 m; 6 GPS + (empty) GLONASS used
    assert (f.alt, f.speed, f.course, f.sats, f.acc) == (35, 0, 0, 6, 11)
    assert f.valid and f.source == "gnss"
    # the URC form (+UGNSINF, §14.2.3) with the note's extra trailing comma
    g = parse_cgnsinf("+UGNSINF: 1,1,20171103024050.000,31.222176,121.354393,31.000,0.00,99.5,1,,0.9,1.3,"
                      "0.9,,20,8,,,48,,,")
    assert (g.lat, g.course, g.sats, g.acc) == (31222176, 100, 8, 9)


def test_cgnsinf_speed_is_km_h_and_the_sign_is_the_hemisphere():
    f = parse_cgnsinf("+CGNSINF: 1,1,20260914121416.000,-33.868800,-151.209300,5.000,10.55,90.5,1,,0.4,1.0,"
                      "0.6,,12,8,3,,40,,")
    assert (f.lat, f.lon) == (-33868800, -151209300)
    # 10.55 km/h -> 106 tenths (not knots: +CGNSSINFO's 10 kn would be 185); course 90.5 -> 91
    assert (f.speed, f.course, f.sats, f.acc) == (106, 91, 11, 5)  # HDOP 0.4: the 5 m floor


def test_cgnsinf_forms_without_a_fix_are_none():
    assert parse_cgnsinf("+CGNSINF: 0" + "," * 20) is None  # GNSS off
    # just powered: the receiver's reset date (hardware.md §1.3)
    assert parse_cgnsinf("+CGNSINF: 1,0,19800106000007.000,,,,0.00,0.0,0,,,,,,0,0,,,,,") is None
    assert parse_cgnsinf("+CGNSINF: 1,0,20260914121416.000,,,,0.00,0.0,0,,,,,,9,0,,,,,") is None
    assert parse_cgnsinf("+CGNSINF: 1," + "," * 19) is None
    assert parse_cgnsinf("+CGNSINF: 1") is None
    zero = "+CGNSINF: 1,1,20260914121416.000,0.000000,0.000000,0.000,0.00,0.0,1,,1.0,1.0,1.0,,5,5,0,,40,,"
    assert parse_cgnsinf(zero) is None  # LilyGO's rule: a fix at 0,0 is none


def test_cgnsinf_garbage_is_a_value_error():
    good = NOTE_FIX.split(": ")[1].split(",")

    def line(i, v):
        f = list(good)
        f[i] = v
        return "+CGNSINF: " + ",".join(f)

    bad = [line(0, "2"), line(1, "x"), line(2, ""), line(2, "19800106000007.000"),
           line(2, "20171303022632.000"), line(2, "20170231022632.000"), line(2, "2017110302263"),
           line(3, ""), line(3, "91.000000"), line(4, "181.000000"), line(3, "31.2x"), line(6, "1000.00"),
           line(7, "361.0"), line(10, "100.0"), line(5, "20000.000"), line(15, "100"), line(16, "x"),
           "+CGNSINF: 1,1,20171103022632.000,31.2,121.3", "+CGNSINF: \xff\xfe"]
    for b in bad:
        support.raises(ValueError, parse_cgnsinf, b)


def test_gnss_fix_counts_garbage_and_never_raises():
    async def main():
        u = ScriptedUART()
        m = Sim7000(u, fm.Pin(4, fm.Pin.OUT), None, None)
        u.on("AT+CGNSINF", b"\r\n+CGNSINF: 1,1,2017,31.2,x\r\n\r\nOK\r\n")
        u.on("AT+CGNSINF", b"\r\n+CGNSINF: 1,0,19800106000007.000,,,,0.00,0.0,0,,,,,,0,0,,,,,\r\n\r\nOK\r\n")
        u.on("AT+CGNSINF", b"\r\n" + NOTE_FIX.encode() + b"\r\n\r\nOK\r\n")
        with support.Events() as got:
            assert await m.gnss_fix() is None
        assert m.bad_replies == 1 and [k for k, f in got if k == "error" and f["where"] == "gnss"]
        assert await m.gnss_fix() is None and m.bad_replies == 1
        assert (await m.gnss_fix()).lat == 31222067

    support.run(main())


# ==================================================================== power and set-up


def test_power_on_presses_a_second_learns_the_rate_and_sets_up_once():
    async def main():
        b = Bench()
        levels = []
        fm.WIRING.pin(4).watch(lambda v: levels.append((VT.ms, v)))
        assert b.emu.ipr == 0  # auto-baud from the factory (S7000-HD table 2)
        m = b.m
        m.start()
        t0 = clock.ticks_ms()
        await m.power_on()
        took = clock.ticks_diff(clock.ticks_ms(), t0)
        assert [v for _, v in levels] == [1, 0]  # pressed, released
        assert levels[1][0] - levels[0][0] == 1000  # >= 1 s (S7000-HD table 8)
        assert BOOT_MS <= took < BOOT_MS + 2500, took
        # auto-baud: the boot's RDY and +CFUN went nowhere; the probe taught it the rate
        assert b.emu.unheard > 0 and b.sent[:2] == ["AT", "AT"]
        i = b.sent.index
        assert i("ATE0") < i("AT+CMEE=2") < i("AT+CGMM") < i("AT+IPR?") < i("AT+IPR=115200")
        for c in ("AT+CNMP=38", "AT+CMNB=1", "AT+CPSMS?", "AT+CLTS=1", 'AT+CACFG="ASYNCOPEN",1'):
            assert c in b.sent, c
        for c in ("AT+CTZU", "AT+CIPTIMEOUT", "AT+CFGRI", "ATI", "AT+CPSMS="):
            assert not b.count(c), c  # A76xx-only, RI-only, the fallback, nothing to switch off
        assert b.emu.ipr == 115200 and (b.emu.cnmp, b.emu.cmnb) == (38, 1)
        assert m.model == "SIMCOM_SIM7000G" and (m.has_gnss, m.has_voice, m.has_sms) == (True, False, True)
        assert not m.needs_init and m._async_open
        # a restart of its own: now it says RDY, and the driver sees it
        _kinds(m)
        b.emu.reboot()
        await sleep_ms(BOOT_MS + 200)
        await m.at.pump()
        assert m.needs_init and (events.REBOOT, None) in _kinds(m)
        await m.power_on()
        assert b.count("AT+IPR=") == 1 and b.count("AT+CNMP=") == 1 and b.count("AT+CGMM") == 1
        assert b.count("AT+CLTS=1") == 2 and b.count('AT+CACFG="ASYNCOPEN",1') == 2  # volatile ones

    support.run(main())


def test_a_new_esp32_boot_writes_nothing_the_module_holds():
    async def main():
        b = Bench(emu={"ipr": 115200, "psm": 1}, drv={"rat": "nbiot"})
        m = await b.up()
        assert b.emu.cpsms[0] == 0 and b.count("AT+CPSMS=0") == 1  # PSM left on: switched off
        assert b.emu.cmnb == 2 and b.count("AT+IPR=") == 0
        c = await m.serving_cell()
        assert (c.mcc, c.mnc, c.cid, c.rssi) == (242, 1, 26383618, -82)  # "LTE NB-IOT", dBm as given
        # the ESP32 resets (a new driver), the module keeps its settings: only reads
        m2 = Sim7000(m.at.uart, fm.Pin(4, fm.Pin.OUT, value=0), fm.Pin(25, fm.Pin.OUT, value=0), None,
                     rat="nbiot")
        m2.start()
        b.sent = []
        await m2.power_on()
        writes = ("AT+IPR=", "AT+CNMP=", "AT+CMNB=", "AT+CPSMS=")
        assert not [c for c in b.sent if c.startswith(writes)], b.sent
        await m2.psm(True)  # asked for: written, effective after a restart (S7000-HD §5.3.4)
        assert b.emu.cpsms == (1, "00100001", "00100001")

    support.run(main())


def test_network_time_needs_clts_and_comes_after_registration():
    async def main():
        b = Bench()
        m = await b.up()
        assert await m.network_time() is None  # 80/01/06 + uptime: the unset clock
        await sleep_ms(8000)  # NITZ_MS after registration
        t = await m.network_time()
        assert t is not None and abs(t - b.world.utc()) <= 1 and m.net_offset_min == 120
        # without AT+CLTS=1 the network's time never sets the clock (S7000-ATM §5.2.4)
        b.emu.reboot()
        await sleep_ms(BOOT_MS + 500)
        m.needs_init = True
        await m.at.cmd("AT+CLTS=0")
        await sleep_ms(20000)
        assert await m.network_time() is None

    support.run(main())


def test_settings_answer_as_the_sim7000_manual_gives_them():
    # the A76xx emulator's setting factory with the SIM7000's test forms: AT+CLTS (S7000-ATM
    # §5.2.4) shows the clock's layout, AT+CNMP (§5.2.17) lists its modes; values outside: ERROR
    async def main():
        b = Bench()
        m = await b.up()
        assert await m.at.cmd("AT+CLTS=?") == ['+CLTS: "yy/MM/dd,hh:mm:ss+/-zz"']
        assert await m.at.cmd("AT+CNMP=?") == ["+CNMP: (2,13,38,51)"]
        await support.araises(ATError, m.at.cmd("AT+CNMP=3"))
        await support.araises(ATError, m.at.cmd("AT+CLTS=2"))
        assert await m.at.cmd("AT+CNMP?") == ["+CNMP: 38"]  # the driver's choice, LTE only, kept

    support.run(main())


def test_power_off_and_a_power_cycle_of_a_hung_module():
    async def main():
        b = Bench()
        m = await b.up()
        assert await m.power_off()
        assert b.emu.state == "off" and m.needs_init
        await sleep_ms(3000)
        await m.power_on()
        assert b.emu.state == "on" and b.emu.boots == 2
        b.emu.hang()
        await m.power_cycle()  # a 3 s press: off (>= 1.2 s), 2.5 s off, then on again
        assert b.emu.state == "on" and b.emu.boots == 3 and not m.needs_init

    support.run(main())


def test_the_wrong_board_module_says_which_one_to_flash():
    async def main():
        # the pins match (an S3 board), the modem is an A7670: the model tells
        b = Bench(emu_class=A76xxEmulator)
        b.m.start()
        with support.Events() as got:
            await b.m.power_on()
        err = [f for k, f in got if k == "error" and f.get("where") == "board"]
        assert err and err[0]["model"] == "A7670E-FASE" and "boards.lilygo_t_a7670" in err[0]["err"]
        # a T-A7670 flashed with this module: its UART pins are the other way round, no answer
        b = Bench()
        b.emu.mute(10 ** 9)
        b.m.start()
        e = await support.araises(ATTimeout, b.m.power_on(8000))
        assert "boards.lilygo_t_a7670" in str(e)

    support.run(main())


# ==================================================================== app network and sockets


def test_tcp_open_send_receive_close():
    async def main():
        b = Bench()
        m = await b.up(net=True)
        i = b.sent.index
        assert i("AT+CNACT?") < i('AT+CNACT=1,"telenor.smart"') and m.net_up
        await m.tcp_open(0, HOST, PORT, 30000)
        assert m.links[0] and len(b.server.conns) == 1
        assert 'AT+CAOPEN=0,"TCP","tracker.trygg.test",5093' in b.sent
        _kinds(m)
        await m.tcp_send(0, b"[SG*1*0002*LK]")
        await sleep_ms(1000)
        await m.at.pump()  # +CADATAIND: 0 (S7000-ATM §18.2.3 note)
        assert b.server.conns[0].got == b"[SG*1*0002*LK]"
        assert (events.DATA, 0) in _kinds(m) and m.send_results_missing == 0
        assert await m.tcp_recv(0) == b"[ACK]"
        assert await m.tcp_recv(0) == b""  # nothing more: +CARECV: 0,0
        big = bytes(range(256)) * 12  # 3072 bytes: three AT+CASEND
        await m.tcp_send(0, big)
        await sleep_ms(1000)
        assert b.server.conns[0].got.endswith(big) and b.count("AT+CASEND=0,1460") == 2
        await m.tcp_close(0)
        await sleep_ms(500)
        assert not m.links[0] and b.server.conns[0].closed
        assert b.emu.air_up > 3072 and b.emu.air_down > 0
        await m.net_open()  # active already: one AT+CNACT? and nothing else
        assert b.count("AT+CNACT=") == 1

    support.run(main())


def test_socket_error_forms():
    async def main():
        b = Bench()
        m = await b.up()
        # the app network not active: <result> 21 (S7000-ATM §18.2.3)
        e = await support.araises(SocketError, m.tcp_open(0, HOST, PORT, 30000))
        assert e.code == 21 and not e.busy and not m.net_up
        await m.net_open()
        e = await support.araises(SocketError, m.tcp_open(0, "nowhere.invalid", PORT, 30000))
        assert e.code == 20 and not m.links[0]  # the name does not resolve
        e = await support.araises(SocketError, m.tcp_open(0, HOST, 5094, 30000))
        assert e.code == 23  # nobody listens: refused
        e = await support.araises(SocketError, m.tcp_send(1, b"x"))
        assert e.busy  # a cid not open: ERROR at once
        e = await support.araises(SocketError, m.tcp_recv(3))
        assert e.busy
        # the server closes: +CASTATE: <cid>,0 (§18.2.8)
        await m.tcp_open(0, HOST, PORT, 30000)
        _kinds(m)
        b.server.conns[-1].close_cb()
        await sleep_ms(500)
        await m.at.pump()
        assert (events.CLOSED, 0) in _kinds(m) and not m.links[0]

    support.run(main())


def test_coverage_lost_deactivates_the_app_network_and_it_comes_back():
    async def main():
        b = Bench()  # coverage goes at 00:30 for 5 minutes (the emulator tests' scenario)
        m = await b.up(net=True)
        await m.tcp_open(0, HOST, PORT, 30000)
        await sleep_ms(30 * M - VT.ms + 500)
        await m.at.pump()  # +CASTATE: 0,0 and +APP PDP: DEACTIVE (§5.2.30)
        assert not m.net_up and not m.links[0]
        assert (events.CLOSED, 0) in _kinds(m)
        await sleep_ms(6 * M)  # back and registered again
        await m.net_open()
        assert m.net_up and b.count("AT+CNACT=1") == 2
        await m.tcp_open(0, HOST, PORT, 30000)
        await m.tcp_send(0, b"[SG*1*0002*LK]")
        await sleep_ms(1000)
        assert await m.tcp_recv(0) == b"[ACK]"

    support.run(main())


class _OldFirmware(Sim7000Emulator):
    """A SIM7000 firmware from before the manual's V1.04: no AT+CNACT, no chapter 18."""

    def _extended(self, cmd):
        if cmd[:6].upper() in ("+CNACT", "+CAOPE", "+CACFG"):
            return -1  # ERROR
        return Sim7000Emulator._extended(self, cmd)


def test_firmware_without_the_tcp_commands_is_logged_once():
    async def main():
        b = Bench(emu_class=_OldFirmware)
        m = await b.up()
        assert not m._async_open
        with support.Events() as got:
            await support.araises(ATError, m.net_open())
            await support.araises(ATError, m.net_open())
        errs = [f for k, f in got if k == "error" and f.get("where") == "modem_firmware"]
        assert len(errs) == 1 and "sim7000_upgrade" in errs[0]["err"] and m.old_firmware

    support.run(main())


# ==================================================================== GNSS: antenna, fix, XTRA


def test_gnss_powers_the_antenna_with_the_receiver_and_fixes():
    async def main():
        b = Bench()  # open sky at the yard until 00:50
        m = await b.up()
        assert await m.gnss_power(True)
        i = b.sent.index
        assert i("AT+CGPIO=0,48,1,1") < i("AT+CGNSPWR=1")  # S7000-ATM §5.2.15, §14.2.1
        assert b.meter.state["gnss"] == "on"
        f = None
        for _ in range(60):
            f = await m.gnss_fix()
            if f is not None:
                break
            await sleep_ms(1000)
        assert f is not None and abs(f.lat - 59917300) < 2000 and f.source == "gnss"
        await m.gnss_power(False)
        assert i("AT+CGNSPWR=0") < i("AT+CGPIO=0,48,1,0") and b.meter.state["gnss"] == "off"
        assert not m.gnss_on

    support.run(main())


def test_without_the_antenna_supply_no_fix_comes():
    async def main():
        b = Bench(drv={"gnss_gpio": None})
        m = await b.up()
        assert await m.gnss_power(True)
        for _ in range(90):
            assert await m.gnss_fix() is None
            await sleep_ms(1000)
        assert not b.count("AT+CGPIO")

    support.run(main())


def test_xtra_is_fetched_once_and_makes_the_search_assisted():
    async def main():
        b = Bench()
        m = await b.up()
        await m.gnss_power(True)
        assert not await m.gnss_assist()  # no app network: the download fails (601)
        await m.net_open()
        with support.Events() as got:
            assert await m.gnss_assist()
        assert ("gnss", {"what": "xtra", "ok": True, "fetched": True}) in got
        i = b.sent.index
        assert i("AT+HTTPTOFS=\"http://xtrapath1.izatcloud.net/xtra3grc.bin\",\"/customer/xtra3grc.bin\"") < \
            i("AT+CGNSCPY") < i("AT+CGNSXTRA=1")
        assert b.emu.xtra_downloads == 1 and b.emu.xtra_bytes == XTRA_BYTES
        assert b.emu.gnss_plan()[0] == "assisted"
        assert await m.gnss_assist()  # fresh: nothing fetched, XTRA already on
        assert b.emu.xtra_downloads == 1 and b.count("AT+CGNSXTRA=1") == 1
        # a restart drops AT+CGNSXTRA (NO_SAVE, §14.2.11): on again, the file is not fetched again
        b.emu.reboot()
        await sleep_ms(BOOT_MS + 500)
        await m.power_on()
        await m.gnss_power(True)
        assert await m.gnss_assist()
        assert b.emu.xtra_downloads == 1 and b.count("AT+CGNSXTRA=1") == 2

    support.run(main())


# ==================================================================== SMS, no voice


def test_sms_text_mode_both_ways_and_no_voice():
    async def main():
        people = [{"name": "Mamma", "number": MAMMA, "texts": [{"at": "00:02", "text": "Kom hjem kl 18"}],
                   "calls": [{"at": "00:03", "ring_s": 20}]}]
        b = Bench(people=people)
        m = await b.up()
        await sleep_ms(5000)  # SMS Ready
        await m.phone_setup()
        assert not b.count("AT+CLIP") and not b.count("AT+CLCC") and b.count("AT+CMGF=1") == 1
        mr = await m.sms_send(MAMMA, "Hei fra klokka")
        assert mr == 1 and ("up", "sms", MAMMA, b"Hei fra klokka") in b.frames
        _kinds(m)
        await sleep_ms(2 * M - VT.ms + 500)
        await m.at.pump()
        got = [a for k, a in _kinds(m) if k == events.SMS]
        assert got == [1]
        s = await m.sms_read(1)
        assert s.number == MAMMA and s.text == "Kom hjem kl 18"
        await m.sms_delete(1)
        # no voice: nothing is dialled or answered, and nobody gets through
        assert not m.has_voice
        await support.araises(ATError, m.dial(MAMMA))
        await support.araises(ATError, m.answer())
        assert not b.count("ATD") and not b.count("ATA")
        await support.araises(ATError, m.at.cmd("ATD%s;" % MAMMA))  # the module refuses it too
        await sleep_ms(3 * M - VT.ms + 1000)
        log = b.world.people.find(MAMMA).log
        assert [e[1:] for e in log if e[1] == "unreachable"] == [("unreachable", "no voice")]

    support.run(main())


# ==================================================================== no RI: the poll


def test_without_ri_the_poll_finds_what_a_sleeping_esp32_missed():
    async def main():
        people = [{"name": "Mamma", "number": MAMMA, "texts": [{"at": "00:02", "text": "Ring meg"}]}]
        b = Bench(people=people, drv={"poll_every_ms": 60000})
        m = await b.up(net=True)
        await sleep_ms(5000)
        await m.phone_setup()
        task = asyncio.create_task(m.run())
        await m.tcp_open(0, HOST, PORT, 30000)
        _kinds(m)
        # a send: run() keeps the ESP32 awake for the answer and reads it
        await m.tcp_send(0, b"[SG*1*0002*LK]")
        await sleep_ms(2500)
        assert (events.DATA, 0) in _kinds(m)
        assert await m.tcp_recv(0) == b"[ACK]"
        # the ESP32 light-sleeps through the text's +CMTI (UART bytes are lost then, §4) ...
        await sleep_ms(2 * M - VT.ms - 100)
        fm.WIRING.asleep = True
        await sleep_ms(1000)
        fm.WIRING.asleep = False
        assert m.at.uart.lost_in_sleep > 0 and not [1 for k, a in _kinds(m) if k == events.SMS]
        # ... and the next look, at most poll_every_ms later, lists it (AT+CMGL)
        cmgl = b.count("AT+CMGL")
        await sleep_ms(61000)
        assert (events.SMS, 1) in _kinds(m) and b.count("AT+CMGL") > cmgl
        task.cancel()
        await sleep_ms(1)

    support.run(main())


# ==================================================================== the board, the energy profile


class _Machine:
    def __init__(self):
        self.slept = []

    def lightsleep(self, ms):
        self.slept.append(ms)


class _Modem:
    ri = None
    sleeps = 0


def test_board_pins_led_off_and_a_bounded_sleep():
    pins = board7000.PINS
    a7670 = __import__("boards.lilygo_t_a7670").lilygo_t_a7670.PINS
    # the UART pins the other way round from the T-A7670's (hardware.md §5.1), no RI
    assert (pins["modem_rx"], pins["modem_tx"]) == (a7670["modem_tx"], a7670["modem_rx"]) == (26, 27)
    assert "ri" not in pins and pins["led"] == 12 and board7000.GNSS_ANTENNA_GPIO == 48
    b = board7000.Board(_Machine(), _Modem(), None, {})
    b.light_sleep(-1)
    b.light_sleep(10 * board7000.POLL_MS)
    b.light_sleep(5000)
    assert b._machine.slept == [board7000.POLL_MS, board7000.POLL_MS, 5000]
    fm.WIRING.reset()
    fm.WIRING.attach_uart(TX, RX, Sim7000Emulator(VT, W.World(scenario(), VT), IMEI, ICCID))
    fm.WIRING.adc_source[pins["battery_adc"]] = lambda: 1900000
    fm.WIRING.freq_hz = fm.DEFAULT_HZ
    board = board7000.build(fm)
    assert fm.WIRING.pin(12).level == 1  # LOW lights it: kept off
    assert fm.freq() == 80000000  # the boards' CPU clock (boards/lilygo_t_a7670.py CPU_HZ)
    assert board.name == "lilygo_t_sim7000g" and board.modem.ri is None and board.modem.gnss_gpio == 48
    fm.WIRING.reset()


def test_energy_profile_keeps_the_a7670_rows():
    rows = energy.rows("sim7000")
    a7670 = energy.rows()
    assert energy.CURRENT_UA[("modem", "sleep")] == (1000, 1500, 2000)  # the A7670's, unchanged
    # the cell's side of the SIM7000's own rows (both boards boost the cell, energy.SUPPLY_PERMILLE)
    k = energy.SUPPLY_PERMILLE
    assert rows[("modem", "sleep")] == tuple(x * k[i] // 1000 for i, x in enumerate((1200, 1700, 2500)))
    assert rows[("modem", "idle")][0] == 11000 * k[0] // 1000
    assert rows[("esp32", "sleep")] == a7670[("esp32", "sleep")]  # the same chip
    assert ("gnss", "antenna") in rows and ("gnss", "antenna") not in a7670
    for key, row in rows.items():
        assert len(row) == 3 and row[0] <= row[1] <= row[2], key
    support.raises(ValueError, energy.rows, "sim7080")
    m = energy.EnergyMeter(VT, profile="sim7000")
    m.set("gnss", "antenna")
    want = rows[("esp32", "active")][1] + rows[("board", "on")][1] + rows[("gnss", "antenna")][1]
    assert m.current_ua() == want
    support.raises(ValueError, energy.EnergyMeter(VT).set, "gnss", "antenna")
    assert energy.floor_ua("central", 288, 2000, 10000, 15000, profile="sim7000") < \
        energy.floor_ua("central", 288, 2000, 10000, 15000)
