"""A76xx driver: parsing of hardware.md §1 formats, power-on, registration, sockets, sleep, RI."""
import support
import asyncio

from firmware import clock
from firmware.compat import sleep_ms, wait_for_ms
from firmware.drivers import a76xx, events
from firmware.drivers.a76xx import A76xx
from firmware.drivers.at import ATError, ATReset
from host_sim.fakes import machine as fm
from scripted import ScriptedUART

OK = b"\r\nOK\r\n"

# hardware.md §1.3, exact lines (the domestic example prints 'xxxxx' in place of digits)
MANUAL = "+CGNSSINFO: 2,09,05,00,3113.330650,N,12121.262554,E,131117,091918.00,32.9,0.0,255.0,1.1,0.8,0.7"
FOREIGN = ("+CGNSSINFO: 3,09,,03,00,22.6550274,N,114.0600586,E,230824,063956.00,83.9,0.000,,"
           "10.83,10.01,4.13,0")
CPSI_LTE = "+CPSI: LTE,Online,460-01,0x230A,175499523,318,EUTRAN-BAND3,1650,5,0,21,67,255,19"  # §1.4
DOMESTIC = "+CGNSSINFO: 2,04,00,21.5012345,N,114.12345678,E,020924,094145.00,-34.0,1.403,,6.9,6.8,1.0,03"


def _modem(dtr=False, ri=False):
    fm.WIRING.reset()
    u = ScriptedUART()
    key = fm.Pin(4, fm.Pin.OUT)
    d = fm.Pin(25, fm.Pin.OUT) if dtr else None
    r = fm.Pin(33, fm.Pin.IN) if ri else None
    return u, A76xx(u, key, d, r)


def _socket_events(m, out):
    """Move the driver's socket events into out as (link, "data"/"closed"); returns out."""
    while True:
        e = m.events.get()
        if e is None:
            return out
        if e[0] in (events.DATA, events.CLOSED):
            out.append((e[1], "data" if e[0] == events.DATA else "closed"))


def _reply(*lines):
    return b"".join(b"\r\n" + s.encode() + b"\r\n" for s in lines) + OK


SETUP = ["ATI", "AT+CTZU=1", "AT+CIPTIMEOUT=20000,20000,20000"]  # after CFGRI at the first power-on


def _ati(model):
    """ATI's reply (A76-ATM §2.2.7), as a real A7670 prints it."""
    return _reply("Manufacturer: INCORPORATED", "Model: " + model, "Revision: A7670M7_V1.11.1",
                  "IMEI: 862000012345674", "+GCAP: +CGSM,+FCLASS,+DS")


def _setup(u, model="A7670E-FASE"):
    """Script the set-up commands power_on() sends after AT+CFGRI=1."""
    u.on("ATI", _ati(model))
    u.on("AT+CTZU=1", OK)
    u.on("AT+CIPTIMEOUT=20000,20000,20000", OK)


# ---- pure parsers -------------------------------------------------------------------------------


def test_cgnssinfo_manual_layout():
    f = a76xx.parse_cgnssinfo(MANUAL)
    assert (f.lat, f.lon) == (31222178, 121354376)  # ddmm.mmmmmm: 31 deg 13.330650 min
    assert f.t == clock.from_parts(2017, 11, 13, 9, 19, 18)
    assert (f.alt, f.speed, f.course, f.sats, f.acc) == (33, 0, 255, 14, 8)  # HDOP 0.8: 2 x 0.8 x 5 m
    assert f.valid and f.source == "gnss"


def test_cgnssinfo_foreign_layout():
    f = a76xx.parse_cgnssinfo(FOREIGN)
    assert (f.lat, f.lon) == (22655027, 114060058)  # decimal degrees
    assert f.t == clock.from_parts(2024, 8, 23, 6, 39, 56)
    assert (f.alt, f.speed, f.course, f.sats, f.acc) == (84, 0, 0, 12, 100)


def test_cgnssinfo_domestic_layout():
    f = a76xx.parse_cgnssinfo(DOMESTIC)
    assert (f.lat, f.lon) == (21501234, 114123456)
    assert f.t == clock.from_parts(2024, 9, 2, 9, 41, 45)
    # 1.403 kn = 2.598 km/h -> 26 tenths; HDOP 6.8 -> 68 m
    assert (f.alt, f.speed, f.course, f.sats, f.acc) == (-34, 26, 0, 4, 68)


def test_cgnssinfo_hemispheres_and_no_fix():
    f = a76xx.parse_cgnssinfo("+CGNSSINFO: 3,09,,03,00,33.8688,S,151.2093,W,010126,000000.00,5.0,10.0,90.5,"
                              "1.0,0.5,0.8,0")
    assert (f.lat, f.lon) == (-33868800, -151209300)
    assert f.speed == 185 and f.course == 91 and f.acc == 5  # 10 kn = 18.52 km/h; acc floor 5 m
    assert a76xx.parse_cgnssinfo("+CGNSSINFO: ,,,,,,,,") is None
    assert a76xx.parse_cgnssinfo("+CGNSSINFO: ,,,,,,,,,,,,,,,") is None
    zero = "+CGNSSINFO: 3,09,,03,00,0.0,N,0.0,E,230824,063956.00,83.9,0.0,,1,1,1,0"
    assert a76xx.parse_cgnssinfo(zero) is None
    support.raises(ValueError, a76xx.parse_cgnssinfo, "+CGNSSINFO: 3,x,y")


