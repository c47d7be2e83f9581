"""A76xx driver: parsing of hardware.md §1 formats, power-on, registration, sockets, sleep, RI."""
import support
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


# ---- pure parsers -------------------------------------------------------------------------------


def test_cgnssinfo_manual_layout():
    f = a76xx.parse_cgnssinfo(MANUAL)
    assert (f.lat, f.lon) == (31222178, 121354376)  # ddmm.mmmmmm: 31 deg 13.330650 min
    assert f.t == clock.from_parts(2017, 11, 13, 9, 19, 18)
    assert (f.alt, f.speed, f.course, f.sats, f.acc) == (33, 0, 255, 14, 4)
    assert f.valid and f.source == "gnss"


def test_cgnssinfo_foreign_layout():
    f = a76xx.parse_cgnssinfo(FOREIGN)
    assert (f.lat, f.lon) == (22655027, 114060058)  # decimal degrees
    assert f.t == clock.from_parts(2024, 8, 23, 6, 39, 56)
    assert (f.alt, f.speed, f.course, f.sats, f.acc) == (84, 0, 0, 12, 50)


def test_cgnssinfo_domestic_layout():
    f = a76xx.parse_cgnssinfo(DOMESTIC)
    assert (f.lat, f.lon) == (21501234, 114123456)
    assert f.t == clock.from_parts(2024, 9, 2, 9, 41, 45)
    # 1.403 kn = 2.598 km/h -> 26 tenths; HDOP 6.8 -> 34 m
    assert (f.alt, f.speed, f.course, f.sats, f.acc) == (-34, 26, 0, 4, 34)


def test_cgnssinfo_hemispheres_and_no_fix():
    f = a76xx.parse_cgnssinfo("+CGNSSINFO: 3,09,,03,00,33.8688,S,151.2093,W,010126,000000.00,5.0,10.0,90.5,"
                              "1.0,0.5,0.8,0")
    assert (f.lat, f.lon) == (-33868800, -151209300)
    assert f.speed == 185 and f.course == 91 and f.acc == 3  # 10 kn = 18.52 km/h; acc floor 3 m
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
        t0 = clock.ticks_ms()
        await m.power_on()
        took = clock.ticks_diff(clock.ticks_ms(), t0)
        assert [v for _, v in levels] == [0, 1, 0], levels  # inactive, pressed, released
        assert levels[2][0] - levels[1][0] == 100  # 100 ms press (hardware.md §5.2)
        assert 11100 <= took < 12500, took
        cmds = u.commands()
        assert cmds[-3:] == ["ATE0", "AT+CMEE=2", "AT+CFGRI=1"]
        assert set(cmds[:-3]) == {"AT"} and len(cmds) - 3 >= 10  # probed about once a second
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
        await m.power_on()
        assert u.commands() == ["AT", "ATE0", "AT+CMEE=2", "AT+CFGRI=1"]

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
        u.on("AT+CGNSSPWR=1", [(0, OK), (9000, b"\r\n+CGNSSPWR: READY!\r\n")])
        t0 = clock.ticks_ms()
        await m.gnss_power(True)
        assert 9000 <= clock.ticks_diff(clock.ticks_ms(), t0) < 9100
        assert m.gnss_on
        u.on("AT+CGNSSINFO", OK)  # only OK: no fix yet
        u.on("AT+CGNSSINFO", _reply("+CGNSSINFO: ,,,,,,,,"))
        u.on("AT+CGNSSINFO", _reply(FOREIGN))
        assert await m.gnss_fix() is None
        assert await m.gnss_fix() is None
        f = await m.gnss_fix()
        assert (f.lat, f.lon, f.sats) == (22655027, 114060058, 12)
        u.on("AT+CGNSSPWR=0", OK)
        await m.gnss_power(False)
        assert not m.gnss_on
        assert u.commands()[-1] == "AT+CGNSSPWR=0"

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
