"""Fuzz targets on the modem side: the AT engine's reader (idle and inside a command), the
A76xx driver's URC handlers, and the reply parsers +CGNSSINFO, +CPSI, SMS headers, +CLIP /
+CLCC, plus Wi-Fi scans (what the ESP32's radio driver hands over).

What the AT engine hands a parser is a line of printable ASCII without spaces at either end
(at.py _take): `_line()` maps an input to that domain, so the parsers are fuzzed on what can
reach them."""
from binascii import crc32, hexlify

import support  # noqa: F401  (virtual time before asyncio)
from firmware import clock, commands, contacts, watchproto, wifi
from firmware.compat import sleep_ms
from firmware.drivers import a76xx
from firmware.drivers import events as ev
from firmware.drivers.at import ATEngine, ATError
from firmware.fix import Cell, Fix
from fuzzer import Failure, check, target
from mutate import Rng
from scripted import ScriptedUART

NOW = clock.from_parts(2026, 9, 14, 12, 0, 0)
_MAX_LINE = 512  # at.py _MAX_LINE
_MAX_DATA = 4096  # at.py _MAX_DATA
_MAX_REPLY = 24576  # at.py _MAX_REPLY


def _line(data):
    """An input as the AT engine would hand it over: printable ASCII, no spaces at the ends."""
    return bytes([b for b in data if 32 <= b < 127]).decode().strip(" ")


def _clean(line, what):
    check(type(line) is str, what + " not str", repr(line))
    check(0 < len(line) <= _MAX_LINE, what + " length", "%d bytes" % len(line))
    for c in line:
        check(" " <= c <= "~", what + " not printable ASCII", repr(line[:80]))
    check(line[0] != " " and line[-1] != " ", what + " not stripped", repr(line[:80]))


def _chunks(data, r):
    """data cut into reads of 1..300 bytes, as a UART delivers them."""
    out = []
    i = 0
    while i < len(data):
        k = 1 + r.below(300)
        out.append(data[i:i + k])
        i += k
    return out


def _bounded(at):
    check(0 <= at._ln <= len(at._line) == _MAX_LINE, "line buffer over its bound", "%d" % at._ln)
    if at._rawp is not None:
        check(len(at._rawp[1]) <= _MAX_DATA, "raw buffer over its bound", "%d" % len(at._rawp[1]))


# ---- the AT engine, idle --------------------------------------------------------------------------

_CMT = (b'\r\n+CMT: "+4791111111","","26/09/14,17:10:00+08",145,4,0,0,"+4790002100",145,5\r\n'
        b'Hello\r\n')
_URCS = (
    _CMT,
    b'\r\n+CMT: "+4791111111","","26/09/14,17:10:00+08",145,4,0,8,"+4790002100",145,4\r\n'
    b'00E600F8\r\n',
    b"\r\n+CIPRXGET: 1,0\r\n\r\n+IPCLOSE: 1,1\r\n",
    b'\r\nRING\r\n\r\n+CLIP: "+4791111111",145,,,"",0\r\n',
    b"\r\n*ATREADY: 1\r\n\r\n+CPIN: READY\r\n\r\nSMS DONE\r\n\r\nPB DONE\r\n",
    b"\r\n+CGNSSPWR: READY!\r\n\r\n+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY\r\n",
    b'\r\n+CMTI: "SM",3\r\n\r\nVOICE CALL: BEGIN\r\n\r\n+RXDTMF: 5\r\n\r\nVOICE CALL: END: 000012\r\n',
    b'\r\n+CLCC: 1,1,4,0,0,"+4791111111",145,""\r\n\r\nNO CARRIER\r\n',
    b"\xff\x00\xfe\r\nRDY\r\n",
)
_AT_TOKENS = (b"\r\n", b"\r", b"\n", b"\r\n> ", b"OK", b"ERROR", b"+CME ERROR: 13", b"*ATREADY: 1",
              b"RDY", b"+CMT: ", b'"', b",", b"+CIPRXGET: 1,", b"+IPCLOSE: ", b"+CLIP: ",
              b"+CLCC: ", b"RING", b"NO CARRIER", b"+CMTI: ", b"+RXDTMF: ", b"SMS DONE", b"\x00",
              b"\xff", b" " * 40)
