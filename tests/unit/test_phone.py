"""The driver's event path and its voice/SMS commands, byte for byte (hardware.md §1.5, §1.6)."""
import support
from firmware.compat import sleep_ms
from firmware.drivers import a76xx, events
from firmware.drivers.a76xx import A76xx
from firmware.drivers.events import CALL, CALL_ACTIVE, CALL_ALERTING, CALL_ENDED, DATA, DTMF, HUNG, RING, SMS
from host_sim.fakes import machine as fm
from scripted import ScriptedUART

OK = b"\r\nOK\r\n"
# GSM 7-bit default alphabet bytes for "Hei p\xe5 deg" ('\xe5' = 0x0F) and 'ø' = 0x0C
HEI = b"Hei p\x0f deg \x0c"
SCTS = "26/09/14,17:10:00+08"


def _modem():
    fm.WIRING.reset()
    u = ScriptedUART()
    m = A76xx(u, fm.Pin(4, fm.Pin.OUT), None, None)
    m.start()
    m.needs_init = False
    m.phone_ready = True
    return u, m


def _events(m):
    out = []
    while True:
        e = m.events.get()
        if e is None:
            return out
        out.append(e)


def _cmgr(stat, number, dcs, body, ntype=145, length=None):
    n = len(body) if length is None else length
    if dcs == 8 and length is None:
        n = len(body) // 2
    head = '+CMGR: "%s","%s","","%s",%d,4,0,%d,"+4790002100",145,%d'
    return (head % (stat, number, SCTS, ntype, dcs, n)).encode()


def test_calls_become_typed_events():
    async def main():
        u, m = _modem()
        u.push(b'\r\nRING\r\n\r\n+CLIP: "+4791111111",145,,,"",0\r\n')
        u.push(b'\r\nRING\r\n\r\n+CLIP: "",128,,,"",1\r\n', 10)  # withheld
        u.push(b'\r\n+CLIP: "91111111",129,,,"Mamma",0\r\n', 20)
        await sleep_ms(30)
        await m.at.pump()
        assert _events(m) == [(RING, "+4791111111", 145), (RING, "", 128), (RING, "91111111", 129)]
        # an SOS call: CLCC URCs (AT+CLCC=1), the callee's key, the end in three forms
        u.push(b'\r\n+CLCC: 1,0,2,0,0,"+4791111111",145\r\n\r\n+CLCC: 1,0,3,0,0,"+4791111111",145\r\n'
               b'\r\nVOICE CALL: BEGIN\r\n\r\n+CLCC: 1,0,0,0,0,"+4791111111",145\r\n\r\n+RXDTMF: 1\r\n'
               b'\r\n+CLCC: 1,0,6,0,0,"+4791111111",145\r\n\r\nVOICE CALL: END: 000042\r\n\r\nNO CARRIER\r\n'
               b'\r\nBUSY\r\n\r\nNO ANSWER\r\n')
        await m.at.pump()
        assert _events(m) == [(CALL, CALL_ALERTING, None), (CALL, CALL_ACTIVE, None),
                              (CALL, CALL_ACTIVE, None),
                              (DTMF, "1", None), (CALL, CALL_ENDED, "end"), (CALL, CALL_ENDED, "end"),
                              (CALL, CALL_ENDED, "no carrier"), (CALL, CALL_ENDED, "busy"),
                              (CALL, CALL_ENDED, "no answer")]
        assert m.at.garbage == 0 and m.bad_replies == 0

    support.run(main())


def test_malformed_call_lines_ask_the_modem_instead():
    async def main():
        u, m = _modem()
        u.push(b'\r\n+CLIP: 4791111111\r\n\r\n+CLIP: "+47;ATD112;",145\r\n\r\n+CLCC: x\r\n'
               b'\r\n+RXDTMF: Q\r\n\r\n+CMTI: "SM",abc\r\n')
        await m.at.pump()
        assert _events(m) == [] and m.bad_replies == 5 and m._resync
        # the resync: an incoming call, a call the driver knew that is gone, two SMS, a socket
        m._calls = {2: 0}
        m.links[0] = True
        u.on("AT+CLCC", b'\r\n+CLCC: 1,1,4,0,0,"+4791111111",145\r\n' + OK)
        # the 12-byte body of message 3 looks like a header of its own: it is skipped by length
        u.on('AT+CMGL="ALL"',
             b'\r\n+CMGL: 3,"REC UNREAD","+4791111111","","%s",145,4,0,0,"+4790002100",145,12\r\n'
             b'\r\n+CMGL: 9\r\n'
             b'\r\n+CMGL: 4,"REC READ","+4700000000","","%s",145,4,0,0,"+4790002100",145,3\r\nabc\r\n'
             % (SCTS.encode(), SCTS.encode()) + OK)
        await m.resync()
        assert _events(m) == [(DATA, 0, None), (RING, "+4791111111", 145), (CALL, CALL_ENDED, "gone"),
                              (SMS, 3, None), (SMS, 4, None)]
        assert not m._resync and u.unmatched == []

    support.run(main())


