"""The A76xx emulator on the wire: power-on timing, exact response bytes, GNSS, sockets, sleep/RI,
faults. Driven through a real fake machine.UART and pins on virtual time."""
import support
from fakepeer import RecordingServer
from host_sim import world as W
from host_sim.fakes import machine as fm
from host_sim.modem_a76xx import A76xxEmulator, BOOT_MS, TTFF_COLD_MS, TTFF_HOT_MS

VT = support.VT
H = 3600000
M = 60000
IMEI = "862000012345674"
ICCID = "8947080000001234567"


def scenario(**kw):
    sc = {
        "start": "2026-09-13T22:00:00Z",
        "duration_s": 86400,
        "tz_offset_min": 120,
        "server": {"host": "tracker.trygg.test", "ip": "192.0.2.10", "port": 5093},
        "route": [
            {"at": "00:00", "place": "yard", "lat": 59.9173, "lon": 10.7646, "sky": "open"},
            {"at": "00:50", "place": "yard", "lat": 59.9173, "lon": 10.7646, "sky": "open"},
            {"at": "01:00", "place": "home", "lat": 59.9236, "lon": 10.7592, "sky": "indoor"},
        ],
        "cells": [
            {"mcc": 242, "mnc": 1, "tac": 2010, "cid": 26383618, "lat": 59.9173, "lon": 10.7646, "rsrp": -82},
        ],
        "events": [{"at": "00:30", "do": "no_coverage", "for_s": 300}],
    }
    sc.update(kw)
    return sc


class Meter:
    def __init__(self):
        self.log = []
        self.state = {}

    def set(self, comp, st):
        self.log.append((VT.ms, comp, st))
        self.state[comp] = st


class Rig:
    def __init__(self, variant="foreign", emu=None, **kw):
        """kw: scenario keys; emu: more emulator options. Frames the emulated network carries
        (calls, SMS) are kept in `frames` as (ms, dir, channel, peer, data)."""
        fm.WIRING.reset()
        VT.reset()
        self.world = W.World(scenario(**kw), VT)
        self.server = RecordingServer()
        self.world.add_server("tracker.trygg.test", "192.0.2.10", 5093, self.server)
        self.meter = Meter()
        self.emu = A76xxEmulator(VT, self.world, IMEI, ICCID, meter=self.meter, variant=variant,
                                 **(emu or {}))
        self.frames = []
        self.emu.wire = lambda d, ch, peer, data: self.frames.append((VT.ms, d, ch, peer, data))
        fm.WIRING.attach_uart(26, 27, self.emu)
        self.emu.attach_pins(pwrkey=fm.WIRING.pin(4), dtr=fm.WIRING.pin(25), ri=fm.WIRING.pin(33))
        self.pwrkey = fm.Pin(4, fm.Pin.OUT, value=0)
        self.dtr = fm.Pin(25, fm.Pin.OUT, value=0)
        self.ri = fm.Pin(33, fm.Pin.IN)
        self.falls = []
        self.ri.irq(lambda p: self.falls.append(VT.ms), fm.Pin.IRQ_FALLING)
        self.u = fm.UART(1, 115200, tx=26, rx=27)

    def advance(self, ms):
        end = VT.ms + ms
        while VT.ms < end:
            VT.idle(end - VT.ms)
        VT.run_due()

    def read(self):
        return self.u.read() or b""

    def press(self, ms=100):
        self.pwrkey.value(1)
        self.advance(ms)
        self.pwrkey.value(0)

    def boot(self, echo_off=True):
        self.press()
        self.advance(BOOT_MS + 6000)
        self.read()
        if echo_off:
            assert self.cmd(b"ATE0\r") == b"ATE0\r\r\nOK\r\n"

    def cmd(self, line, wait=200):
        self.u.write(line)
        self.advance(wait)
        return self.read()


def test_power_on_timing_and_boot_urcs():
    r = Rig()
    assert r.emu.state == "off" and r.meter.state["modem"] == "off"
    r.u.write(b"AT\r")
    r.advance(1000)
    assert r.read() == b"" and r.emu.dropped_bytes == 3
    r.pwrkey.value(1)  # a 30 ms blip does nothing
    r.advance(30)
    r.pwrkey.value(0)
    r.advance(20000)
    assert r.emu.state == "off"
    t0 = VT.ms
    r.press(100)
    assert r.meter.state["modem"] == "boot"
    r.advance(BOOT_MS - 100 - 1)
    assert r.read() == b""
    r.u.write(b"AT\r")  # still booting: dropped
    r.advance(2)
    assert VT.ms - t0 >= BOOT_MS
    assert r.read() == b"\r\n*ATREADY: 1\r\n"
    assert r.meter.state["modem"] == "idle"
    r.advance(5000)
    assert r.read() == b"\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"
    assert r.emu.boots == 1 and r.emu.urcs == 4