_HANDLED = ("+CIPRXGET: 1,", "+IPCLOSE:", "+CIPEVENT:", "RING", "+CLIP:", "+CLCC:", "+RXDTMF:",
            "+CMTI:", "SMS DONE", "+CGNSSPWR:", "VOICE CALL:", "NO CARRIER")


@target("at_engine", _URCS, _AT_TOKENS, (b"\r\n", b","), 8192)
def at_engine(data):
    """Unsolicited modem output (URCs, +CMT headers with their raw bodies, reboot banners,
    noise) read by the AT engine while idle, in random reads and pauses. Properties: pump()
    never raises; handlers get clean lines (printable ASCII, <= 512 bytes, stripped) and +CMT
    bodies of exactly the announced length (<= 4096 bytes); the line and raw buffers stay in
    their bounds; after 2.1 s of quiet and a line end, a clean URC is delivered again."""
    r = Rng(crc32(data))

    async def main():
        u = ScriptedUART()
        at = ATEngine(u)
        got = []  # the last few lines handled, and how many (a list of every line of an 8 KB
        n_got = [0]  # burst took 16 KB blocks of MicroPython's 2 MB heap: the harness, not the engine)
        bad = []  # the engine catches what a handler raises: a broken property is kept here

        def keep(fn):
            def handler(ln, *body):
                try:
                    fn(ln, *body)
                except Failure as e:
                    bad.append(e)
                got.append(ln)
                n_got[0] += 1
                if len(got) > 8:
                    del got[0]
            return handler

        def cmt(ln, body):
            _clean(ln, "+CMT header")
            if body is not None:
                n = a76xx.sms_body_len(ln)  # what the engine announced
                check(len(body) == n <= _MAX_DATA, "+CMT body length", "%d for %r" % (len(body), ln))

        at.on_urc("+CMT:", keep(cmt), a76xx.sms_body_len)
        for p in _HANDLED:
            at.on_urc(p, keep(lambda ln: _clean(ln, "urc")))
        at.on_reboot(keep(lambda ln: _clean(ln, "reboot line")))
        for piece in _chunks(data, r):
            u.push(piece)
            await at.pump()
            _bounded(at)
            if bad:
                raise bad[0]
            if r.below(4) == 0:
                await sleep_ms((0, 10, 500, 2100)[r.below(4)])
        u.push(b"\r\n")  # ends a partial line (which may announce a body)
        await at.pump()
        await sleep_ms(2100)  # an announced body that never came is given up
        await at.pump()
        u.push(b"\r\n+IPCLOSE: 7,1\r\n")
        await at.pump()
        if bad:
            raise bad[0]
        check(at.handler_errors == 0, "a handler raised")
        check(got and got[-1] == "+IPCLOSE: 7,1", "no resync after garbage", repr(got[-3:]))
        return "urcs" if n_got[0] > 1 else "nothing"

    return support.run(main())


# ---- the AT engine inside a command ---------------------------------------------------------------