def test_cpsi_lte_gsm_and_no_service():
    c = a76xx.parse_cpsi(CPSI_LTE)
    assert (c.mcc, c.mnc, c.lac, c.cid, c.rssi) == (460, 1, 0x230A, 175499523, -73)
    c = a76xx.parse_cpsi("+CPSI: LTE NB-IOT,Online,460-11,0x5AE1,187212754,82,EUTRAN-BAND5,2506,0,0,"
                         "-7,-115,-110,13")
    assert (c.mcc, c.mnc, c.lac, c.rssi) == (460, 11, 0x5AE1, -115)
    c = a76xx.parse_cpsi("+CPSI: GSM,Online,242-01,0x0C1F,12401,27 EGSM 900,-64,2110,42-42")
    assert (c.mcc, c.mnc, c.lac, c.cid, c.rssi) == (242, 1, 0x0C1F, 12401, -64)
    assert a76xx.parse_cpsi("+CPSI: NO SERVICE, Low Power Mode") is None
    assert a76xx.parse_cpsi("+CPSI: NO SERVICE,Online") is None


def test_csq_percent():
    assert a76xx.csq_percent(99) == 0
    assert a76xx.csq_percent(31) == 100
    assert a76xx.csq_percent(0) == 0
    assert a76xx.csq_percent(21) == 67


# ---- driver over the scripted UART --------------------------------------------------------------


def test_power_on_pulses_pwrkey_then_waits_for_atready():
    async def main():
        u, m = _modem(dtr=True)
        levels = []
        fm.WIRING.pin(4).watch(lambda v: levels.append((support.VT.ms, v)))
        u.on("AT", b"", times=0)  # silent while booting
        u.push(b"\x00\xff\r\n*ATREADY: 1\r\n", 11100)  # A7670 Ton(uart) ~11 s, with boot noise
        u.on("ATE0", b"ATE0\r\r\nOK\r\n")
        u.on("AT+CMEE=2", OK)
        u.on("AT+CFGRI=1", OK)
        _setup(u)
        t0 = clock.ticks_ms()
        await m.power_on()
        took = clock.ticks_diff(clock.ticks_ms(), t0)
        assert [v for _, v in levels] == [0, 1, 0], levels  # inactive, pressed, released
        assert levels[2][0] - levels[1][0] == 100  # 100 ms press (hardware.md §5.2)
        assert 11100 <= took < 12500, took
        cmds = u.commands()
        assert cmds[-6:] == ["ATE0", "AT+CMEE=2", "AT+CFGRI=1"] + SETUP
        assert set(cmds[:-6]) == {"AT"} and len(cmds) - 6 >= 10  # probed about once a second
        assert m.reboots == 0 and not m.needs_init
        assert fm.WIRING.pin(25).level == 0  # DTR low: awake

    support.run(main())


def test_power_on_when_already_running_answers_probe():
    async def main():
        u, m = _modem()
        u.on("AT", OK)
        u.on("ATE0", OK)
        u.on("AT+CMEE=2", OK)
        u.on("AT+CFGRI=1", OK)
        _setup(u)
        await m.power_on()
        assert u.commands() == ["AT", "ATE0", "AT+CMEE=2", "AT+CFGRI=1"] + SETUP

    support.run(main())


def test_pwrkey_active_low_option():
    async def main():
        fm.WIRING.reset()
        u = ScriptedUART()
        key = fm.Pin(4, fm.Pin.OUT, value=0)
        levels = []
        fm.WIRING.pin(4).watch(levels.append)
        m = A76xx(u, key, pwrkey_active_high=False)
        for c in ("AT", "ATE0", "AT+CMEE=2", "AT+CFGRI=1"):
            u.on(c, OK)
        _setup(u)
        await m.power_on()
        assert levels == [1, 0, 1]

    support.run(main())


def test_wait_sim_retries_early_errors():
    async def main():
        u, m = _modem()
        u.on("AT+CPIN?", b"\r\n+CME ERROR: 13\r\n")
        u.on("AT+CPIN?", b"\r\n+CME ERROR: SIM busy\r\n")
        u.on("AT+CPIN?", _reply("+CPIN: READY"))
        assert await m.wait_sim() is True
        assert m.sim_state == "READY"
        assert u.commands() == ["AT+CPIN?"] * 3

    support.run(main())


def test_wait_registered_polls_until_registered():
    async def main():
        u, m = _modem()
        u.on("AT+CEREG?", _reply("+CEREG: 0,2"), times=2)
        u.on("AT+CREG?", _reply("+CREG: 0,2"), times=2)
        u.on("AT+CEREG?", _reply("+CEREG: 0,5"))
        t0 = clock.ticks_ms()
        assert await m.wait_registered(60000) is True
        assert m.reg_stat == 5
        assert u.commands() == ["AT+CEREG?", "AT+CREG?"] * 2 + ["AT+CEREG?"]
        assert clock.ticks_diff(clock.ticks_ms(), t0) >= 4000  # two poll periods

    support.run(main())


def test_wait_registered_gives_up():
    async def main():
        u, m = _modem()
        u.on("AT+CEREG?", _reply("+CEREG: 0,3"), times=0)
        u.on("AT+CREG?", _reply("+CREG: 0,0"), times=0)
        assert await m.wait_registered(10000) is False
        assert m.reg_stat == 0

    support.run(main())