def test_long_press_and_cpof_power_off():
    r = Rig()
    r.boot()
    r.press(3000)
    assert r.emu.state == "off"
    r.advance(3000)
    r.boot()
    assert r.cmd(b"AT+CPOF\r") == b"\r\nOK\r\n"
    assert r.emu.state == "off" and r.meter.state["modem"] == "off"


def test_echo_then_ate0_and_errors():
    r = Rig()
    r.boot(echo_off=False)
    assert r.cmd(b"AT\r") == b"AT\r\r\nOK\r\n"
    assert r.cmd(b"ATE0\r") == b"ATE0\r\r\nOK\r\n"
    assert r.cmd(b"AT\r\n") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+NOPE\r") == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+CMEE?\r") == b"\r\n+CMEE: 1\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CIPCLOSE=3\r") == b"\r\n+CIPCLOSE: 3,4\r\n\r\nERROR\r\n"
    assert r.cmd(b"AT+CMEE=2\r") == b"\r\nOK\r\n"
    assert r.cmd(b"ATE1\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CSQ\r") == b"AT+CSQ\r\r\n+CSQ: 28,99\r\n\r\nOK\r\n"
    assert r.emu.commands == 9


def test_cpin_before_ready_is_sim_failure():
    r = Rig()
    r.press()
    r.advance(BOOT_MS)
    r.read()
    assert r.cmd(b"AT+CPIN?\r", 100) == b"AT+CPIN?\r\r\n+CME ERROR: 13\r\n"
    r.advance(1000)
    assert r.read() == b"\r\n+CPIN: READY\r\n"
    assert r.cmd(b"AT+CPIN?\r", 100) == b"AT+CPIN?\r\r\n+CPIN: READY\r\n\r\nOK\r\n"


def test_identity_and_network_exact_bytes():
    r = Rig()
    r.boot()
    assert r.cmd(b"AT+CGSN\r") == b"\r\n862000012345674\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CICCID\r") == b"\r\n+ICCID: 8947080000001234567\r\n\r\nOK\r\n"
    # RSRP -82 dBm at the cell site: RSSI ~ -57 dBm -> CSQ 28
    assert r.cmd(b"AT+CSQ\r") == b"\r\n+CSQ: 28,99\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CEREG?\r") == b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CREG?\r") == b"\r\n+CREG: 0,1\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CGREG?\r") == b"\r\n+CGREG: 0,1\r\n\r\nOK\r\n"
    assert r.cmd(b'AT+COPS?\r') == b'\r\n+COPS: 0,2,"24201",7\r\n\r\nOK\r\n'
    assert r.cmd(b"AT+CPSI?\r") == (b"\r\n+CPSI: LTE,Online,242-01,0x07DA,26383618,226,EUTRAN-BAND20,"
                                    b"6300,5,5,26,58,53,13\r\n\r\nOK\r\n")
    # 22:00:xx UTC + 2 h: local midnight of the 14th, +08 quarter hours
    r.advance(1000 - VT.ms % 1000 + 500)
    cclk = b'\r\n+CCLK: "26/09/14,00:00:%02d+08"\r\n\r\nOK\r\n' % (VT.ms // 1000)
    assert r.cmd(b"AT+CCLK?\r") == cclk
    assert r.cmd(b"AT+CMEE=1;+CGSN\r") == b"\r\n862000012345674\r\n\r\nOK\r\n"


def test_clock_before_registration_and_no_coverage():
    r = Rig()
    r.press()
    r.advance(BOOT_MS + 1000)
    r.read()
    assert r.cmd(b"ATE0\r") == b"ATE0\r\r\nOK\r\n"
    assert r.cmd(b"AT+CCLK?\r") == b'\r\n+CCLK: "70/01/01,00:00:01+00"\r\n\r\nOK\r\n'
    assert r.cmd(b"AT+CEREG?\r") == b"\r\n+CEREG: 0,2\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CSQ\r") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    r.advance(30 * M - VT.ms + 1000)  # inside the no-coverage window
    r.read()
    assert r.cmd(b"AT+CEREG?\r") == b"\r\n+CEREG: 0,0\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CPSI?\r") == b"\r\n+CPSI: NO SERVICE, Low Power Mode\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CSQ\r") == b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"
    r.advance(5 * M + 5000)
    assert r.cmd(b"AT+CEREG?\r") == b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"