_REPLIES = (
    b"AT+CSQ\r\r\n+CSQ: 21,99\r\n\r\nOK\r\n",
    b"AT+CGNSSINFO\r\r\n+CGNSSINFO: 2,09,05,00,3113.330650,N,12121.262554,E,131117,091918.00,"
    b"32.9,0.0,255.0,1.1,0.8,0.7\r\n\r\nOK\r\n",
    b'AT+CMGL="ALL"\r\r\n+CMGL: 1,"REC UNREAD","+4791111111","","26/09/14,17:10:00+08",145,4,0,0,'
    b'"+4790002100",145,5\r\nHello\r\n+CMGL: 2,"REC READ","+4791111111","","26/09/14,17:11:00+08",'
    b'145,4,0,8,"+4790002100",145,2\r\n00E6\r\n\r\nOK\r\n',
    b"AT+CIPRXGET=2,0,1460\r\r\n+CIPRXGET: 2,0,12,0\r\n[SG*1*0002*LK]\r\n\r\nOK\r\n",
    b"AT+CIPSEND=0,5\r\r\n>",
    b"ATD+4791111111;\r\r\nOK\r\n\r\nVOICE CALL: BEGIN\r\n",
    b"AT+CPSI?\r\r\n+CPSI: LTE,Online,242-01,0x07DA,26383618,226,EUTRAN-BAND20,6300,5,5,26,58,53,13"
    b"\r\n\r\n+CIPRXGET: 1,0\r\n\r\nOK\r\n",
    b"AT+CGSN\r\r\n+CME ERROR: SIM failure\r\n",
    b"AT+NETOPEN\r\r\nOK\r\n\r\n+NETOPEN: 0\r\n",
)


def _mode(command):
    """(prefix, data_prefix, data_len, send) the driver would use for command."""
    if command.startswith("AT+CSQ"):
        return "+CSQ:", None, None, None
    if command.startswith("AT+CGNSSINFO"):
        return "+CGNSSINFO:", None, None, None
    if command.startswith("AT+CMGL") or command.startswith("AT+CMGR"):
        return None, command[2:7] + ":", a76xx.sms_body_len, None
    if command.startswith("AT+CIPRXGET=2"):
        return None, "+CIPRXGET: 2,", a76xx._rxget_len, None
    if command.startswith("AT+CIPSEND"):
        return None, None, None, b"hello"
    return None, None, None, None


@target("at_cmd", _REPLIES, _AT_TOKENS, (b"\r\n", b","), 8192)
def at_cmd(data):
    """A whole modem transcript answering one command (the first line is the command's echo:
    it picks the command and how the driver reads its reply: prefix, raw payloads after a
    data prefix, the '>' prompt, a dial), delivered in random reads over time. Properties: the
    command returns clean lines (and payloads) or raises ATError / ATTimeout / ATReset (all
    OSError) and nothing else, within its timeout; what it keeps stays under 24 KiB; the engine
    is free after it; and once the modem has been quiet for 2.1 s, the next command with a
    clean reply works."""
    r = Rng(crc32(data))
    head = data.split(b"\r", 1)[0]
    command = "AT"
    if 2 <= len(head) <= 64 and head[:2] == b"AT":
        command = _line(head) or "AT"
    prefix, data_prefix, data_len, send = _mode(command)

    async def main():
        u = ScriptedUART()
        at = ATEngine(u)
        urcs = []  # checked after the command: the engine would swallow a Failure raised in a handler
        at.on_urc("+CMT:", lambda ln, body: urcs.append(ln), a76xx.sms_body_len)
        at.on_urc("+CIPRXGET: 1,", urcs.append)
        stages = []
        t = 0
        for piece in _chunks(data, r):
            stages.append((t, piece))
            t += (0, 0, 5, 30, 700)[r.below(5)]
        u.on("*", stages)
        t0 = support.VT.ms
        try:
            if send is not None:
                res = await at.send_data(command, send, 2000, prefix)
            else:
                res = await at.cmd(command, 2000, prefix, data_prefix, data_len)
        except OSError as e:  # ATError, ATTimeout, ATReset
            res = e
        took = support.VT.ms - t0
        for ln in urcs:
            _clean(ln, "urc")
        check(took <= 2000 + 2 * at.poll_ms, "command outlived its timeout", "%d ms" % took)
        check(not at.busy, "engine still busy")
        _bounded(at)
        if not isinstance(res, OSError):
            lines, payload = res if data_prefix is not None else (res, b"")
            check(isinstance(payload, bytes), "payload not bytes", repr(type(payload)))
            kept = len(payload)
            for ln in lines:
                _clean(ln, "reply line")
                kept += len(ln)
            check(kept <= _MAX_REPLY + _MAX_LINE + _MAX_DATA, "reply over its bound", "%d bytes" % kept)
        await sleep_ms(t + 100)  # every byte of the transcript has arrived
        u.push(b"\r\n")
        await at.pump()
        await sleep_ms(2100)
        await at.pump()  # an announced payload that never came is given up
        u.on("AT", b"\r\nOK\r\n")
        u._out = bytearray()  # a payload the fake modem never took is not part of the next line
        try:
            again = await at.cmd("AT", 1000)
        except OSError as e:
            raise Failure("no recovery after the transcript", repr(e))
        check(again == [], "no recovery after the transcript", repr(again))
        if isinstance(res, OSError):
            return "error" if isinstance(res, ATError) else type(res).__name__
        return "reply"

    return support.run(main())