def test_identity_signal_time_cell():
    async def main():
        u, m = _modem()
        u.on("AT+CSQ", _reply("+CSQ: 21,99"))
        u.on("AT+CGSN", _reply("351602000330570"))
        u.on("AT+CICCID", _reply("+ICCID: 89860318760238610932"))
        u.on("AT+CCLK?", _reply('+CCLK: "26/09/14,08:00:00+08"'))
        u.on("AT+CCLK?", _reply('+CCLK: "80/01/06,00:00:07+00"'))  # RTC never set
        u.on("AT+CCLK?", b"\r\nERROR\r\n")
        u.on("AT+CPSI?", _reply(CPSI_LTE.replace("460-01", "242-01")))
        u.on("AT+CPSI?", _reply("+CPSI: NO SERVICE, Low Power Mode"))
        assert await m.csq() == 21
        assert await m.imei() == "351602000330570"
        assert await m.iccid() == "89860318760238610932"
        assert await m.network_time() == clock.from_parts(2026, 9, 14, 6, 0, 0)
        assert await m.network_time() is None
        assert await m.network_time() is None
        c = await m.serving_cell()
        assert (c.mcc, c.mnc, c.lac, c.cid, c.rssi) == (242, 1, 8970, 175499523, -73)
        assert await m.serving_cell() is None

    support.run(main())


def test_gnss_power_and_fix():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: 0,0,1,0"))
        u.on("AT+CGNSSPWR=1,1", [(0, OK), (9000, b"\r\n+CGNSSPWR: READY!\r\n")])
        t0 = clock.ticks_ms()
        assert await m.gnss_power(True) is True
        assert 9000 <= clock.ticks_diff(clock.ticks_ms(), t0) < 9100
        assert m.gnss_on and m.gnss_ready and m.gnss_ready_urc is True
        u.on("AT+CGNSSINFO", OK)  # only OK: no fix yet
        u.on("AT+CGNSSINFO", _reply("+CGNSSINFO: ,,,,,,,,"))
        u.on("AT+CGNSSINFO", _reply(FOREIGN))
        assert await m.gnss_fix() is None
        assert await m.gnss_fix() is None
        f = await m.gnss_fix()
        assert (f.lat, f.lon, f.sats) == (22655027, 114060058, 12)
        u.on("AT+CGNSSPWR=0,1", OK)
        assert await m.gnss_power(False) is None
        assert not m.gnss_on
        assert u.written == (b"AT+CGNSSPWR?\rAT+CGNSSPWR=1,1\r" + b"AT+CGNSSINFO\r" * 3 +
                             b"AT+CGNSSPWR=0,1\r")
        assert u.unmatched == [] and m.at.garbage == 0

    support.run(main())


# ---- GNSS power, READY, AP_Flash, old firmware, assistance (A76-ATM §24.2.1, §24.2.15) ---------


def test_gnss_ready_is_awaited_after_every_power_on_without_holding_the_channel():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: 0,0,1,0"))
        u.on("AT+CGNSSPWR=1,1", [(0, OK), (9000, b"\r\n+CGNSSPWR: READY!\r\n")], times=2)
        u.on("AT+CSQ", _reply("+CSQ: 20,99"), times=2)
        u.on("AT+CGNSSPWR=0,1", OK)
        done = []

        async def other():  # an SOS or a report meanwhile: the channel is free while READY is due
            await sleep_ms(1000)
            done.append((await m.csq(), clock.ticks_ms()))

        for _ in range(2):  # the GNSS firmware is loaded at every power-on: 9 s each time
            t0 = clock.ticks_ms()
            task = asyncio.create_task(other())
            assert await m.gnss_power(True) is True
            await task
            took = clock.ticks_diff(clock.ticks_ms(), t0)
            assert 9000 <= took < 9100, took
            assert done[-1][0] == 20 and clock.ticks_diff(done[-1][1], t0) < 1100
            if not done[1:]:
                await m.gnss_power(False)
        assert u.written == (b"AT+CGNSSPWR?\rAT+CGNSSPWR=1,1\rAT+CSQ\r"  # detected once only
                             b"AT+CGNSSPWR=0,1\rAT+CGNSSPWR=1,1\rAT+CSQ\r")
        assert u.unmatched == [] and m.at.garbage == 0

    support.run(main())


def test_gnss_keep_false_uses_the_plain_forms():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: 0,1,1,0"))  # 4 fields: READY firmware
        u.on("AT+CGNSSPWR=1", [(0, OK), (8500, b"\r\n+CGNSSPWR: READY!\r\n")])
        u.on("AT+CGNSSPWR=0", OK)
        assert await m.gnss_power(True, keep=False) is True
        await m.gnss_power(False, keep=False)
        assert u.written == b"AT+CGNSSPWR?\rAT+CGNSSPWR=1\rAT+CGNSSPWR=0\r"

    support.run(main())