def test_sms_bodies_are_read_by_length_never_as_lines():
    async def main():
        u, m = _modem()
        # a hostile body: result codes and URCs inside, and GSM bytes that are not ASCII
        body = b"\r\nOK\r\n+CIPRXGET: 1,0\r\n*ATREADY: 1\r\n" + HEI
        head = _cmgr("REC UNREAD", "+4791111111", 0, body)
        u.on("AT+CMGR=1", b"\r\n" + head + b"\r\n" + body + b"\r\n" + OK)
        sms = await m.sms_read(1)
        assert sms.text == "\r\nOK\r\n+CIPRXGET: 1,0\r\n*ATREADY: 1\r\nHei på deg ø"
        assert (sms.index, sms.number, sms.ntype, sms.scts, sms.dcs) == (1, "+4791111111", 145, SCTS, 0)
        assert _events(m) == [] and m.reboots == 0 and m.at.garbage == 0
        # UCS2: hex of UTF-16BE, the length in octets (emoji as a surrogate pair)
        hexbody = b"00480065006A0020D83EDD84"
        head = _cmgr("REC READ", "91111111", 8, hexbody, 129)
        u.on("AT+CMGR=2", b"\r\n" + head + b"\r\n" + hexbody + b"\r\n" + OK)
        sms = await m.sms_read(2)
        assert sms.text == "Hej \U0001F984" and sms.ntype == 129
        # an empty place; and a header without length (CSDH lost: set it up again, read nothing)
        u.on("AT+CMGR=5", b"\r\n+CMS ERROR: 321\r\n")
        assert await m.sms_read(5) is None
        u.on("AT+CMGR=6", b'\r\n+CMGR: "REC UNREAD","+4791111111","","%s"\r\nOK\r\n' % SCTS.encode() + OK)
        assert await m.sms_read(6) is None
        assert not m.phone_ready and m._resync and _events(m) == []  # run() sets it up again

    support.run(main())


def test_direct_sms_urc_with_a_body_split_across_reads():
    async def main():
        u, m = _modem()
        body = b"OK\r\n+CMTI: \"SM\",7\r\nhi"
        head = ('+CMT: "+4791111111","","%s",145,4,0,0,"+4790002100",145,%d' % (SCTS, len(body))).encode()
        u.push(b"\r\n" + head + b"\r\n" + body[:5])
        u.push(body[5:] + b"\r\n\r\n+CIPRXGET: 1,0\r\n", 40)
        await m.at.pump()
        assert _events(m) == []  # the body is not complete yet: nothing taken for a line
        await sleep_ms(50)
        await m.at.pump()
        got = _events(m)
        assert [e[0] for e in got] == [SMS, DATA]
        sms = got[0][1]
        assert sms.index is None and sms.text == "OK\r\n+CMTI: \"SM\",7\r\nhi" and sms.number == "+4791111111"
        # a header that promises more than ever comes: dropped after 2 s, the reader goes on
        u.push(b'\r\n+CMT: "+4791111111","","%s",145,4,0,0,"+4790002100",145,500\r\nshort' % SCTS.encode())
        await m.at.pump()
        await sleep_ms(2100)
        u.push(b"\r\n+RXDTMF: 5\r\n")
        await m.at.pump()
        assert _events(m) == [(DTMF, "5", None)] and m.bad_replies == 1

    support.run(main())


def test_send_sms_gsm_and_ucs2_exact_bytes():
    async def main():
        u, m = _modem()
        u.on('AT+CMGS="+4791111111"', b"\r\n> ")
        u.on(b"Hei p\x0f deg\x1a", [(0, b""), (2000, b"\r\n+CMGS: 46\r\n" + OK)], data=True)
        assert await m.sms_send("+4791111111", "Hei på deg") == 46
        assert u.commands() == ['AT+CMGS="+4791111111"']
        u.log.clear()
        u.on("AT+CSMP=17,167,0,8", OK)
        u.on('AT+CMGS="+4791111111"', b"\r\n> ")
        u.on(b"0141D83DDE00\x1a", b"\r\n+CMGS: 47\r\n" + OK, data=True)
        u.on("AT+CSMP=17,167,0,0", OK)
        assert await m.sms_send("+4791111111", "Ł😀") == 47
        assert u.commands() == ["AT+CSMP=17,167,0,8", 'AT+CMGS="+4791111111"', "AT+CSMP=17,167,0,0"]
        # the network refuses: the data coding scheme is put back all the same
        u.log.clear()
        u.on("AT+CSMP=17,167,0,8", OK)
        u.on('AT+CMGS="+4791111111"', b"\r\n> ")
        u.on(b"0141\x1a", b"\r\n+CMS ERROR: 331\r\n", data=True)
        u.on("AT+CSMP=17,167,0,0", OK)
        e = await support.araises(OSError, m.sms_send("+4791111111", "Ł"))
        assert e.code == 331 and u.commands()[-1] == "AT+CSMP=17,167,0,0"
        # nothing but digits and a leading + ever reaches a command line
        for bad in ("", "+47;ATD112", '"+47"', "+47 91", "12+3", "+" + "1" * 20):
            await support.araises(ValueError, m.sms_send(bad, "x"))
            await support.araises(ValueError, m.dial(bad))
        u.on("ATD+4791111111;", OK)
        await m.dial("+4791111111")
        assert u.unmatched == []

    support.run(main())