# ---- the A76xx driver's URC handlers ---------------------------------------------------------------


class _Pin:
    def __init__(self, v=0):
        self.v = v

    def value(self, v=None):
        if v is None:
            return self.v
        self.v = v


_DIGITS_KEYS = "0123456789*#ABCD"


def _check_event(e):
    kind, a, b = e
    if kind == ev.RING:
        check(type(a) is str and type(b) is int, "RING event fields", repr(e))
        for c in a:
            check("0" <= c <= "9" or c in "+*#", "RING number not a number", repr(a))
    elif kind == ev.SMS:
        if type(a) is not int:
            check(isinstance(a, a76xx.Sms), "SMS event neither index nor Sms", repr(e))
            check(type(a.text) is str and type(a.number) is str and type(a.dcs) is int, "Sms fields",
                  repr((a.number, a.dcs, a.text)))
            check(len(a.text) <= 1024, "Sms text over the body bound", "%d" % len(a.text))
    elif kind in (ev.DATA, ev.CLOSED):
        check(type(a) is int and 0 <= a < 10, "link out of range", repr(e))
    elif kind == ev.DTMF:
        check(type(a) is str and len(a) == 1 and a in _DIGITS_KEYS, "DTMF key", repr(e))
    elif kind == ev.CALL:
        check(type(a) is int, "CALL state not int", repr(e))
    else:
        check(kind in (ev.REBOOT, ev.HUNG), "unknown event kind", repr(e))


@target("a76xx_urc", _URCS, _AT_TOKENS, (b"\r\n", b","), 8192)
def a76xx_urc(data):
    """The same unsolicited output into the real A76xx driver (its URC handlers registered on
    the engine). Properties: no handler raises (the engine would count it in handler_errors:
    the URC is then neither counted in bad_replies nor asked for again); the event queue stays
    at most 16 and every event is well-formed (a RING's number is digits, + * #; a link is
    0..9; an SMS is an index or a parsed Sms; a DTMF key one of 0-9 * # A-D)."""
    r = Rng(crc32(data))

    async def main():
        u = ScriptedUART()
        m = a76xx.A76xx(u, _Pin())
        m.start()
        n = 0
        for piece in _chunks(data, r):
            u.push(piece)
            await m.at.pump()
            _bounded(m.at)
            check(len(m.events) <= 16, "event queue over 16")
            while True:
                e = m.events.get()
                if e is None:
                    break
                _check_event(e)
                n += 1
            if r.below(4) == 0:
                await sleep_ms((0, 10, 500, 2100)[r.below(4)])
        if m.at.handler_errors:
            from fuzzer import EVENTS

            errs = [f for k, f in EVENTS if k == "error" and f.get("where") == "urc_handler"]
            line = errs[0]["line"] if errs else "?"
            which = "?"
            for p, fn, dl in m.at._handlers:
                if line.startswith(p):
                    which = p
                    break
            err = errs[0]["err"] if errs else "?"
            raise Failure("urc handler raised (%s)" % which, "%s on %r" % (err, line))
        return "events" if n else "quiet"

    return support.run(main())


# ---- +CGNSSINFO and +CPSI (moved here from tests/unit/test_parse_fuzz.py) -----------------------