def test_gnss_old_firmware_is_detected_once_and_not_waited_for():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: 0"))  # the power field alone: before 27/9/21
        u.on("AT+CGNSSPWR=1", OK, times=2)
        u.on("AT+CGNSSPWR=0", OK, times=2)
        for _ in range(2):
            t0 = clock.ticks_ms()
            assert await m.gnss_power(True) is True
            assert clock.ticks_diff(clock.ticks_ms(), t0) < 100  # no READY to wait for
            assert m.gnss_ready_urc is False and m.gnss_ready
            await m.gnss_power(False)  # keep: no AP_Flash on this firmware
        assert u.written == (b"AT+CGNSSPWR?\r" + b"AT+CGNSSPWR=1\rAT+CGNSSPWR=0\r" * 2)
        assert u.unmatched == []

    support.run(main())


def test_gnss_old_firmware_found_by_its_error_when_detection_fails():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", b"\r\nERROR\r\n")
        await support.araises(ATError, m.gnss_power(True))  # the question itself failed
        assert m.gnss_ready_urc is None and not m.gnss_on
        u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: x"))  # an answer that tells nothing
        u.on("AT+CGNSSPWR=1,1", b"\r\nERROR\r\n")  # AP_Flash refused: old firmware (note 3)
        u.on("AT+CGNSSPWR=1", OK)
        assert await m.gnss_power(True) is True
        assert m.gnss_ready_urc is False and m.bad_replies == 1
        assert u.commands() == ["AT+CGNSSPWR?", "AT+CGNSSPWR?", "AT+CGNSSPWR=1,1", "AT+CGNSSPWR=1"]

    support.run(main())


def test_gnss_off_goes_out_even_when_detection_fails():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", b"\r\nERROR\r\n")
        u.on("AT+CGNSSPWR=0", OK)
        assert await m.gnss_power(False) is None
        assert u.written == b"AT+CGNSSPWR?\rAT+CGNSSPWR=0\r"  # the form every firmware takes
        assert m.gnss_ready_urc is None

    support.run(main())


def test_gnss_left_on_before_an_esp32_reset_is_restarted():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: 1,1,1,0"))  # on, READY long gone or not yet
        u.on("AT+CGNSSPWR=0,1", OK)
        u.on("AT+CGNSSPWR=1,1", [(0, OK), (9000, b"\r\n+CGNSSPWR: READY!\r\n")])
        assert await m.gnss_power(True) is True
        assert u.written == b"AT+CGNSSPWR?\rAT+CGNSSPWR=0,1\rAT+CGNSSPWR=1,1\r"

    support.run(main())


def test_gnss_without_ready_gives_false_and_a_late_ready_counts():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: 0,1,1,0"))
        u.on("AT+CGNSSPWR=1,1", OK)  # the firmware load failed (GNSS-DL app note §4.1)
        with support.Events() as got:
            t0 = clock.ticks_ms()
            assert await m.gnss_power(True) is False
            assert 12000 <= clock.ticks_diff(clock.ticks_ms(), t0) < 12100
        assert [k for k, _ in got] == ["error"] and got[0][1]["where"] == "gnss"
        assert m.gnss_on and not m.gnss_ready
        assert await m.gnss_power(True) is False  # powered already: nothing sent
        u.push(b"\r\n+CGNSSPWR: READY!\r\n")
        await m.at.pump()
        assert m.gnss_ready and await m.gnss_power(True) is True
        assert u.commands() == ["AT+CGNSSPWR?", "AT+CGNSSPWR=1,1"] and m.at.garbage == 0

    support.run(main())


def _gnss_ready(u, m):
    u.on("AT+CGNSSPWR?", _reply("+CGNSSPWR: 0,1,1,0"))
    u.on("AT+CGNSSPWR=1,1", [(0, OK), (9000, b"\r\n+CGNSSPWR: READY!\r\n")])


def test_gnss_assist_success_and_failures():
    async def main():
        u, m = _modem()
        assert await m.gnss_assist() is False  # not before READY (§24.2.15): nothing sent
        assert u.written == b""
        _gnss_ready(u, m)
        await m.gnss_power(True)
        mark = len(u.written)
        u.on("AT+CAGPS", [(0, OK), (4000, b"\r\n+AGPS: success.\r\n")])
        u.on("AT+CAGPS", [(0, OK), (1000, b"\r\n+AGPS: 101.\r\n")])  # no data connection
        u.on("AT+CAGPS", b"\r\nERROR\r\n")
        u.on("AT+CAGPS", OK)  # and then nothing
        with support.Events() as got:
            t0 = clock.ticks_ms()
            assert await m.gnss_assist() is True
            assert 4000 <= clock.ticks_diff(clock.ticks_ms(), t0) < 4100
            assert await m.gnss_assist() is False
            assert await m.gnss_assist() is False
            t0 = clock.ticks_ms()
            assert await m.gnss_assist() is False
            assert 30000 <= clock.ticks_diff(clock.ticks_ms(), t0) < 30100
        assert [f["ok"] for _, f in got] == [True, False, False, False]
        assert got[1][1]["code"] == "101"
        assert u.written[mark:] == b"AT+CAGPS\r" * 4 and m.at.garbage == 0

    support.run(main())


def test_gnss_assist_does_not_hold_the_channel():
    async def main():
        u, m = _modem()
        _gnss_ready(u, m)
        await m.gnss_power(True)
        u.on("AT+CAGPS", [(0, OK), (6000, b"\r\n+AGPS: success.\r\n")])
        u.on("AT+CSQ", _reply("+CSQ: 20,99"))
        t0 = clock.ticks_ms()
        task = asyncio.create_task(m.gnss_assist())
        await sleep_ms(500)
        assert await m.csq() == 20
        assert clock.ticks_diff(clock.ticks_ms(), t0) < 700
        assert await task is True

    support.run(main())


