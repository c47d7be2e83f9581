"""The A76xx emulator on the wire: power-on timing, exact response bytes, GNSS, sockets, sleep/RI,
faults. Driven through a real fake machine.UART and pins on virtual time."""
import support
from fakepeer import RecordingServer
from firmware import clock
from host_sim import world as W
from host_sim.fakes import machine as fm
from host_sim.modem_a76xx import (AGPS_BYTES, AGPS_FAIL_MS, AGPS_MS, BOOT_MS, GNSS_LOAD_MS, GNSS_TTFF,
                                  NITZ_MS, REG_MS, SLEEP_IDLE_MS, TAIL_MS, A76xxEmulator)

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
        "cell_fade_db": 0,  # exact RSRP-derived bytes (CSQ, CPSI) below
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
    assert r.meter.state["modem"] == "boot"  # on, and searching for a network: not yet idle
    r.advance(5000)
    assert r.read() == b"\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n"
    assert r.emu.registered and r.meter.state["modem"] != "boot"  # camped: idle (or its radio tail)
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


def test_settings_answer_their_read_test_write_and_execute_forms():
    # One factory (_flag_handler) answers the numeric settings: the test form where the
    # manual gives it (A76-ATM §3.2.11 CMEE, §4.2.12 CTZU, §7.2.10 CLIP, whose execute form
    # sets the factory value 0); AT+CSCLK's (§10.2.7) is not emulated; out of range: ERROR.
    r = Rig()
    r.boot()
    ok, err = b"\r\nOK\r\n", b"\r\nERROR\r\n"
    for line, want in [
        (b"AT+CMEE=?\r", b"\r\n+CMEE: (0-2)\r\n" + ok),
        (b"AT+CMEE=3\r", err),
        (b"AT+CMEE\r", err),
        (b"AT+CTZU=?\r", b"\r\n+CTZU: (0-1)\r\n" + ok),
        (b"AT+CTZU\r", err),
        (b"AT+CLIP=?\r", b"\r\n+CLIP: (0-1)\r\n" + ok),
        (b"AT+CLIP=1\r", ok),
        (b"AT+CLIP?\r", b"\r\n+CLIP: 1,1\r\n" + ok),
        (b"AT+CLIP\r", ok),
        (b"AT+CLIP?\r", b"\r\n+CLIP: 0,1\r\n" + ok),
        (b"AT+CSCLK=?\r", err),
        (b"AT+CSCLK=3\r", err),
    ]:
        assert r.cmd(line) == want, line


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
    # network time needs AT+CTZU=1 (factory 0, A76-ATM §4.2.12) and comes NITZ_MS after the
    # registration; 22:00:xx UTC + 2 h: local midnight of the 14th, +08 quarter hours
    assert r.cmd(b"AT+CTZU?\r") == b"\r\n+CTZU: 0\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CTZU=1\r") == b"\r\nOK\r\n"
    r.advance(NITZ_MS)
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
    # searching for a network: charged the search current, not the registered idle or sleep
    assert r.meter.state["modem"] == "boot"
    r.advance(5 * M + 5000)
    assert r.cmd(b"AT+CEREG?\r") == b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"
    assert r.meter.state["modem"] != "boot"


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
    assert r.cmd(b"AT+CGNSSPWR?\r") == b"\r\n+CGNSSPWR: 1,0,1,0\r\n\r\nOK\r\n"
    hot, warm, cold, assisted = GNSS_TTFF["slow"]  # the default: the harsh end
    assert r.emu.gnss_plan() == ("cold", r.emu.gnss_ready_ms + cold) and t_ready - r.emu.gnss_ready_ms < 20
    r.advance(cold - (VT.ms - t_ready) - 500)
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
    assert f[9] == b"130926"  # 22:01:0x UTC on the 13th
    hms = clock.to_parts(r.world.utc(t_q))[3:]
    assert f[10] == b"%02d%02d%02d.00" % hms or f[10] == b"%02d%02d%02d.00" % (hms[0], hms[1], hms[2] + 1)
    # standing still: a drift of at most the world's 0.5 km/h (0.27 kn), course 0 or none
    assert f[12].startswith(b"0.") and int(f[12][2:]) <= 270 and f[13] in (b"", b"0.00"), f
    assert f[15] == ("%d.%02d" % (g["hdop10"] // 10, g["hdop10"] % 10 * 10)).encode()
    # off keeping the data (AP_Flash), on loading it: READY 9 s later again, then a hot fix
    assert r.cmd(b"AT+CGNSSPWR=0,1\r") == b"\r\nOK\r\n"
    assert r.meter.state["gnss"] == "off"
    assert r.cmd(b"AT+CGNSSPWR=1,1\r") == b"\r\nOK\r\n"
    r.advance(GNSS_LOAD_MS - 300)
    assert r.read() == b""
    r.advance(100)
    assert r.read() == b"\r\n+CGNSSPWR: READY!\r\n"
    assert _no_fix(r.cmd(b"AT+CGNSSINFO\r", 100))
    r.advance(hot)
    assert len(_fix_fields(r.cmd(b"AT+CGNSSINFO\r", 100))) == 18


def test_gnss_indoor_gives_no_fix_and_variants():
    r = Rig(variant="manual")
    r.boot()
    r.cmd(b"AT+CGNSSPWR=1\r")
    r.advance(9000 + r.emu.ttff_ms[2])
    r.read()
    f = _fix_fields(r.cmd(b"AT+CGNSSINFO\r", 100))
    assert len(f) == 16 and f[0] == b"3"
    g = r.world.gnss_at(VT.ms - 100)
    lat = g["lat"]
    mu = lat % 1000000 * 60
    assert f[4] == ("%02d%02d.%06d" % (lat // 1000000, mu // 1000000, mu % 1000000)).encode()
    assert f[11].startswith(b"0.") and f[10].endswith(b".0") and f[12] == b"0.0"  # a drift at rest
    r.advance(H - VT.ms + 60000)  # at home, indoors
    assert r.cmd(b"AT+CGNSSINFO\r") == b"\r\n+CGNSSINFO: ,,,,,,,,,,,,,,,\r\n\r\nOK\r\n"
    r = Rig(variant="domestic")
    r.boot()
    r.cmd(b"AT+CGNSSPWR=1\r")
    r.advance(9000 + r.emu.ttff_ms[2])
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
    # 600 m in 10 min = 3.6 km/h -> 1.944 knots, give or take the world's +-0.5 km/h of
    # Doppler noise (0.27 kn); course north within its +-10 degrees
    assert abs(int(f[12].replace(b".", b"")) - 1944) <= 270, f
    course = int(f[13].split(b".")[0])
    assert course <= 10 or course >= 350, f


def _no_fix(reply):
    """The no-fix answers of a real A7670: the empty line, or only OK (hardware.md §1.3)."""
    return reply in (b"\r\n+CGNSSINFO: ,,,,,,,,\r\n\r\nOK\r\n", b"\r\nOK\r\n")


SKY_ALL_DAY = [{"at": "00:00", "place": "field", "lat": 59.9173, "lon": 10.7646, "sky": "open"}]


def _sky_rig(**kw):
    kw.setdefault("route", SKY_ALL_DAY)
    kw.setdefault("events", [])
    r = Rig(**kw)
    r.boot()
    return r


def _power_on(r, command=b"AT+CGNSSPWR=1,1\r"):
    """Power GNSS on, wait for READY; returns the ms READY came."""
    assert r.cmd(command, 50) == b"\r\nOK\r\n"
    r.advance(GNSS_LOAD_MS)
    assert r.read() == b"\r\n+CGNSSPWR: READY!\r\n"
    return r.emu.gnss_ready_ms


def _first_fix(r):
    """Poll AT+CGNSSINFO every 100 ms until a fix; returns the ms of the reply with it."""
    for _ in range(1000):
        t = VT.ms
        reply = r.cmd(b"AT+CGNSSINFO\r", 100)
        if not _no_fix(reply):
            assert len(_fix_fields(reply)) == 18
            return t
    raise AssertionError("no fix")


def test_gnss_ready_9s_after_every_power_on():
    assert GNSS_LOAD_MS == 9000  # dynamic loading ~9 s (A76-ATM §24.2.1 note 2, GNSS-DL §3.4)
    r = _sky_rig()
    for command in (b"AT+CGNSSPWR=1\r", b"AT+CGNSSPWR=1,1\r", b"AT+CGNSSPWR=1,0,1\r"):
        t0 = VT.ms
        assert r.cmd(command, 50) == b"\r\nOK\r\n"
        assert r.meter.state["gnss"] == "on"  # on while the firmware loads
        assert r.cmd(b"AT+CAGPS\r", 50) == b"\r\nERROR\r\n"  # not before READY (§24.2.15)
        assert r.cmd(b"AT+CGNSSPWR=1\r", 50) == b"\r\nOK\r\n"  # on already: no second load
        r.advance(t0 + GNSS_LOAD_MS - VT.ms - 1)
        assert r.read() == b""
        r.advance(50)
        assert r.read() == b"\r\n+CGNSSPWR: READY!\r\n"
        assert 0 <= r.emu.gnss_ready_ms - t0 - GNSS_LOAD_MS <= 20  # plus the OK's own latency
        r.advance(60000)
        assert r.read() == b""  # one READY per power-on
        assert r.cmd(b"AT+CGNSSPWR=0\r", 50) == b"\r\nOK\r\n"
        assert r.meter.state["gnss"] == "off"
    assert r.emu.stats()["gnss_powerons"] == 3
    assert r.cmd(b"AT+CGNSSPWR=?\r") == b"\r\n+CGNSSPWR: (0,1),(0,1),(0,1),(0,1)\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CGNSSPWR=2\r") == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+CGNSSPWR=1,1,1,0,1\r") == b"\r\nERROR\r\n"


def test_gnss_hot_start_only_with_ap_flash_and_within_2h():
    hot, warm, cold, assisted = GNSS_TTFF["slow"]
    r = _sky_rig()
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("cold", t + cold)  # nothing stored yet
    assert _first_fix(r) - t in range(cold, cold + 200)
    assert r.cmd(b"AT+CGNSSPWR=0,1\r") == b"\r\nOK\r\n"  # stores the data
    t_off = VT.ms
    assert r.cmd(b"AT+CGNSSPWR?\r") == b"\r\n+CGNSSPWR: 0,1,1,0\r\n\r\nOK\r\n"
    # =1 (no AP_Flash) starts empty: cold, although the data is stored
    t = _power_on(r, b"AT+CGNSSPWR=1\r")
    assert r.emu.gnss_plan() == ("cold", t + cold)
    r.cmd(b"AT+CGNSSPWR=0\r")  # drops the chip's data; AP_Flash keeps what =0,1 stored
    # =1,1 within 2 h of the last fix: hot
    r.advance(t_off + 2 * H - GNSS_LOAD_MS - 1000 - VT.ms)
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("hot", t + hot)
    assert _first_fix(r) - t in range(hot, hot + 200)
    r.cmd(b"AT+CGNSSPWR=0,1\r")
    # a hot fix a minute ago, but plain =0 drops it and plain =1 starts cold
    r.advance(M)
    r.cmd(b"AT+CGNSSPWR=1,1\r")
    r.advance(1000)
    r.cmd(b"AT+CGNSSPWR=0\r")
    t = _power_on(r, b"AT+CGNSSPWR=1\r")
    assert r.emu.gnss_plan()[0] == "cold"


def test_gnss_warm_between_2h_and_4h_then_cold():
    hot, warm, cold, assisted = GNSS_TTFF["slow"]
    r = _sky_rig()
    _power_on(r)
    _first_fix(r)
    r.cmd(b"AT+CGNSSPWR=0,1\r")
    t_fix = r.emu.gnss_store[0]
    r.advance(t_fix + 2 * H + M - VT.ms)  # just over 2 h: warm (GNSS app note §5.1)
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("warm", t + warm)
    r.cmd(b"AT+CGNSSPWR=0,1\r")  # no fix this time: the stored fix stays the old one
    assert r.emu.gnss_store[0] == t_fix
    r.advance(t_fix + 4 * H - GNSS_LOAD_MS - 1000 - VT.ms)
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("warm", t + warm)  # 4 h: GPS ephemeris still valid
    r.cmd(b"AT+CGNSSPWR=0,1\r")
    r.advance(2 * M)
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("cold", t + cold)
    assert _first_fix(r) - t in range(cold, cold + 200)


def test_gnss_data_in_ap_flash_survives_a_modem_restart():
    hot = GNSS_TTFF["slow"][0]
    r = _sky_rig()
    _power_on(r)
    _first_fix(r)
    r.cmd(b"AT+CGNSSPWR=0,1\r")
    r.emu.reboot()
    r.advance(BOOT_MS + 6000)
    r.read()
    r.cmd(b"ATE0\r")
    assert r.cmd(b"AT+CGNSSPWR?\r") == b"\r\n+CGNSSPWR: 0,0,1,0\r\n\r\nOK\r\n"
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("hot", t + hot)


def test_agps_needs_data_and_shortens_the_search():
    hot, warm, cold, assisted = GNSS_TTFF["slow"]
    r = _sky_rig()
    t = _power_on(r)
    # no data connection: OK, then the socket failure (§24.2.15 code 101)
    assert r.cmd(b"AT+CAGPS\r", 50) == b"\r\nOK\r\n"
    r.advance(AGPS_FAIL_MS)
    assert r.read() == b"\r\n+AGPS: 101.\r\n"
    assert r.emu.agps_downloads == 0 and r.emu.gnss_plan() == ("cold", t + cold)
    _net_up(r)
    t_agps = VT.ms
    assert r.cmd(b"AT+CAGPS\r", 50) == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CAGPS\r", 50) == b"\r\nERROR\r\n"  # one download at a time (ASSUMED)
    assert r.meter.state["modem"] == "active"  # the download is radio time
    r.advance(t_agps + AGPS_MS["slow"] - VT.ms + 50)
    assert r.read() == b"\r\n+AGPS: success.\r\n"
    s = r.emu.stats()
    assert s["agps_downloads"] == 1 and s["agps_bytes"] == AGPS_BYTES
    kind, at = r.emu.gnss_plan()
    assert kind == "assisted" and at - r.emu.agps_at_ms == assisted and at < t + cold
    assert _first_fix(r) - r.emu.agps_at_ms in range(assisted, assisted + 200)
    # kept in AP_Flash: a start within 2 h of the download is assisted even without a hot start
    r.cmd(b"AT+CGNSSPWR=0,1\r")
    r.emu.gnss_store = (None, r.emu.gnss_store[1])  # as if the fix had not been stored
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("assisted", t + assisted)
    r.cmd(b"AT+CGNSSPWR=0,1\r")
    r.emu.gnss_store = (None, r.emu.gnss_store[1])
    r.advance(r.emu.gnss_store[1] + 2 * H - VT.ms + M)  # the assistance is too old now
    t = _power_on(r)
    assert r.emu.gnss_plan() == ("cold", t + cold)


def test_agps_lost_connection_during_download():
    r = _sky_rig()
    _power_on(r)
    _net_up(r)
    assert r.cmd(b"AT+CAGPS\r", 50) == b"\r\nOK\r\n"
    r.emu._lose_network()
    r.advance(AGPS_MS["slow"] + 100)
    assert r.read() == b"\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n\r\n+AGPS: 105.\r\n"
    assert r.emu.agps_downloads == 0 and r.emu.agps_at_ms is None


def test_gnss_old_firmware_has_no_ready_and_no_ap_flash():
    cold = GNSS_TTFF["slow"][2]
    r = _sky_rig(modem={"gnss_firmware": "old"})
    assert r.cmd(b"AT+CGNSSPWR?\r") == b"\r\n+CGNSSPWR: 0\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CGNSSPWR=1,1\r") == b"\r\nERROR\r\n"
    t0 = VT.ms
    assert r.cmd(b"AT+CGNSSPWR=1\r", 50) == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CGNSSPWR?\r") == b"\r\n+CGNSSPWR: 1\r\n\r\nOK\r\n"
    kind, at = r.emu.gnss_plan()  # usable at once: no loading
    assert kind == "cold" and at - t0 <= cold + 20
    r.advance(GNSS_LOAD_MS + 5000)
    assert r.read() == b""  # no READY, ever
    assert _first_fix(r) - t0 in range(cold - 200, cold + 200)
    assert r.cmd(b"AT+CGNSSPWR=0,1\r") == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+CGNSSPWR=0\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CGNSSPWR=1\r") == b"\r\nOK\r\n"
    assert r.emu.gnss_plan()[0] == "cold"  # nothing kept without AP_Flash


def test_gnss_ttff_range_options():
    for how, opts in (("fast", {"emu": {"gnss_ttff": "fast"}}),
                      ("typical", {"device": {"gnss_ttff": "typical"}}),
                      ("slow", {})):
        hot, warm, cold, assisted = GNSS_TTFF[how]
        r = _sky_rig(**opts)
        assert r.emu.gnss_ttff == how and r.emu.ttff_ms == (hot, warm, cold, assisted)
        t = _power_on(r)
        assert _first_fix(r) - t in range(cold, cold + 200), how
        r.cmd(b"AT+CGNSSPWR=0,1\r")
        t = _power_on(r)
        assert _first_fix(r) - t in range(hot, hot + 200), how
    assert GNSS_TTFF["fast"] == (1000, 20000, 28000, 3000)
    assert GNSS_TTFF["slow"] == (5000, 30000, 35000, 10000)
    for bad in ({"gnss_ttff": "quick"}, {"gnss_firmware": "2019"}):
        try:
            Rig(emu=bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % bad)


def _net_up(r):
    assert r.cmd(b"AT+NETOPEN\r", 1000) == b"\r\nOK\r\n\r\n+NETOPEN: 0\r\n"
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 1\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN\r") == b"\r\n+IP ERROR: Network is already opened\r\n\r\nERROR\r\n"


def _buffered_link(ack=b"[ACK]"):
    """A booted modem with a server that answers ack, in buffer mode with the network open:
    the Rig, ready for AT+CIPOPEN."""
    r = Rig()
    r.server = RecordingServer(ack=ack)
    r.world.add_server("tracker.trygg.test", "192.0.2.10", 5093, r.server)
    r.boot()
    assert r.cmd(b"AT+CIPRXGET=1\r") == b"\r\nOK\r\n"
    _net_up(r)
    return r


def test_socket_buffer_mode_exact_bytes():
    r = _buffered_link()
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
    assert r.meter.state["modem"] == "tail"  # RRC-connected until the inactivity timer
    r.advance(TAIL_MS)
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
    # A76-ATM §15.2.4 case 3: a link abnormally closed refuses with +CIPERROR: <err>, ERROR
    assert r.cmd(b"AT+CIPSEND=1,3\r") == b"\r\n+CIPERROR: 4\r\n\r\nERROR\r\n"
    # the link the server closed can be opened again straight away
    assert r.cmd(b'AT+CIPOPEN=1,"TCP","192.0.2.10",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 1,0\r\n"
    assert len(r.server.conns) == 2


def test_cipopen_failures():
    # refused at once, in the reply, then ERROR (A76-ATM §15.2.3 cases 2, 3), or failed after
    # OK in the result (§15.3.2: 4 refused, 11 DNS)
    r = Rig()
    r.boot()
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",5093\r', 500) == b"\r\n+CIPOPEN: 0,2\r\n\r\nERROR\r\n"
    _net_up(r)
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","nowhere.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,11\r\n"
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",81\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,4\r\n"
    assert r.cmd(b'AT+CIPOPEN=10,"TCP","192.0.2.10",81\r', 500) == \
        b"\r\n+IP ERROR: Invalid parameter\r\n\r\nERROR\r\n"
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n"
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",5093\r', 500) == b"\r\n+CIPOPEN: 0,4\r\n\r\nERROR\r\n"
    assert len(r.server.conns) == 1  # the busy link's attempt never reached the network
    assert r.cmd(b"AT+CIPSEND=0,0\r") == b"\r\n+CIPERROR: 3\r\n\r\nERROR\r\n"
    assert r.cmd(b"AT+CIPSEND=5,3\r") == b"\r\n+CIPERROR: 4\r\n\r\nERROR\r\n"


def test_coverage_loss_leaves_the_network_half_open_until_netclose():
    # A76-ATM §15.4: after NETWORK CLOSED UNEXPECTEDLY the application closes its sockets and
    # sends AT+NETCLOSE "if AT+NETOPEN? shows the network library is still opened": it is, and
    # nothing connects until it is released, coverage or not
    r = Rig()
    r.boot()
    _net_up(r)
    r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500)
    r.advance(30 * M - VT.ms + 100)
    assert r.read() == b"\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n"
    assert r.server.conns[0].closed
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 1\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN\r") == b"\r\n+IP ERROR: Network is already opened\r\n\r\nERROR\r\n"
    r.advance(5 * M + 4000)
    assert r.cmd(b"AT+CEREG?\r") == b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN\r") == b"\r\n+IP ERROR: Network is already opened\r\n\r\nERROR\r\n"
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500) == \
        b"\r\n+CIPOPEN: 0,1\r\n\r\nERROR\r\n"
    assert r.cmd(b"AT+CIPSEND=0,3\r") == b"\r\n+CIPERROR: 4\r\n\r\nERROR\r\n"
    assert r.cmd(b"AT+CIPCLOSE=0\r") == b"\r\n+CIPCLOSE: 0,4\r\n\r\nERROR\r\n"
    assert r.cmd(b"AT+NETCLOSE\r", 500) == b"\r\nOK\r\n\r\n+NETCLOSE: 0\r\n"
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 0\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+NETCLOSE\r") == b"\r\n+NETCLOSE: 2\r\n\r\nERROR\r\n"  # §15.2.2 case 5
    _net_up(r)
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n"


def test_coverage_loss_while_opening_fails_the_netopen():
    r = Rig()
    r.boot()
    r.advance(30 * M - VT.ms - 200)
    assert r.cmd(b"AT+NETOPEN\r", 1000) == b"\r\nOK\r\n\r\n+NETOPEN: 1\r\n"
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 0\r\n\r\nOK\r\n"


def test_netclose_closes_the_open_links_first():
    r = _buffered_link()
    assert r.cmd(b'AT+CIPOPEN=2,"TCP","tracker.trygg.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 2,0\r\n"
    assert r.cmd(b"AT+NETCLOSE\r", 500) == b"\r\nOK\r\n\r\n+CIPCLOSE: 2,0\r\n\r\n+NETCLOSE: 0\r\n"
    assert r.server.conns[0].closed


def test_sleep_drops_bytes_until_dtr_low_and_ri_pulses():
    r = Rig()
    r.boot()
    assert r.cmd(b"AT+CFGRI=1\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CSCLK=1\r") == b"\r\nOK\r\n"
    r.advance(20000)
    assert not r.emu.asleep  # DTR is low: stays awake
    r.dtr.value(1)
    r.advance(SLEEP_IDLE_MS + 500)
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
    r.advance(SLEEP_IDLE_MS + 1000)
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


def _modem_states(r, since):
    """The modem's meter states from VT ms `since` on: [(ms after since, state)], without the
    ones that lasted no time (two changes in the same ms)."""
    st = [(t - since, st) for t, comp, st in r.meter.log if comp == "modem" and t >= since]
    return [st[i] for i in range(len(st)) if i + 1 == len(st) or st[i + 1][0] != st[i][0]]


def test_no_sleep_while_gnss_is_on():
    # LilyGO's bench photo: a T-A7670X with GNSS on draws 72 mA for the whole board, a SIM7670G
    # board 2 mA (hardware.md §3.2 list): the A7670 does not sleep while its GNSS runs
    r = Rig()
    r.boot()
    r.advance(TAIL_MS)  # registration's radio tail over
    assert r.cmd(b"AT+CSCLK=1\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CGNSSPWR=1\r") == b"\r\nOK\r\n"
    r.dtr.value(1)
    r.advance(4 * SLEEP_IDLE_MS)  # UART silent (but for READY), DTR high: awake all along
    assert r.read() == b"\r\n+CGNSSPWR: READY!\r\n"
    assert not r.emu.asleep and r.meter.state["modem"] == "idle" and r.meter.state["gnss"] == "on"
    r.dtr.value(0)
    assert r.cmd(b"AT+CGNSSPWR=0\r") == b"\r\nOK\r\n"
    t_off = VT.ms
    r.dtr.value(1)
    r.advance(SLEEP_IDLE_MS - 300)
    assert not r.emu.asleep  # the command was UART activity: the idle time counts from it
    r.advance(400)
    assert r.emu.asleep and r.meter.state["modem"] == "sleep" and r.meter.state["gnss"] == "off"
    assert VT.ms - t_off >= SLEEP_IDLE_MS


def test_radio_tail_after_each_transfer_then_idle_or_sleep():
    # after each burst the link stays RRC-connected TAIL_MS (the operator's inactivity timer,
    # ~10 s, hardware.md §3.2 list) before the modem is idle; a burst in the tail restarts it;
    # DTR sleep waits for the tail to end
    from host_sim.modem_a76xx import ACTIVE_MS

    r = _buffered_link()
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n"
    r.advance(ACTIVE_MS + TAIL_MS)
    assert r.meter.state["modem"] == "idle"
    t0 = VT.ms
    assert r.cmd(b"AT+CIPSEND=0,4\r", 50) == b"\r\n> "
    r.u.write(b"[LK]")
    r.advance(ACTIVE_MS + TAIL_MS + 1000)
    st = _modem_states(r, t0)
    # CIPSEND's burst, the server's ack (another burst within it), then the tail, then idle
    assert [s for _, s in st] == ["active", "tail", "idle"], st
    t_tail, t_idle = st[1][0], st[2][0]
    assert ACTIVE_MS <= t_tail < ACTIVE_MS + 500 and t_idle - t_tail == TAIL_MS, st
    # the same with DTR sleep allowed: it comes SLEEP_IDLE_MS after the last UART byte, and
    # never inside the tail
    r.read()
    assert r.cmd(b"AT+CSCLK=1\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CIPSEND=0,4\r", 50) == b"\r\n> "
    t1 = VT.ms
    r.u.write(b"[LK]")
    r.dtr.value(1)
    r.advance(SLEEP_IDLE_MS + ACTIVE_MS + TAIL_MS)
    st = _modem_states(r, t1)
    assert [s for _, s in st] == ["active", "tail", "idle", "sleep"], st
    assert st[3][0] >= st[2][0] and st[3][0] >= SLEEP_IDLE_MS - 100 and r.emu.asleep


def test_a_tail_longer_than_the_idle_timer_holds_sleep_off():
    # a radio burst with no UART traffic at all (a downlink the host has not read yet, in
    # buffer mode the +CIPRXGET URC is the only byte): sleep waits for the link's release
    from host_sim.modem_a76xx import ACTIVE_MS

    r = Rig(emu={"sleep_idle_ms": 10000})
    r.boot()
    assert r.cmd(b"AT+CSCLK=1\r") == b"\r\nOK\r\n"
    r.dtr.value(1)
    r.advance(5000)
    t0 = VT.ms
    r.emu._radio(9000)  # a long transfer (an AGPS download is one)
    r.advance(9000 + TAIL_MS + 100)
    st = _modem_states(r, t0)
    assert [s for _, s in st] == ["active", "tail", "sleep"], st
    assert st[2][0] == 9000 + TAIL_MS  # 10 s idle reached long before: the tail decides
    assert ACTIVE_MS < 9000


def test_status_led_lit_while_the_modem_is_on_asleep_or_not():
    # T-A7670 V1.4: STATUS drives a red LED (49.9 ohm); STATUS is high once the module is on
    r = Rig()
    assert r.meter.state["led"] == "off"
    r.press()
    r.advance(BOOT_MS - 200)
    assert r.meter.state["modem"] == "boot" and r.meter.state["led"] == "off"
    r.advance(6000)
    assert r.meter.state["led"] == "on"
    r.read()
    assert r.cmd(b"AT+CSCLK=1\r") == b"AT+CSCLK=1\r\r\nOK\r\n"
    r.dtr.value(1)
    r.advance(SLEEP_IDLE_MS + TAIL_MS)
    assert r.emu.asleep and r.meter.state["led"] == "on"
    r.emu.power_cut()
    assert r.meter.state["led"] == "off" and r.meter.state["modem"] == "off"


def test_sleep_idle_time_within_the_application_notes_range():
    # A76-SLEEP §2: "about 10 to 20 seconds"; 15 s by default, either end on request
    for ms in (9999, 20001):
        support.raises(ValueError, Rig, emu={"sleep_idle_ms": ms})
    r = Rig(emu={"sleep_idle_ms": 20000})
    r.boot()
    r.advance(TAIL_MS)
    assert r.cmd(b"AT+CSCLK=1\r") == b"\r\nOK\r\n"
    r.dtr.value(1)
    r.advance(19500)
    assert not r.emu.asleep
    r.advance(700)
    assert r.emu.asleep


# ---- bytes on air (issue 8): IPv4 + TCP with timestamps, 52 bytes a segment ----
HDR = 52  # IPv4 20 (RFC 791) + TCP 20 (RFC 793) + timestamp option 10 + 2 NOP (RFC 7323)
SYN = 60  # SYN and SYN-ACK: + MSS 4, SACK-permitted 2, timestamps 10, window scale 3, NOP 1


def _air(r):
    return r.emu.air_up, r.emu.air_down


def test_air_bytes_of_a_connect_a_send_its_ack_and_a_close():
    ack = b"[SG*862000012345674*0002*LK]"
    r = _buffered_link(ack)
    assert _air(r) == (0, 0)  # AT commands and opening the data network carry no user data
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n"
    # DNS over UDP/IPv4 (28): query = header 12 + "tracker.trygg.test" in labels (18 + 2) +
    # type and class 4; the answer repeats it and adds one A record of 16 (RFC 1035 §4.1)
    q = 12 + 20 + 4
    dns_up, dns_down = 28 + q, 28 + q + 16
    assert _air(r) == (dns_up + SYN + HDR, dns_down + SYN)  # SYN, SYN-ACK, ACK
    n = 200
    assert r.cmd(b"AT+CIPSEND=0,%d\r" % n, 50) == b"\r\n> "
    r.u.write(b"U" * n)
    r.advance(1000)  # sent; the server's ack came back carrying its ACK; ours left 200 ms later
    assert r.server.conns[0].got == b"U" * n
    up, down = _air(r)
    assert (up, down) == (dns_up + SYN + HDR + n + HDR + HDR, dns_down + SYN + len(ack) + HDR)
    assert r.cmd(b"AT+CIPRXGET=2,0,100\r").endswith(ack + b"\r\nOK\r\n")
    assert _air(r) == (up, down)  # reading the modem's buffer is no traffic
    assert r.cmd(b"AT+CIPCLOSE=0\r") == b"\r\nOK\r\n\r\n+CIPCLOSE: 0,0\r\n"
    assert _air(r) == (up + 2 * HDR, down + HDR)  # FIN, FIN+ACK, ACK
    # 228 payload bytes took 628 more on air: DNS 144, handshake and close 328, and 52 for each
    # of the data segment, the ack's segment and the pure ACK of it
    assert r.emu.air_up + r.emu.air_down == n + len(ack) + 628
    assert r.emu.stats()["air_up"] == r.emu.air_up


def test_air_bytes_segment_at_the_mss_and_ack_every_second_segment():
    r = Rig()
    r.boot()
    assert r.cmd(b"AT+CIPRXGET=1\r") == b"\r\nOK\r\n"
    _net_up(r)
    r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",5093\r', 500)  # an address: no DNS
    assert _air(r) == (SYN + HDR, SYN)
    c = r.server.conns[0]
    c.send(b"d" * 3000)  # 1448 + 1448 + 104 payload bytes (MSS 1460 less 12 of options)
    r.advance(1000)
    # three segments down; the modem acks the first two at once, the third 200 ms later
    assert _air(r) == (SYN + HDR + 2 * HDR, SYN + 3000 + 3 * HDR)
    c.close_cb()  # the server closes: FIN down, FIN+ACK up, ACK down
    r.advance(300)
    assert _air(r) == (SYN + HDR + 3 * HDR, SYN + 3000 + 5 * HDR)


def test_a_full_window_keeps_the_servers_bytes_off_the_air():
    from host_sim.modem_a76xx import RX_WINDOW

    r = Rig()
    r.boot()
    assert r.cmd(b"AT+CIPRXGET=1\r") == b"\r\nOK\r\n"
    _net_up(r)
    r.cmd(b'AT+CIPOPEN=0,"TCP","192.0.2.10",5093\r', 500)
    c = r.server.conns[0]
    assert c.send(b"f" * (RX_WINDOW + 1000)) == 1000  # waiting at the server for the window
    r.advance(1000)
    r.read()
    assert r.cmd(b"AT+CIPRXGET=4,0\r") == b"\r\n+CIPRXGET: 4,0,%d\r\n\r\nOK\r\n" % RX_WINDOW
    up, down = _air(r)
    assert down == SYN + RX_WINDOW + 12 * HDR  # 16384 bytes = 12 segments; the rest not sent
    r.cmd(b"AT+CIPRXGET=2,0,1460\r")  # reading opens the window: an update up, the rest down
    r.advance(1000)
    assert r.emu.air_down == down + 1000 + HDR
    assert r.cmd(b"AT+CIPRXGET=4,0\r") == b"\r\n+CIPRXGET: 4,0,%d\r\n\r\nOK\r\n" % (RX_WINDOW - 1460 + 1000)
    assert r.emu.air_up > up


def test_an_agps_download_counts_on_air():
    r = Rig()
    r.boot()
    _net_up(r)
    r.cmd(b"AT+CGNSSPWR=1,1\r")
    r.advance(GNSS_LOAD_MS + 500)
    r.read()
    before = r.emu.air_up + r.emu.air_down
    assert r.cmd(b"AT+CAGPS\r") == b"\r\nOK\r\n"
    r.advance(AGPS_MS["slow"] + 500)
    assert r.read() == b"\r\n+AGPS: success.\r\n"
    assert r.emu.air_up + r.emu.air_down - before > AGPS_BYTES + 4 * HDR


def test_an_empty_receive_buffer_answers_no_data_and_error():
    # A76-ATM §15.2.5: AT+CIPRXGET=2 on an empty buffer is "+IP ERROR: No data" then ERROR
    r = _buffered_link()
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n"
    assert r.cmd(b"AT+CIPRXGET=2,0,100\r") == b"\r\n+IP ERROR: No data\r\n\r\nERROR\r\n"


# ==================================================================== the modem as the manual says
def _cclk(r):
    return r.cmd(b"AT+CCLK?\r").split(b'"')[1]


def test_network_time_needs_ctzu_and_comes_after_registration():
    # A76-ATM §4.2.12: NITZ updates the clock only with AT+CTZU=1; its factory value is 0 and
    # it is nonvolatile. The time comes NITZ_MS after the registration.
    r = Rig()
    r.boot()
    assert r.cmd(b"AT+CTZU=?\r") == b"\r\n+CTZU: (0-1)\r\n\r\nOK\r\n"
    r.advance(NITZ_MS + 1000)
    assert _cclk(r).startswith(b"70/01/01,00:00:")  # CTZU 0: NITZ came and was ignored
    assert r.cmd(b"AT+CTZU=1\r") == b"\r\nOK\r\n"
    r.advance(60000)
    assert _cclk(r).startswith(b"70/01/01,00:01:")  # applied only from the next NITZ on
    r.press(3000)  # power off and on: the setting is kept, the clock is not
    r.advance(3000)
    r.boot()
    assert r.cmd(b"AT+CTZU?\r") == b"\r\n+CTZU: 1\r\n\r\nOK\r\n"
    booted = VT.ms
    assert _cclk(r).startswith(b"70/01/01,")  # registered, the network's time not here yet
    r.advance(REG_MS + NITZ_MS - 6000 + 100)
    assert _cclk(r).startswith(b"26/09/14,00:0") and _cclk(r).endswith(b"+08")
    assert VT.ms - booted < 10000


def test_network_time_never_when_the_operator_sends_none():
    r = Rig(emu={"nitz": "never", "ctzu": 1})
    r.boot()
    r.advance(3600000)
    assert _cclk(r).startswith(b"70/01/01,01:00:")
    support.raises(ValueError, Rig, emu={"nitz": "sometimes"})
    support.raises(ValueError, Rig, emu={"ctzu": 2})


def test_ciptimeout_bounds_a_slow_connect():
    # A76-ATM §15.2.12: AT+NETOPEN, AT+CIPOPEN and AT+CIPSEND take up to 120 s by default
    r = Rig(emu={"cipopen_ms": 45000})
    r.boot()
    assert r.cmd(b"AT+CIPTIMEOUT?\r") == b"\r\n+CIPTIMEOUT: 120000,120000,120000\r\n\r\nOK\r\n"
    _net_up(r)
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 30000) == b"\r\nOK\r\n"
    r.advance(15000)
    assert r.read() == b"\r\n+CIPOPEN: 0,0\r\n"  # 45 s: within the default limit
    assert r.cmd(b"AT+CIPCLOSE=0\r", 500) == b"\r\nOK\r\n\r\n+CIPCLOSE: 0,0\r\n"
    assert r.cmd(b"AT+CIPTIMEOUT=3000,120001\r") == b"\r\nERROR\r\n"  # 3000..120000 ms
    assert r.cmd(b"AT+CIPTIMEOUT=,20000\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CIPTIMEOUT?\r") == b"\r\n+CIPTIMEOUT: 120000,20000,120000\r\n\r\nOK\r\n"
    t0 = VT.ms
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5093\r', 19000) == b"\r\nOK\r\n"
    r.advance(20000 - (VT.ms - t0) + 100)
    assert r.read() == b"\r\n+CIPOPEN: 0,10\r\n"  # <err> 10: Timeout (§15.3.2)
    r.advance(60000)
    assert r.read() == b"" and len(r.server.conns) == 1 and r.emu.links[0] is None
    r.emu.reboot()  # NO_SAVE: the default again after a restart
    r.advance(BOOT_MS + 6000)
    r.read()
    assert r.cmd(b"ATE0\r") == b"ATE0\r\r\nOK\r\n"
    assert r.cmd(b"AT+CIPTIMEOUT?\r") == b"\r\n+CIPTIMEOUT: 120000,120000,120000\r\n\r\nOK\r\n"


def test_ciptimeout_bounds_a_slow_netopen():
    r = Rig(emu={"netopen_ms": 30000})
    r.boot()
    assert r.cmd(b"AT+CIPTIMEOUT=10000,10000,10000\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN\r", 10100) == b"\r\nOK\r\n\r\n+NETOPEN: 10\r\n"
    assert r.cmd(b"AT+NETOPEN?\r") == b"\r\n+NETOPEN: 0\r\n\r\nOK\r\n"
    r.advance(30000)
    assert r.read() == b""  # the late answer never comes: the attempt was dropped


def test_model_without_gnss_refuses_every_gnss_command():
    r = Rig(emu={"model": "A7670E-LASE"})
    r.boot()
    ati = r.cmd(b"ATI\r")
    assert ati == (b"\r\nManufacturer: SIMCOM INCORPORATED\r\n\r\nModel: A7670E-LASE\r\n\r\n"
                   b"Revision: A7670M7_V1.11.1\r\n\r\nIMEI: 862000012345674\r\n\r\n"
                   b"+GCAP: +CGSM,+FCLASS,+DS\r\n\r\nOK\r\n")
    assert r.cmd(b"AT+CGMM\r") == b"\r\nA7670E-LASE\r\n\r\nOK\r\n"
    for c in (b"AT+CGNSSPWR=1", b"AT+CGNSSPWR?", b"AT+CGNSSPWR=?", b"AT+CGNSSINFO", b"AT+CAGPS",
              b"AT+CGPSINFO", b"AT+CGPSCOLD"):
        assert r.cmd(c + b"\r") == b"\r\nERROR\r\n", c  # LilyGO issue #52 (A7670G-LLSE)
    assert r.emu.gnss_powerons == 0 and r.meter.state.get("gnss", "off") == "off"
    assert r.cmd(b"AT+CLIP=1\r") == b"\r\nOK\r\n"  # voice and SMS are there
    assert r.cmd(b"AT+CMGF=1\r") == b"\r\nOK\r\n"


def test_model_without_voice_or_sms_and_the_overrides():
    r = Rig(emu={"model": "A7670E-LNXY-UBL"})
    r.boot()
    for c in (b"ATD+4791111111;", b"ATA", b"AT+CLIP=1", b"AT+CLCC", b"AT+CHUP", b"AT+CMGF=1",
              b'AT+CMGS="+4791111111"', b"AT+CNMI=2,1,0,0,0", b"AT+CGNSSPWR=1"):
        assert r.cmd(c + b"\r") == b"\r\nERROR\r\n", c
    assert r.cmd(b"AT+CSQ\r") == b"\r\n+CSQ: 28,99\r\n\r\nOK\r\n"
    r = Rig(emu={"voice": False})  # a FASE without voice: GNSS and SMS stay
    r.boot()
    assert r.cmd(b"ATD+4791111111;\r") == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+CMGF=1\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+CGNSSPWR=1\r") == b"\r\nOK\r\n"
    support.raises(ValueError, Rig, emu={"model": "A7670X-NOPE"})
    support.raises(ValueError, Rig, emu={"gnss": "yes"})


def test_model_from_the_scenarios_device_block():
    r = Rig(device={"model": "A7670SA-LASE", "nitz": "never"})
    assert r.emu.model == "A7670SA-LASE" and not r.emu.has_gnss and r.emu.has_voice
    assert r.emu.nitz_mode == "never"