CPSI = (
    "+CPSI: LTE,Online,460-01,0x230A,175499523,318,EUTRAN-BAND3,1650,5,0,21,67,255,19",  # A76-ATM §4.2.9
    "+CPSI: LTE,Online,242-01,0x07DA,26383618,226,EUTRAN-BAND20,6300,5,5,26,58,53,13",  # the emulator
    "+CPSI: LTE NB-IOT,Online,460-11,0x5AE1,187212754,82,EUTRAN-BAND5,2506,0,0,-7,-115,-110,13",
    "+CPSI: GSM,Online,242-01,0x0C1F,12401,27 EGSM 900,-64,2110,42-42",
)
CGNSSINFO = (
    "+CGNSSINFO: 2,09,05,00,3113.330650,N,12121.262554,E,131117,091918.00,32.9,0.0,255.0,1.1,0.8,0.7",
    "+CGNSSINFO: 3,09,,03,00,22.6550274,N,114.0600586,E,230824,063956.00,83.9,0.000,,10.83,10.01,4.13,0",
    "+CGNSSINFO: 2,04,00,21.5012345,N,114.12345678,E,020924,094145.00,-34.0,1.403,,6.9,6.8,1.0,03",
    "+CGNSSINFO: ,,,,,59.9173000,N,10.7646000,E,,112414.00,75.9,,,,,,09",  # no date (issue #157)
    "+CGNSSINFO: ,,,,,,,,",
)
# what gets spliced in: characters and whole fields a garbled or odd modem could produce
_GNSS_TOKENS = (b"", b"0", b"-1", b"99", b"100", b"255", b"4294967296", b"-4294967296",
                b"99999999999999", b"0x", b"0xFFFFF", b"1.5", b".", b"-", b"N", b"S", b"E", b"W",
                b"1e5", b"9.9.9", b"NaN", b"000000", b"320124", b"290223", b"235960.00",
                b"999999.99", b"18000.1", b"1000.01", b"360.0", b"-0.5", b"LTE", b"GSM", b"-",
                b"EGSM 900", b"0X")
_FIX0 = Fix(NOW, 59917300, 10764600, True, 20, 0, 0, 9, 5, "gnss")
_CELL0 = Cell(242, 1, 2010, 26383618, -82)


def check_cell(c, line):
    check(isinstance(c, Cell), "not a Cell", line)
    check(0 <= c.mcc <= 999 and 0 <= c.mnc <= 999, "cell mcc/mnc out of range", line)
    check(0 <= c.lac < 0x10000 and 0 <= c.cid < 0x10000000, "cell lac/cid out of range", line)
    check(c.rssi == 0 or -140 <= c.rssi <= -40, "cell rssi out of range", line)


def check_fix(f, line):
    check(isinstance(f, Fix) and f.valid and f.source == "gnss", "not a valid gnss Fix", line)
    check(-90000000 <= f.lat <= 90000000 and -180000000 <= f.lon <= 180000000, "fix lat/lon out of range",
          line)
    check(f.lat or f.lon, "fix at 0,0", line)
    check(clock.from_parts(2000, 1, 1) <= f.t < clock.from_parts(2100, 1, 1), "fix time out of range", line)
    check(2000 <= clock.to_parts(f.t)[0] < 2100, "fix year out of range", line)
    check(-1000 <= f.alt <= 18000 and 0 <= f.speed <= 18520 and 0 <= f.course < 360,
          "fix alt/speed/course out of range", line)
    # acc: 2 x HDOP 99.99 x 5 m at most
    check(0 <= f.sats <= 396 and 5 <= f.acc <= 1000, "fix sats/acc out of range", line)


def traccar_reads(text):
    """The content as Traccar decodes it: no exception (an exception closes the connection and
    the watch sends the frame again forever), a position, every cell and AP read."""
    from host_sim import traccar

    frame = watchproto.encode("SG", "862000012345674", text)
    check(watchproto.parse(frame).content.decode() == text, "frame does not parse back", text)
    try:
        p = traccar.decode_position(text)
    except ValueError as e:
        raise Failure("Traccar cannot decode the position", "%r: %s" % (text, e))
    check(not p["network_ignored"], "Traccar ignores the network block", text)
    return p