# ---- every +CGNSSINFO layout and no-fix form (hardware.md §1.3) ----------------------------------

DATELESS = "+CGNSSINFO: ,,,,,59.9173000,N,10.7646000,E,,112414.00,75.9,,,,,,09"  # issue #157 form


def test_cgnssinfo_no_fix_forms():
    for line in ("+CGNSSINFO: ,,,,,,,,", "+CGNSSINFO: ,,,,,,,,,,,,,,,", "+CGNSSINFO:",
                 "+CGNSSINFO: ,,,,,,,,,,,,,,,,,", "+CGNSSINFO: 1,03,,,,,,,"):
        assert a76xx.parse_cgnssinfo(line) is None, line
    for zero in ("+CGNSSINFO: 3,09,,03,00,0.0000000,N,0.0000000,E,230824,063956.00,83.9,0.0,,1,1,1,0",
                 MANUAL.replace("3113.330650", "0000.000000").replace("12121.262554", "00000.000000"),
                 "+CGNSSINFO: 2,04,00,0.000000,N,0.000000,E,020924,094145.00,-34.0,1.403,,6.9,6.8,1.0,03"):
        assert a76xx.parse_cgnssinfo(zero) is None, zero  # lat = lon = 0: no fix (§1.3)
    # mode 1: the GSA mode behind it says "fix not available" (GNSS app note §3.4)
    assert a76xx.parse_cgnssinfo(FOREIGN.replace(": 3,", ": 1,")) is None
    assert a76xx.parse_cgnssinfo(FOREIGN.replace(": 3,", ": 2,")).lat == 22655027  # 2D fix


def test_cgnssinfo_dateless_fix_takes_the_date_from_the_clock():
    now = clock.from_parts(2026, 9, 14, 11, 20, 0)
    f = a76xx.parse_cgnssinfo(DATELESS, now)
    assert f.t == clock.from_parts(2026, 9, 14, 11, 24, 14)
    assert (f.lat, f.lon, f.alt, f.speed, f.course, f.sats, f.acc) == (59917300, 10764600, 76, 0, 0, 0, 50)
    # just after midnight UTC the line's 23:59:58 is yesterday's
    late = DATELESS.replace("112414.00", "235958.00")
    f = a76xx.parse_cgnssinfo(late, clock.from_parts(2026, 9, 15, 0, 0, 5))
    assert f.t == clock.from_parts(2026, 9, 14, 23, 59, 58)
    early = DATELESS.replace("112414.00", "000003.00")
    f = a76xx.parse_cgnssinfo(early, clock.from_parts(2026, 9, 14, 23, 59, 55))
    assert f.t == clock.from_parts(2026, 9, 15, 0, 0, 3)
    assert a76xx.parse_cgnssinfo(DATELESS) is None  # no clock: it cannot be dated


def test_cgnssinfo_accuracy_from_hdop():
    def acc(hdop):
        return a76xx.parse_cgnssinfo(FOREIGN.replace("10.83,10.01,4.13", "1.0,%s,1.0" % hdop)).acc

    # 2 DRMS = 2 x HDOP x 5 m (UERE ASSUMED), at least 5 m; 50 m without HDOP
    assert (acc("0.4"), acc("0.6"), acc("1.0"), acc("1.5"), acc("2.01"), acc("6.8"), acc("99.99"),
            acc("")) == (5, 6, 10, 15, 20, 68, 1000, 50)


def test_cgnssinfo_garbage_is_a_value_error():
    for bad in (
        "+CGNSSINFO: 3,x,y",
        FOREIGN.replace("230824", "320824"),  # 32nd
        FOREIGN.replace("230824", "300224"),  # 30 February
        FOREIGN.replace("063956.00", "246000.00"),
        FOREIGN.replace("063956.00", "06395"),
        FOREIGN.replace("83.9", "83.9.1"),
        FOREIGN.replace("83.9", "99999"),  # 99 km up
        FOREIGN.replace("0.000,,", "1500.0,,"),  # 1500 kn
        FOREIGN.replace("0.000,,", "-1.0,,"),
        FOREIGN.replace("0.000,,", "0.0,361.0,"),
        FOREIGN.replace("10.01", "100.5"),  # HDOP
        FOREIGN.replace("22.6550274", "-22.6550274"),  # a sign as well as N/S
        FOREIGN.replace("22.6550274", "95.0"),
        FOREIGN.replace("114.0600586", ""),  # half a position
        FOREIGN.replace(": 3,09,", ": 3,123,"),
        FOREIGN.replace(": 3,", ": 7,"),
        FOREIGN.replace(",063956.00,83.9,0.000,,10.83,10.01,4.13,0", ",063956.00"),
        MANUAL.replace("3113.330650", "3163.330650"),  # 63 minutes
    ):
        support.raises(ValueError, a76xx.parse_cgnssinfo, bad)