def test_urgent_commands_go_first():
    async def main():
        u, m = _modem()
        order = []
        for c in ("AT+A", "AT+B", "AT+C", "AT+URGENT"):
            u.on(c, OK, delay_ms=100)

        async def run(c, urgent=False):
            await m.at.cmd(c, urgent=urgent)
            order.append(c)

        import asyncio
        tasks = [asyncio.create_task(run(c)) for c in ("AT+A", "AT+B", "AT+C")]
        await sleep_ms(10)  # A is on the wire, B and C wait
        tasks.append(asyncio.create_task(run("AT+URGENT", True)))
        for t in tasks:
            await t
        assert order == ["AT+A", "AT+URGENT", "AT+B", "AT+C"]

    support.run(main())


def test_queue_is_bounded_collapses_repeats_and_hung_modem():
    q = events.EventQueue(4)
    assert q.put(DATA, 0) and q.put(DATA, 0) and len(q) == 1  # the same link's data once
    assert q.put(RING, "+47", 145) and q.put(RING, "+47", 145) and len(q) == 3  # calls are not merged
    assert q.put(DTMF, "1") and not q.put(DTMF, "2")
    assert q.overflow and q.dropped == 1
    assert [q.get()[0] for _ in range(4)] == [DATA, RING, RING, DTMF] and q.get() is None

    async def main():
        u, m = _modem()
        for _ in range(3):
            await support.araises(OSError, m.at.cmd("AT+CSQ", 100))
        assert _events(m) == [(HUNG, None, None)]

    support.run(main())


def test_parsers():
    assert a76xx.fields('3,"REC READ","+47","","26/09/14,17:10:00+08",145') == [
        "3", "REC READ", "+47", "", "26/09/14,17:10:00+08", "145"]
    assert a76xx.parse_clcc('+CLCC: 1,1,4,0,0,"+4791111111",145') == (1, 1, 4, "+4791111111", 145)
    assert a76xx.parse_clcc("+CLCC: 2,0,6,0,0") == (2, 0, 6, "", 128)
    # the manual's own example (A76-ATM §7.2.6) puts a space after every comma
    assert a76xx.parse_clcc('+CLCC: 1, 1, 4, 0, 0, "+4791111111", 145, ""') == (1, 1, 4, "+4791111111", 145)
    assert a76xx.parse_clip('+CLIP: "02152063113",128,,,"gongsi",0') == ("02152063113", 128)  # §1.6
    assert a76xx.parse_clip('+CLIP: "+4791111111",145,,,"",2') == ("", 145)  # not available
    # body lengths: GSM characters as they are, 8-bit/UCS2/UDH as two hex digits per octet
    h = '+CMGR: "REC READ","+47","","%s",145,%d,0,%d,"+4790002100",145,10'
    assert a76xx.sms_body_len(h % (SCTS, 4, 0)) == 10
    assert a76xx.sms_body_len(h % (SCTS, 4, 8)) == 20
    assert a76xx.sms_body_len(h % (SCTS, 4, 4)) == 20
    assert a76xx.sms_body_len(h % (SCTS, 0x44, 0)) == 20
    for bad in ('+CMGR: "REC READ","+47","","%s"' % SCTS, "+CMGR: x",
                '+CMGR: "a","b","","c",1,2,3,4,"5",6,-3'):
        support.raises(ValueError, a76xx.sms_body_len, bad)