def position_frame(fix, cell, wifis=()):
    text = watchproto.position("UD", fix, 50, 80, 0, 0, [cell] if cell else [], wifis)
    check(text.startswith("UD,") and "\r" not in text and "\n" not in text, "bad position text", text)
    return traccar_reads(text)


@target("cgnssinfo", [s.encode() for s in CGNSSINFO], _GNSS_TOKENS)
def cgnssinfo(data):
    """a76xx.parse_cgnssinfo on a +CGNSSINFO line (with or without the wall clock): None, or a
    Fix whose every value is in range and that a UD frame carries to Traccar whole, or
    ValueError."""
    line = _line(data)
    try:
        f = a76xx.parse_cgnssinfo(line, NOW if crc32(data) & 1 else None)
    except ValueError:
        return "rejected"
    if f is None:
        return "none"
    check_fix(f, line)
    position_frame(f, _CELL0)
    return "fix"


@target("cpsi", [s.encode() for s in CPSI], _GNSS_TOKENS)
def cpsi(data):
    """a76xx.parse_cpsi on a +CPSI line: None, or a Cell in range that Traccar reads in a UD
    frame, or ValueError."""
    line = _line(data)
    try:
        c = a76xx.parse_cpsi(line)
    except ValueError:
        return "rejected"
    if c is None:
        return "none"
    check_cell(c, line)
    position_frame(_FIX0, c)
    return "cell"


# ---- SMS headers and bodies, +CLIP / +CLCC ---------------------------------------------------------

_SMS = (
    _CMT[2:].replace(b"\r\n", b"\n", 1).rstrip(b"\r\n"),
    b'+CMT: "+4791111111","","26/09/14,17:10:00+08",145,4,0,8,"+4790002100",145,4\n00E600F8',
    b'+CMGR: "REC UNREAD","+4791111111","","26/09/14,17:10:00+08",145,4,0,0,"+4790002100",145,'
    b'21\npw,4711,interval,60#',
    b'+CMGL: 2,"REC READ","91111111","","26/09/14,17:11:00+08",129,4,0,4,"+4790002100",145,3\nA0B1C2',
    b'+CMT: "Telenor","","26/09/14,17:10:00+08",208,68,0,0,"+4790002100",145,12\n'
    b'\x1b\x14\x1b(x\x1b)\x1b/\x1b=',
    b'+CMT: "+4791111111","","26/09/14,17:10:00+08",145,68,0,0,"+4790002100",145,6\n050003010201',
)
_SMS_TOKENS = (b'"', b",", b"\n", b"\x1b", b"\x00", b"145", b"129", b"128", b"0", b"8", b"4", b"68",
               b"0040", b"D83DDE00", b"D800", b"+CMT: ", b"+CMGR: ", b"+CMGL: ", b"REC UNREAD")
_GUARDIAN = contacts.Contacts([{"name": "Mamma", "number": "+4791111111", "roles": ["guardian"]}], "47")


@target("sms_urc", _SMS, _SMS_TOKENS, (b",", b"\n"), 2048)
def sms_urc(data):
    """A text-mode SMS header line (+CMT / +CMGR / +CMGL with AT+CSDH=1) and the bytes behind
    it. sms_body_len: an int >= 0 (<= 4096 or the engine refuses it) or ValueError /
    IndexError (what the engine catches); parse_sms on the announced body: an Sms or ValueError
    / IndexError (what the driver catches), its text a str no longer than the body; then the
    sender looked up in the contacts and the text read as an SMS command, neither raising."""
    head, _, body = data.partition(b"\n")
    line = _line(head)
    try:
        n = a76xx.sms_body_len(line)
    except (ValueError, IndexError):
        return "no length"
    check(type(n) is int and n >= 0, "body length not an int >= 0", repr(n))
    if n > _MAX_DATA:
        return "too long"
    body = (body + b"x" * n)[:n]
    try:
        sms = a76xx.parse_sms(line, body)
    except (ValueError, IndexError):
        return "rejected"
    check(type(sms.text) is str and type(sms.number) is str and type(sms.scts) is str, "Sms field types",
          repr((sms.number, sms.scts)))
    check(type(sms.dcs) is int and type(sms.ntype) is int, "Sms dcs/type not int", repr((sms.dcs, sms.ntype)))
    check(len(sms.text) <= len(body), "SMS text longer than its body", "%d > %d" % (len(sms.text), len(body)))
    _GUARDIAN.find(sms.number, sms.ntype)
    commands.parse_sms(sms.text)
    return "sms"