def test_gnss_fix_turns_garbage_into_none_and_an_event():
    async def main():
        u, m = _modem()
        u.on("AT+CGNSSINFO", _reply(FOREIGN.replace("230824", "3x0824")))
        u.on("AT+CGNSSINFO", _reply(DATELESS))
        with support.Events() as got:
            assert await m.gnss_fix() is None
        assert m.bad_replies == 1 and got[0][0] == "error" and got[0][1]["where"] == "gnss"
        w = clock.wall
        saved = (w._base, w._base_ticks, w._ms, w.source)
        w.set(clock.from_parts(2026, 9, 14, 11, 24, 0), "network")
        try:
            f = await m.gnss_fix()
        finally:
            w._base, w._base_ticks, w._ms, w.source = saved
        assert f.t == clock.from_parts(2026, 9, 14, 11, 24, 14)

    support.run(main())


# ---- +CPSI: every value checked before it can reach a frame (hardware.md §1.4) ----------------


def _lte(rsrp="67", rssi="255", mccmnc="460-01", tac="0x230A", cid="175499523"):
    return "+CPSI: LTE,Online,%s,%s,%s,318,EUTRAN-BAND3,1650,5,0,21,%s,%s,19" % (mccmnc, tac, cid, rsrp, rssi)


def test_cpsi_signal_outside_the_reportable_range_is_unknown():
    assert a76xx.parse_cpsi(_lte("0")).rssi == -140
    assert a76xx.parse_cpsi(_lte("97")).rssi == -43
    assert a76xx.parse_cpsi(_lte("-44")).rssi == -44
    assert a76xx.parse_cpsi(_lte("-140")).rssi == -140
    for rsrp in ("98", "255", "4294967296", "-43", "-141", "-4294967296", ""):
        assert a76xx.parse_cpsi(_lte(rsrp)).rssi == 0, rsrp
    assert a76xx.parse_cpsi(_lte("67", "4294967296")).rssi == -73  # the RSSI field is not used
    gsm = "+CPSI: GSM,Online,242-01,0x0C1F,12401,27 EGSM 900,%s,2110,42-42"
    assert [a76xx.parse_cpsi(gsm % v).rssi for v in ("40", "63", "64", "-64", "-130", "-30")] == [
        -70, -47, 0, -64, 0, 0]
    assert a76xx.parse_cpsi("+CPSI: LTE,Online") is None  # no cell fields
    assert a76xx.parse_cpsi("+CPSI: WCDMA,Online,001-01,0x1,1,WCDMA IMT 2000,1,1,1,1,1,1,1,1") is None


def test_cpsi_garbage_is_a_value_error():
    for bad in (_lte("x"), _lte("6 7"), _lte(mccmnc="4a0-01"), _lte(mccmnc="46001"), _lte(mccmnc="460-"),
                _lte(mccmnc="1460-01"), _lte(tac="0xZZ"), _lte(tac=""), _lte(tac="0x10000"),
                _lte(cid="12a"), _lte(cid="-1"), _lte(cid="268435456"), _lte(cid="1_0"),
                "+CPSI: GSM,Online,242-01,0x0C1F,65536,27 EGSM 900,-64,2110,42-42",
                "+CPSI: GSM,Online,242-01,0x0C1F,12401,27 EGSM 900,-6x4,2110,42-42"):
        support.raises(ValueError, a76xx.parse_cpsi, bad)


def test_serving_cell_turns_garbage_into_none_and_an_event():
    async def main():
        u, m = _modem()
        u.on("AT+CPSI?", _reply(_lte(cid="17549952x")))
        u.on("AT+CPSI?", _reply(_lte("4294967296")))
        with support.Events() as got:
            assert await m.serving_cell() is None
            c = await m.serving_cell()
        assert m.bad_replies == 1 and [k for k, _ in got] == ["error"] and got[0][1]["where"] == "cpsi"
        assert (c.mcc, c.mnc, c.lac, c.cid, c.rssi) == (460, 1, 0x230A, 175499523, 0)

    support.run(main())


def _not_open(u, link):
    """The modem's answer to closing a link it does not hold (hardware.md §1.7: ignored)."""
    u.on("AT+CIPCLOSE=%d" % link, b"\r\n+CIPCLOSE: %d,4\r\n\r\nERROR\r\n" % link)


def _open_link(u, link=1):
    _not_open(u, link)
    u.on("AT+CIPRXGET=1", OK)
    u.on("AT+NETOPEN", [(0, OK), (300, b"\r\n+NETOPEN: 0\r\n")])
    u.on('AT+CIPOPEN=%d,"TCP","traccar.example.org",5093' % link,
         [(0, OK), (500, b"\r\n+CIPOPEN: %d,0\r\n" % link)])