def _fix_fields(line):
    assert line.startswith(b"\r\n+CGNSSINFO: ")
    return line.split(b"\r\n")[1][len(b"+CGNSSINFO: "):].split(b",")


def test_gnss_ready_ttff_and_fix_values():
    r = Rig()
    r.boot()
    assert r.cmd(b"AT+CGNSSINFO\r") == b"\r\n+CGNSSINFO: ,,,,,,,,\r\n\r\nOK\r\n"
    t_on = VT.ms
    assert r.cmd(b"AT+CGNSSPWR=1\r") == b"\r\nOK\r\n"
    assert r.meter.state["gnss"] == "on"
    assert r.cmd(b"AT+CGNSSINFO\r") == b"\r\n+CGNSSINFO: ,,,,,,,,\r\n\r\nOK\r\n"
    r.advance(9000 - (VT.ms - t_on) - 10)
    assert r.read() == b""
    r.advance(20)
    assert r.read() == b"\r\n+CGNSSPWR: READY!\r\n"
    t_ready = VT.ms
    assert r.cmd(b"AT+CGNSSPWR?\r") == b"\r\n+CGNSSPWR: 1,1,1,0\r\n\r\nOK\r\n"
    r.advance(TTFF_COLD_MS - (VT.ms - t_ready) - 500)
    assert r.cmd(b"AT+CGNSSINFO\r", 100) == b"\r\n+CGNSSINFO: ,,,,,,,,\r\n\r\nOK\r\n"  # cold start
    r.advance(1000)
    r.u.write(b"AT+CGNSSINFO\r")
    t_q = VT.ms
    g = r.world.gnss_at(t_q)
    r.advance(100)
    f = _fix_fields(r.read())
    assert len(f) == 18 and f[0] == b"3" and f[2] == b"" and f[4] == b"00" and f[17] == b"0"
    assert int(f[1]) + int(f[3]) == g["sats"]
    assert f[5] == ("%d.%07d" % (g["lat"] // 1000000, g["lat"] % 1000000 * 10)).encode()
    assert f[6] == b"N" and f[8] == b"E"
    assert f[7] == ("%d.%07d" % (g["lon"] // 1000000, g["lon"] % 1000000 * 10)).encode()
    pos = r.world.position_at(t_q)
    assert abs(g["lat"] - pos[0]) < 60 and abs(g["lon"] - pos[1]) < 120
    assert f[9] == b"130926"  # 22:00:5x UTC on the 13th
    assert f[10].startswith(b"2200") and f[10].endswith(b".00")
    assert f[12] == b"0.000" and f[13] == b""  # standing still
    assert f[15] == ("%d.%02d" % (g["hdop10"] // 10, g["hdop10"] % 10 * 10)).encode()
    # power off and on again: READY after 2 s, hot fix 2 s later
    assert r.cmd(b"AT+CGNSSPWR=0\r") == b"\r\nOK\r\n"
    assert r.meter.state["gnss"] == "off"
    assert r.cmd(b"AT+CGNSSPWR=1\r") == b"\r\nOK\r\n"
    r.advance(2000)
    assert r.read() == b"\r\n+CGNSSPWR: READY!\r\n"
    assert r.cmd(b"AT+CGNSSINFO\r", 100) == b"\r\n+CGNSSINFO: ,,,,,,,,\r\n\r\nOK\r\n"
    r.advance(TTFF_HOT_MS)
    assert len(_fix_fields(r.cmd(b"AT+CGNSSINFO\r", 100))) == 18


def test_gnss_indoor_gives_no_fix_and_variants():
    r = Rig(variant="manual")
    r.boot()
    r.cmd(b"AT+CGNSSPWR=1\r")
    r.advance(9000 + TTFF_COLD_MS)
    r.read()
    f = _fix_fields(r.cmd(b"AT+CGNSSINFO\r", 100))
    assert len(f) == 16 and f[0] == b"3"
    g = r.world.gnss_at(VT.ms - 100)
    lat = g["lat"]
    mu = lat % 1000000 * 60
    assert f[4] == ("%02d%02d.%06d" % (lat // 1000000, mu // 1000000, mu % 1000000)).encode()
    assert f[11] == b"0.0" and f[10].endswith(b".0") and f[12] == b"0.0"
    r.advance(H - VT.ms + 60000)  # at home, indoors
    assert r.cmd(b"AT+CGNSSINFO\r") == b"\r\n+CGNSSINFO: ,,,,,,,,,,,,,,,\r\n\r\nOK\r\n"
    r = Rig(variant="domestic")
    r.boot()
    r.cmd(b"AT+CGNSSPWR=1\r")
    r.advance(9000 + TTFF_COLD_MS)
    r.read()
    f = _fix_fields(r.cmd(b"AT+CGNSSINFO\r", 100))
    assert len(f) == 16 and f[3].startswith(b"59.917") and f[5].startswith(b"10.76")


def test_knots_and_walk_fix():
    r = Rig(route=[
        {"at": "00:00", "place": "a", "lat": 59.9000, "lon": 10.7000, "sky": "open"},
        {"at": "01:00", "place": "b", "lat": 59.9000, "lon": 10.7000, "sky": "open"},
        {"at": "01:10", "place": "c", "lat": 59.9054, "lon": 10.7000, "sky": "open"},  # 600 m north
    ])
    r.boot()
    r.cmd(b"AT+CGNSSPWR=1\r")
    r.advance(H + 5 * M - VT.ms)
    r.read()
    f = _fix_fields(r.cmd(b"AT+CGNSSINFO\r", 100))
    # 600 m in 10 min = 3.6 km/h = 36 (0.1 km/h) -> 1.944 knots
    assert f[12] == b"1.944" and f[13] == b"0.00", f


def _net_up(r):
    assert r.cmd(b"AT+NETOPEN\r", 1000) == b"\r\nOK\r\n\r\n+NETOPEN: 0\r\n"
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 1\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN\r") == b"\r\n+IP ERROR: Network is already opened\r\n\r\nERROR\r\n"


def test_socket_buffer_mode_exact_bytes():
    r = Rig()
    r.server = RecordingServer(ack=b"[ACK]")
    r.world.add_server("tracker.trygg.test", "192.0.2.10", 5093, r.server)
    r.boot()
    assert r.cmd(b"AT+CIPRXGET=1\r") == b"\r\nOK\r\n"
    _net_up(r)
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n"
    assert len(r.server.conns) == 1
    assert r.cmd(b"AT+CIPSEND=0,10\r", 50) == b"\r\n> "
    r.u.write(b"[SG*12")  # the payload may come in pieces; it is not a command line
    r.u.write(b"34]\r")
    r.advance(100)
    assert r.read() == b"\r\nOK\r\n\r\n+CIPSEND: 0,10,10\r\n"
    r.advance(300)
    assert r.server.conns[0].got == b"[SG*1234]\r"
    assert r.read() == b"\r\n+CIPRXGET: 1,0\r\n"
    r.server.conns[0].send(b"12345678")  # a second packet: no second URC until read
    r.advance(300)
    assert r.read() == b""
    assert r.cmd(b"AT+CIPRXGET=4,0\r") == b"\r\n+CIPRXGET: 4,0,13\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CIPRXGET=2,0,5\r") == b"\r\n+CIPRXGET: 2,0,5,8\r\n[ACK]\r\nOK\r\n"
    assert r.cmd(b"AT+CIPRXGET=2,0,100\r") == b"\r\n+CIPRXGET: 2,0,8,0\r\n12345678\r\nOK\r\n"
    r.server.conns[0].send(b"x")
    r.advance(300)
    assert r.read() == b"\r\n+CIPRXGET: 1,0\r\n"
    assert r.meter.state["modem"] == "active"
    r.advance(3000)
    assert r.meter.state["modem"] == "idle"
    assert r.cmd(b"AT+CIPCLOSE=0\r") == b"\r\nOK\r\n\r\n+CIPCLOSE: 0,0\r\n"
    assert r.server.conns[0].closed


def test_socket_push_mode_and_server_close():
    r = Rig()
    r.boot()
    _net_up(r)
    assert r.cmd(b'AT+CIPOPEN=1,"TCP","192.0.2.10",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 1,0\r\n"
    c = r.server.conns[0]
    assert c.peer.startswith("10.148.0.17:")
    c.send(b"[3G*1*0002*LK]")
    r.advance(300)
    assert r.read() == b"\r\nRECV FROM:192.0.2.10:5093\r\n+IPD14\r\n[3G*1*0002*LK]"
    c.close_cb()
    r.advance(300)
    assert r.read() == b"\r\n+IPCLOSE: 1,1\r\n"
    assert r.cmd(b"AT+CIPSEND=1,3\r") == b"\r\nERROR\r\n"
    # the link the server closed can be opened again straight away
    assert r.cmd(b'AT+CIPOPEN=1,"TCP","192.0.2.10",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 1,0\r\n"
    assert len(r.server.conns) == 2


def test_cipopen_failures():
    r = Rig()
    r.boot()
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,2\r\n"
    _net_up(r)
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","nowhere.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,11\r\n"
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",81\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,4\r\n"
    assert r.cmd(b'AT+CIPOPEN=10,"TCP","192.0.2.10",81\r', 500) == b"\r\nERROR\r\n"


def test_coverage_loss_closes_network():
    r = Rig()
    r.boot()
    _net_up(r)
    r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500)
    r.advance(30 * M - VT.ms + 100)
    assert r.read() == b"\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n"
    assert r.server.conns[0].closed
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 0\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN\r", 1000) == b"\r\nOK\r\n\r\n+NETOPEN: 1\r\n"
    r.advance(5 * M + 4000)
    assert r.cmd(b"AT+CEREG?\r") == b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"
    _net_up(r)


def test_sleep_drops_bytes_until_dtr_low_and_ri_pulses():
    r = Rig()
    r.boot()
    assert r.cmd(b"AT+CFGRI=1\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CSCLK=1\r") == b"\r\nOK\r\n"
    r.advance(20000)
    assert not r.emu.asleep  # DTR is low: stays awake
    r.dtr.value(1)
    r.advance(10500)
    assert r.emu.asleep and r.meter.state["modem"] == "sleep"
    before = r.emu.dropped_bytes
    assert r.cmd(b"AT\r") == b""
    assert r.emu.dropped_bytes == before + 3
    r.dtr.value(0)
    r.advance(60)
    assert not r.emu.asleep and r.meter.state["modem"] == "idle"
    assert r.cmd(b"AT\r") == b"\r\nOK\r\n"
    # a URC while asleep: RI low for 60 ms, then high again
    r.dtr.value(1)
    r.advance(11000)
    assert r.emu.asleep
    _ = r.falls[:]
    r.emu._urc("+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY")
    r.advance(1)
    assert r.ri.value() == 0 and len(r.falls) == 1
    assert r.read() == b"\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n"
    r.advance(59)
    assert r.ri.value() == 1
    assert r.emu.ri_pulses == 1


def test_no_ri_without_cfgri():
    r = Rig()
    r.boot()
    r.emu._urc("+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY")
    r.advance(100)
    assert r.falls == [] and r.ri.value() == 1


def test_reboot_emits_atready_again_and_resets_echo():
    r = Rig()
    r.boot()
    _net_up(r)
    r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500)
    r.emu.reboot()
    assert r.server.conns[0].closed
    r.advance(BOOT_MS + 100)
    assert r.read() == b"\r\n*ATREADY: 1\r\n"
    r.advance(5000)
    r.read()
    assert r.cmd(b"AT\r") == b"AT\r\r\nOK\r\n"  # echo is back on
    assert r.cmd(b"ATE0\r") == b"ATE0\r\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 0\r\n\r\nOK\r\n"
    assert r.emu.boots == 2


def test_power_cut_garbage_and_mute():
    r = Rig()
    r.boot()
    r.emu.garbage(b"\xff\xfe#@!")
    r.advance(10)
    assert r.read() == b"\xff\xfe#@!"
    r.emu.mute(5000)
    assert r.cmd(b"AT\r", 1000) == b""
    r.advance(4000)
    assert r.cmd(b"AT\r") == b"\r\nOK\r\n"
    r.emu.power_cut()
    assert r.emu.state == "off" and r.meter.state["modem"] == "off"
    assert r.cmd(b"AT\r", 20000) == b""
    s = r.emu.stats()
    assert s["commands"] >= 2 and s["dropped_bytes"] >= 6 and s["bytes_to_host"] > 0