_CALLS = (
    b'+CLIP: "+4791111111",145,,,"",0',
    b'+CLIP: "",128,,,"",1',
    b'+CLIP: "91111111",129,,,"Mamma",0',
    b'+CLCC: 1,1,4,0,0,"+4791111111",145,""',
    b"+CLCC: 1,0,6,0,0",
    b'+CLCC: 2, 1, 5, 0, 0, "91111111", 129',
)


@target("call_urc", _CALLS, _SMS_TOKENS)
def call_urc(data):
    """+CLIP and +CLCC lines: parse_clip gives (number of digits, + * #; type int) or
    ValueError; parse_clcc gives five fields (ints and a str) or ValueError; the number is
    looked up in the contacts without raising."""
    line = _line(data)
    out = "rejected"
    if line.startswith("+CLIP"):
        try:
            number, ntype = a76xx.parse_clip(line)
            for c in number:
                check("0" <= c <= "9" or c in "+*#", "CLIP number not a number", repr(number))
            check(type(ntype) is int, "CLIP type not int", line)
            _GUARDIAN.find(number, ntype)
            out = "clip"
        except ValueError:
            pass
    else:
        try:
            cid, mt, stat, number, ntype = a76xx.parse_clcc(line)
            check(type(cid) is int and type(mt) is int and type(stat) is int and type(ntype) is int,
                  "CLCC fields not int", line)
            check(type(number) is str, "CLCC number not str", line)
            _GUARDIAN.find(number, ntype)
            out = "clcc"
        except ValueError:
            pass
    return out


# ---- Wi-Fi scans ------------------------------------------------------------------------------------


def scan_entries(data):
    """Bytes -> a scan as network.WLAN.scan() might return it, odd values included. Per entry:
    a shape byte (bits 0-2 the rssi's type: int mostly, a str, None, a float or a bool; bits 4-6
    = 7: a short tuple; bit 7: the SSID as str), the SSID's length and bytes, the BSSID's length
    (>= 0xF0: length % 9, else 6) and bytes, channel, rssi (signed byte), security, hidden."""
    out = []
    i = 0
    n = len(data)

    def take(k):
        nonlocal i
        v = data[i:i + k]
        i += k
        return v

    while i < n:
        shape = take(1)[0]
        ln = take(1)
        ssid = take(ln[0] % 64 if ln else 0)
        if shape & 0x80:
            ssid = "".join([chr(b) for b in ssid])
        bl = take(1)
        bssid = take((bl[0] % 9 if bl[0] >= 0xF0 else 6) if bl else 6)
        rest = take(4) + b"\x00\x00\x00\x00"
        rssi = rest[1] - 256 if rest[1] > 127 else rest[1]
        kind = shape & 7
        if kind == 5:
            rssi = "x"
        elif kind == 6:
            rssi = None
        elif kind == 7:
            rssi = True if shape & 8 else rssi - 0.5
        entry = (ssid, bssid, rest[0], rssi, rest[2], bool(rest[3] & 1))
        if (shape >> 4) & 7 == 7:
            entry = entry[:rest[3] % 6]
        out.append(entry)
    return out