def test_socket_happy_path():
    async def main():
        u, m = _modem()
        seen = []
        _open_link(u)
        await m.net_open()
        await m.tcp_open(1, "traccar.example.org", 5093)
        assert m.net_up and m.links[1]
        frame = b"[SG*8800000015*0002*LK]"
        u.on("AT+CIPSEND=1,%d" % len(frame), b"\r\n> ")
        u.on(frame, [(0, OK), (100, b"\r\n+CIPSEND: 1,23,23\r\n")], data=True)
        mark = len(u.written)
        await m.tcp_send(1, frame)
        assert u.written[mark:] == b"AT+CIPSEND=1,23\r" + frame
        # data announced, then read in two pieces (rest > 0), payload containing "\r\nOK\r\n"
        u.push(b"\r\n+CIPRXGET: 1,1\r\n", 200)
        await sleep_ms(300)
        await m.at.pump()
        assert _socket_events(m, seen) == [(1, "data")] and m.rx_ready[1]
        u.on("AT+CIPRXGET=2,1,1460", b"\r\n+CIPRXGET: 2,1,10,4\r\n[SG*\r\nOK\r\n" + OK)
        u.on("AT+CIPRXGET=2,1,1460", b"\r\n+CIPRXGET: 2,1,4,0\r\nLK]\n" + OK)
        assert await m.tcp_recv(1) == b"[SG*\r\nOK\r\nLK]\n"
        assert not m.rx_ready[1]
        u.on("AT+CIPCLOSE=1", [(0, OK), (100, b"\r\n+CIPCLOSE: 1,0\r\n")])
        await m.tcp_close(1)
        assert not m.links[1]
        assert u.commands() == ["AT+CIPRXGET=1", "AT+NETOPEN", "AT+CIPCLOSE=1",
                                'AT+CIPOPEN=1,"TCP","traccar.example.org",5093',
                                "AT+CIPSEND=1,23", "AT+CIPRXGET=2,1,1460", "AT+CIPRXGET=2,1,1460",
                                "AT+CIPCLOSE=1"]
        assert u.unmatched == [] and m.at.garbage == 0

    support.run(main())


def test_net_open_when_already_open_and_errors():
    async def main():
        u, m = _modem()
        u.on("AT+CIPRXGET=1", b"\r\nERROR\r\n")
        u.on("AT+NETOPEN", b"\r\n+IP ERROR: Network is already opened\r\n\r\nERROR\r\n")
        u.on("AT+NETOPEN?", _reply("+NETOPEN: 1"))
        await m.net_open()
        assert m.net_up
        _not_open(u, 2)
        u.on('AT+CIPOPEN=2,"TCP","h",1', [(0, OK), (100, b"\r\n+CIPOPEN: 2,4\r\n")])
        e = await support.araises(ATError, m.tcp_open(2, "h", 1))
        assert e.code == 4 and not m.links[2]
        u.on("AT+CIPCLOSE=3", b"\r\n+CIPCLOSE: 3,4\r\n\r\nERROR\r\n")  # not open: ignored
        await m.tcp_close(3)

    support.run(main())


def test_a_garbled_netopen_result_is_an_oserror_not_a_valueerror():
    # issue 10 #1: '+NETOPEN: 1.5' raised ValueError, which the uplink does not handle: its
    # service restarted instead of backing off like any failed connect
    async def main():
        u, m = _modem()
        u.on("AT+CIPRXGET=1", OK)
        u.on("AT+NETOPEN", [(0, OK), (100, b"\r\n+NETOPEN: 1.5\r\n")])
        e = await support.araises(ATError, m.net_open())
        assert isinstance(e, OSError) and "bad reply" in str(e) and not m.net_up

    support.run(main())


def test_send_short_write_is_an_error():
    async def main():
        u, m = _modem()
        u.on("AT+CIPSEND=0,3", b"\r\n> ")
        u.on(b"abc", [(0, OK), (10, b"\r\n+CIPSEND: 0,3,-1\r\n")], data=True)
        e = await support.araises(ATError, m.tcp_send(0, b"abc"))
        assert e.code == -1

    support.run(main())


def test_passive_close_and_network_loss():
    async def main():
        u, m = _modem()
        seen = []
        _open_link(u, 1)
        _not_open(u, 2)
        u.on('AT+CIPOPEN=2,"TCP","traccar.example.org",5093', [(0, OK), (10, b"\r\n+CIPOPEN: 2,0\r\n")])
        await m.net_open()
        await m.tcp_open(1, "traccar.example.org", 5093)
        await m.tcp_open(2, "traccar.example.org", 5093)
        u.push(b"\r\n+IPCLOSE: 1,1\r\n")
        await m.at.pump()
        assert _socket_events(m, seen) == [(1, "closed")] and not m.links[1] and m.links[2]
        u.push(b"\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n")
        await m.at.pump()
        assert _socket_events(m, seen) == [(1, "closed"), (2, "closed")]
        assert not m.net_up and not m.links[2]

    support.run(main())


def test_reboot_mid_command_closes_everything():
    async def main():
        u, m = _modem()
        seen = []
        _open_link(u)
        await m.net_open()
        await m.tcp_open(1, "traccar.example.org", 5093)
        m.needs_init = False
        u.on("AT+CSQ", b"")  # no answer: the modem is restarting
        u.push(b"\r\n*ATREADY: 1\r\n", 250)
        t0 = clock.ticks_ms()
        await support.araises(ATReset, m.csq())
        assert clock.ticks_diff(clock.ticks_ms(), t0) < 1000
        assert m.reboots == 1 and m.needs_init
        assert _socket_events(m, seen) == [(1, "closed")] and not m.net_up
        assert m.events.get() is None  # REBOOT came first and was taken with the sockets

    support.run(main())