def test_the_minute_poll_asks_only_while_a_call_is_believed_up():
    async def main():
        import asyncio

        u, m = _modem()
        t = asyncio.create_task(m.run())
        await sleep_ms(130000)  # two timed polls, nothing believed up: not one AT command
        assert u.commands() == []
        m._calls = {1: 0}  # a call whose end went unseen keeps the ESP32 awake: checked
        u.on("AT+CLCC", OK)
        u.on('AT+CMGL="ALL"', OK)
        await sleep_ms(61000)
        t.cancel()
        await sleep_ms(1)
        assert u.commands() == ["AT+CLCC", 'AT+CMGL="ALL"'] and not m.in_call
        assert _events(m) == [(CALL, CALL_ENDED, "gone")]

    support.run(main())


def test_a_call_waiting_behind_ours_is_left_alone():
    async def main():
        u, m = _modem()
        m._calls = {1: 0}  # our call is up
        assert m.line_busy
        u.push(b'\r\n+CLCC: 2,1,5,0,0,"+4799999999",145\r\n')  # a waiting call (call waiting on)
        await m.at.pump()
        assert _events(m) == []  # no RING: rejecting it with AT+CHUP would end our call
        u.push(b'\r\n+CLCC: 1,0,6,0,0,"+4791111111",145\r\n')
        await m.at.pump()
        assert _events(m) == [(CALL, CALL_ENDED, "end")] and not m.line_busy and m.in_call  # 2 waits

    support.run(main())


def test_an_incoming_calls_end_is_told_apart_from_the_call_we_dial():
    async def main():
        u, m = _modem()
        u.push(b'\r\n+CLCC: 1,1,4,0,0,"+4799999999",145\r\n')  # a stranger rings
        await m.at.pump()
        assert _events(m) == [(RING, "+4799999999", 145)]
        u.on("ATD+4791111111;", OK)  # the SOS dials while the rejection's end is unread
        await m.dial("+4791111111")
        u.push(b'\r\n+CLCC: 1,1,6,0,0,"+4799999999",145\r\n\r\n+CLCC: 2,0,2,0,0,"+4791111111",145\r\n')
        await m.at.pump()
        # the stranger's end says so; our call, dialling, is still up
        assert _events(m) == [(CALL, CALL_ENDED, "incoming")] and m.in_call
        u.push(b'\r\n+CLCC: 2,0,6,0,0,"+4791111111",145\r\n')
        await m.at.pump()
        assert _events(m) == [(CALL, CALL_ENDED, "end")] and not m.in_call
        # the call dial() noted before any +CLCC is not taken over by an incoming call's line
        u.on("ATD+4791111111;", OK)
        await m.dial("+4791111111")
        u.push(b'\r\n+CLCC: 3,1,6,0,0,"+4799999999",145\r\n')  # a stranger's call we never saw
        await m.at.pump()
        assert _events(m) == [] and m.in_call

    support.run(main())


def test_an_end_line_while_calls_are_up_asks_which_call_ended():
    async def main():
        u, m = _modem()
        u.push(b'\r\n+CLCC: 1,1,4,0,0,"+4799999999",145\r\n')  # a stranger rings; it is rejected
        await m.at.pump()
        u.on("ATD+4791111111;", OK)
        await m.dial("+4791111111")
        _events(m)
        # AT+CHUP's end line for the stranger comes after the ATD (A76-ATM §7.2.2): no id on it
        u.push(b"\r\nVOICE CALL: END: 000000\r\n")
        await m.at.pump()
        assert _events(m) == [] and m._resync and m.in_call
        u.on("AT+CLCC", b'\r\n+CLCC: 2,0,2,0,0,"+4791111111",145\r\n' + OK)
        u.on('AT+CMGL="ALL"', OK)
        await m.resync()
        assert _events(m) == [(CALL, CALL_ENDED, "incoming")] and m._calls == {2: 2}
        # the callee is busy: the end line, then AT+CLCC lists nothing
        u.push(b"\r\nBUSY\r\n")
        await m.at.pump()
        assert _events(m) == []
        u.on("AT+CLCC", OK)
        u.on('AT+CMGL="ALL"', OK)
        await m.resync()
        assert _events(m) == [(CALL, CALL_ENDED, "busy")] and not m.in_call
        assert u.unmatched == []

    support.run(main())


def test_an_end_line_during_the_atd_is_not_a_late_end():
    async def main():
        u, m = _modem()
        u.on("ATD+4791111111;", OK, delay_ms=100)  # the OK comes after the rejected caller's end
        u.push(b"\r\nVOICE CALL: END: 000000\r\n", 50)
        await m.dial("+4791111111")
        assert _events(m) == [] and m._resync and m.in_call  # AT+CLCC will say whose it was
        u.on("ATD+4791111111;", b"\r\nERROR\r\n")
        m._calls = {}
        try:
            await m.dial("+4791111111")
            refused = False
        except OSError:
            refused = True
        assert refused and not m.in_call  # a refused ATD leaves nothing noted

    support.run(main())