def _scan_bytes(entries):
    out = b""
    for ssid, bssid, ch, rssi in entries:
        out += bytes([0, len(ssid)]) + ssid + bytes([6]) + bssid + bytes([ch, rssi & 0xFF, 3, 0])
    return out


_SCANS = (
    _scan_bytes(((b"Telenor", b"\xa0\xb1\xc2\xd3\xe4\xf5", 1, -52),
                 (b"eduroam", b"\x00\x1a\x2b\x3c\x4d\x5e", 6, -67),
                 (b"skole_nomap", b"\x00\x1a\x2b\x3c\x4d\x60", 6, -60),
                 (b"", b"\x10\x20\x30\x40\x50\x60", 11, -90))),
    _scan_bytes(((b"Hjemme, 5G [x]", b"\x44\x55\x66\x77\x88\x99", 36, -40),
                 (b"iPhone", b"\x02\x11\x22\x33\x44\x55", 6, -30),
                 (b"\xc3\xa6\xc3\xb8", b"\x0c\x0d\x0e\x0f\x10\x11", 1, -121))),
    b"",
)


@target("wifi_scan", _SCANS, (b"\x00", b"\x06", b"\xff", b"\x80", b"_nomap", b"_NOMAP", b",", b"}", b"*"),
        (b"\x00",), 2048)
def wifi_scan(data):
    """wifi.select on a hostile scan (any bytes as SSIDs, odd addresses, out-of-range or
    non-int signals, short tuples): at most 8 APs, strongest first, one per MAC, each a
    unicast globally administered MAC (12 lower-case hex digits), an int rssi -120..0 and a
    sanitized SSID; similarity() of scans stays 0..100 and symmetric; a UD frame with them is
    read by Traccar with every MAC and signal."""
    entries = scan_entries(data)
    aps = wifi.select(entries)
    check(len(aps) <= 8, "more than 8 APs", "%d" % len(aps))
    macs = []
    for mac, rssi, ssid in aps:
        check(type(mac) is str and len(mac) == 12 and not mac.strip("0123456789abcdef"), "AP mac", repr(mac))
        check(not int(mac[:2], 16) & 3 and mac != "000000000000", "AP mac multicast/local/zero", mac)
        check(type(rssi) is int and wifi.RSSI_MIN <= rssi <= 0, "AP rssi", repr(rssi))
        check(watchproto.sanitize(ssid) == ssid and len(ssid) <= 32, "AP ssid not sanitized", repr(ssid))
        check(mac not in macs, "AP twice", mac)
        macs.append(mac)
    for mac, rssi, ssid in aps:  # kept for an entry of its own whose SSID does not opt out
        raw = [e for e in entries if len(e) >= 4 and isinstance(e[1], bytes) and hexlify(e[1]).decode() == mac
               and e[3] == rssi and type(e[3]) is int]
        ok = [e for e in raw if not bytes(e[0] if isinstance(e[0], bytes) else e[0].encode()).lower()
              .endswith(b"_nomap")]
        check(ok, "a _nomap AP kept", repr(raw[:2]))
    for j in range(1, len(aps)):
        check((-aps[j - 1][1], aps[j - 1][0]) <= (-aps[j][1], aps[j][0]), "APs not strongest first")
    half = wifi.select(entries[::2])
    s1, s2 = wifi.similarity(aps, half), wifi.similarity(half, aps)
    check(s1 == s2 and 0 <= s1 <= 100, "similarity not symmetric in 0..100", "%r %r" % (s1, s2))
    check(wifi.similarity(aps, aps) == (100 if aps else 0), "similarity with itself")
    if not aps:
        return "empty"
    p = position_frame(_FIX0, _CELL0, wifi.block(aps))
    check(len(p["wifis"]) == len(aps), "Traccar lost APs", "%d of %d" % (len(p["wifis"]), len(aps)))
    for (mac, rssi), ap in zip(p["wifis"], aps):
        check(mac.replace(":", "") == ap[0] and rssi == ap[1], "Traccar read an AP wrong",
              repr((mac, rssi, ap)))
    return "aps"