def test_sleep_wakes_dtr_before_every_command():
    async def main():
        u, m = _modem(dtr=True)
        dtr = []
        fm.WIRING.pin(25).watch(lambda v: dtr.append((support.VT.ms, v)))
        u.on("AT+CSCLK=1", OK)
        assert await m.sleep(True) is True
        assert fm.WIRING.pin(25).level == 1  # high: the modem may sleep
        await sleep_ms(5000)
        u.on("AT+CSQ", _reply("+CSQ: 10,99"))
        assert await m.csq() == 10
        t_low = dtr[-2][0]
        assert dtr[-2][1] == 0 and dtr[-1][1] == 1
        t_write = u.log[-1][0]
        assert clock.ticks_diff(t_write, t_low) >= 50  # DTR low 50 ms before the command
        assert u.commands() == ["AT+CSCLK=1", "AT+CSQ"]  # CSCLK sent once
        await m.sleep(False)
        assert fm.WIRING.pin(25).level == 0

    support.run(main())


def test_ri_irq_sets_wake_flag():
    async def main():
        u, m = _modem(ri=True)
        m.start()
        fm.WIRING.pin(33).drive(0)  # URC pulse (hardware.md §1.9)
        fm.WIRING.pin(33).drive(1)
        await wait_for_ms(m.wake.wait(), 100)
        assert m.ri_count == 1

    support.run(main())


# ---- hostile or broken replies: always an OSError the services handle, never a crash ----------


def test_malformed_result_urcs_are_at_errors():
    async def main():
        u, m = _modem()
        _not_open(u, 0)
        u.on('AT+CIPOPEN=0,"TCP","h",1', [(0, OK), (50, b"\r\n+CIPOPEN: 0,x\r\n")])
        e = await support.araises(ATError, m.tcp_open(0, "h", 1))
        assert "bad reply" in str(e.code)
        u.on("AT+CIPSEND=0,3", b"\r\n> ")
        u.on(b"abc", [(0, OK), (10, b"\r\n+CIPSEND: 0,3\r\n")], data=True)  # a field short
        await support.araises(ATError, m.tcp_send(0, b"abc"))
        # a short data header: counted as garbage, the command still completes
        u.on("AT+CIPRXGET=2,0,1460", b"\r\n+CIPRXGET: 2,0\r\n" + OK)
        assert await m.tcp_recv(0) == b""

    support.run(main())


def test_recv_is_bounded_when_the_server_streams():
    async def main():
        u, m = _modem()
        seen = []
        chunk = b"x" * 1460
        u.on("AT+CIPRXGET=2,0,1460", b"\r\n+CIPRXGET: 2,0,1460,99999\r\n" + chunk + OK, times=0)
        data = await m.tcp_recv(0)
        assert len(data) <= 3 * 1460  # one call holds at most ~4 KiB in RAM
        assert m.rx_ready[0] and _socket_events(m, seen) == [(0, "data")]  # and asks to be called again

    support.run(main())


def test_out_of_range_cells_and_positions_are_rejected():
    support.raises(ValueError, a76xx.parse_cpsi,
                   "+CPSI: LTE,Online,242-01,0x07DA,-1,225,EUTRAN-BAND20,6300,5,5,28,62,57,14")
    support.raises(ValueError, a76xx.parse_cpsi,
                   "+CPSI: LTE,Online,242-01,0x107DA,26383617,225,EUTRAN-BAND20,6300,5,5,28,62,57,14")
    support.raises(ValueError, a76xx.parse_cgnssinfo,
                   MANUAL.replace("3113.330650", "1234555.0"))  # 12345 degrees north


def test_power_cycle_holds_pwrkey_long_enough_to_power_off():
    async def main():
        u, m = _modem()
        levels = []
        fm.Pin(4).value(0)  # released (the fake keeps a pin's level until told)
        fm.WIRING.pin(4).watch(lambda v: levels.append((support.VT.ms, v)))
        u.on("AT", OK, times=0)
        u.on("ATE0", OK)
        u.on("AT+CMEE=2", OK)
        u.on("AT+CFGRI=1", OK)
        _setup(u)
        m.at.silent = 5
        await m.power_cycle()
        (t_on, v_on), (t_off, v_off) = levels[0], levels[1]
        assert (v_on, v_off) == (1, 0) and t_off - t_on >= 2500  # hardware.md §5.2
        assert levels[2][0] - t_off >= 2000  # off for 2 s before the power-on pulse
        assert m.at.silent == 0 and not m.needs_init

    support.run(main())


def test_set_apn_defines_the_data_context():
    async def main():
        u, m = _modem()
        u.on('AT+CGDCONT=1,"IP","telenor.smart"', OK)
        await m.set_apn("telenor.smart")
        assert u.commands() == ['AT+CGDCONT=1,"IP","telenor.smart"']

    support.run(main())


def test_open_reclaims_a_link_the_modem_still_holds():
    # after an ESP32-only reset the modem kept its power and its socket: CIPOPEN on that link
    # fails (error 4) until it is closed, so the open closes it first
    async def main():
        u, m = _modem()
        assert not m.links[0]  # this driver instance knows nothing of it
        u.on("AT+CIPCLOSE=0", [(0, OK), (50, b"\r\n+CIPCLOSE: 0,0\r\n")])
        u.on('AT+CIPOPEN=0,"TCP","h",1', [(0, OK), (50, b"\r\n+CIPOPEN: 0,0\r\n")])
        await m.tcp_open(0, "h", 1)
        assert m.links[0] and u.commands() == ["AT+CIPCLOSE=0", 'AT+CIPOPEN=0,"TCP","h",1']
        assert m.at.silent == 0 and u.unmatched == []

    support.run(main())
