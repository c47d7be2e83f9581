"""Fuzz targets on the guardians' side: SMS text decoding (firmware/smscodec.py), guardians' SMS
commands (commands.parse_sms / apply_sms through control.Control.on_sms) and the server's
downlink (watchproto.FrameSplitter and parse, then control.Control.on_downlink, whose reply
must reach Traccar whole)."""
import support  # noqa: F401  (virtual time before asyncio)
from firmware import commands, config, fsutil, smscodec, uplink, watchproto
from firmware.config import Config
from firmware.contacts import Contact
from firmware.control import Control
from firmware.fix import Fix
from fuzzer import EVENTS, Failure, check, target, tmpdir
from mutate import Rng

ID = "862000012345674"
PIN = "4711"
BASE = {
    "contacts": [{"name": "Mamma", "number": "+4791111111", "roles": ["guardian", "sos"]},
                 {"name": "Pappa", "number": "92222222", "roles": ["guardian"]},
                 {"name": "Bestemor", "number": "+4793333333", "roles": ["friend"]}],
    "country_code": "47", "pin": PIN, "server_host": "tracker.example",
    "school_windows": ["Mo-Fr 08:00-14:00"],
    "zones": [{"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}],
}


def _printable_ascii(b, what):
    for c in b:
        check(0x20 <= c < 0x7F, what + " not printable ASCII", repr(b[:120]))


# ---- SMS text ----------------------------------------------------------------------------------------

_BODIES = (
    b"\x00Hello @ 5 \x1b\x65 \x1b\x3c\x1b\x3e",  # GSM 7-bit with extension characters
    b"\x08" + b"00E600F800E5D83DDE00",  # UCS2 hex with a surrogate pair
    b"\x04A0B1C2",  # 8-bit data, shown as hex
    b"\xf6" + b"0102",  # class 2 8-bit
    b"\x18" + b"0041D800",  # UCS2 with a lone surrogate
    b"\x00" + bytes(range(0, 128)),
)


@target("smscodec", _BODIES, (b"\x1b", b"D83D", b"DE00", b"D800", b"0000", b"FFFF", b"00", b"\x80"),
        (b"\x1b",))
def smscodec_target(data):
    """The first byte is the data coding scheme, the rest the body as the modem shows it.
    decode_body never raises and gives a str no longer than the body (with the dcs and with
    none); from_ucs2_hex raises only ValueError; whatever was decoded, encode_sms either
    refuses it with ValueError (only when it is longer than one SMS) or encodes it so that it
    decodes back to the same text, in 160 septets or 70 UTF-16 units."""
    if not data:
        return "empty"
    dcs, body = data[0], data[1:]
    texts = []
    for d in (dcs, None):
        t = smscodec.decode_body(body, d)
        check(type(t) is str and len(t) <= len(body), "decode_body result", repr(t[:40]))
        texts.append(t)
    try:
        texts.append(smscodec.from_ucs2_hex(body))
    except ValueError:
        pass
    out = "gsm"
    for t in texts:
        try:
            kind, enc = smscodec.encode_sms(t)
        except ValueError:
            check(smscodec.utf16_units(t) > smscodec.UCS2_MAX, "encode_sms refused a short text", repr(t))
            out = "too long"
            continue
        if kind == "gsm":
            check(len(enc) <= smscodec.GSM_MAX and smscodec.gsm_decode(enc) == t, "GSM round trip", repr(t))
            check(smscodec.septets(t) == len(enc), "septets() disagrees with the encoding", repr(t))
        else:
            check(kind == "ucs2" and smscodec.utf16_units(t) <= smscodec.UCS2_MAX, "UCS2 over one SMS",
                  repr(t))
            check(smscodec.from_ucs2_hex(enc) == t, "UCS2 round trip", repr(t))
            out = "ucs2"
    return out


# ---- guardians' SMS commands ---------------------------------------------------------------------

_SMS_CMDS = (
    b"pw,4711,where#", b"pw,4711,interval,60#", b"pw,4711,add,+47 912 34 567,Pappa,guardian+sos#",
    b"pw,4711,remove,+4793333333#", b"pw,4711,remove,92222222#", b"pw,4711,school,on#",
    b"pw,4711,cancel#", b"pw,4711,sos,off#", b"pw,4711,status#", b"pw,4711,help#",
    b"pw,4711,zone,park,59.9236,10.7592,150#",
    b"pw,4711,zone,school,59.917,10.764,59.918,10.764,59.918,10.766,59.917,10.766#",
    b"pw,4711,zonedel,home#", b"pw,4711,zones#", b"pw,4711,lowbat,20#",
    b" PW , 4711 , Interval , 300 ## ", b"pw,0000,where#", b"Hei! Kommer hjem kl 5",
    b"\xfepw,4711,add,+4791234567,M\xf8mmi#",  # latin-1 text (first byte 0xFE)
)
_SMS_TOKENS = (b"pw", b"4711", b"#", b",", b"+47", b"guardian", b"sos", b"friend", b"+", b"where",
               b"interval", b"add", b"remove", b"school", b"zone", b"zonedel", b"lowbat", b"monitor",
               b"\x00", b"\x1b", b"\xfe", b"\xff", b" ")


def sms_text(data):
    """Bytes -> the text of an SMS: GSM 7-bit (as smscodec decodes it), or, after a first byte
    0xFE, one character per byte (controls and Latin-1), after 0xFF one per byte pair (any BMP
    character that is not a surrogate)."""
    if data[:1] == b"\xfe":
        return "".join([chr(b) for b in data[1:]])
    if data[:1] == b"\xff":
        out = []
        for i in range(1, len(data) - 1, 2):
            u = (data[i] << 8) | data[i + 1]
            out.append(chr(u) if not 0xD800 <= u < 0xE000 else "?")
        return "".join(out)
    return smscodec.gsm_decode(data)


class _Rec:
    def __init__(self, log):
        self._log = log

    def __getattr__(self, name):
        return lambda *a: self._log.append((name,) + a)


class FakeApp:
    """The parts of firmware.app.App that control.Control drives (as tests/unit/test_control.py
    has it), on flash under root; the settings are reset to BASE for each input."""

    def __init__(self, root):
        from firmware.contacts import Contacts
        from firmware.telephony import Inbox

        self.root = root
        self.device_id = ID
        self.did = []
        self.sent = []
        self.reporter = _Rec(self.did)
        self.reporter.position_now = lambda: (Fix(0, 59923600, 10759200, True, 0, 0, 0, 0, 8), 125, None)
        self.sos = _Rec(self.did)
        self.school = _Rec(self.did)
        self.positioning = None
        self.uplink = _Rec(self.did)  # a locate-now tells it (Uplink.asked)
        self._contacts = Contacts
        app = self

        class Tel:
            inbox = Inbox(root)

            async def send_sms(self, number, text, urgent=False, purpose="sos"):
                app.sent.append((number, text, purpose))

        self.telephony = Tel()
        self.reset()

    def reset(self):
        self.cfg = Config(self.root, BASE)
        self.contacts = self._contacts(self.cfg["contacts"], self.cfg["country_code"])
        del self.did[:]
        del self.sent[:]

    def load_contacts(self):
        self.contacts = self._contacts(self.cfg["contacts"], self.cfg["country_code"])

    def buzz(self, ms):
        self.did.append(("buzz", ms))

    def shutdown(self, kind):
        self.did.append(("shutdown", kind))


_APP = []


def _app():
    if not _APP:
        _APP.append(FakeApp(tmpdir("control")))
    app = _APP[0]
    app.reset()
    fsutil.remove(fsutil.join(app.root, "config.json"))
    return app


def _settled(app, changed):
    """The settings in force are valid, and what is on flash is what is in force."""
    v = app.cfg.as_dict()
    try:
        config.check_all(v)
    except ValueError as e:
        raise Failure("settings in force are invalid", str(e))
    if changed:
        back = Config.load(app.root)
        check(back.recovered is None, "saved settings do not load", str(back.recovered))
        check(back.as_dict() == v, "saved settings differ from those in force")
    for kind, f in EVENTS:
        check(not (kind == "error" and f.get("where") == "command_action"), "a command's action failed",
              repr(f))


@target("sms_command", _SMS_CMDS, _SMS_TOKENS, (b",", b" "), 600)
def sms_command(data):
    """An SMS from a guardian's number: commands.parse_sms says command (PIN, command) or
    message (None) and never raises; Control.on_sms carries a command out or refuses it:
    never raises, answers with texts that fit one SMS, never puts the PIN in an event (unless
    the command itself holds it), leaves valid settings, saved as they are in force. A text
    that is not of the pw form is also given to apply_sms as a command (after the PIN check):
    a Result whose reply fits one SMS and whose settings pass config.check_all."""
    text = sms_text(data)
    parsed = commands.parse_sms(text)
    app = _app()
    if parsed is None:
        res = commands.apply_sms(app.cfg.as_dict(), text)
        check(isinstance(res.reply, str), "reply not str", repr(res.reply))
        try:
            smscodec.encode_sms(res.reply)
        except ValueError:
            raise Failure("reply over one SMS", repr(res.reply))
        if res.values is not None:
            try:
                config.check_all(res.values)
            except ValueError as e:
                raise Failure("command gave invalid settings", str(e))
        check(res.error is None or type(res.error) is str, "error not str", repr(res.error))
        return "message"
    pin, cmd = parsed
    check(type(pin) is str and 1 <= len(pin) <= 16 and not pin.strip("0123456789"), "PIN not 1..16 digits",
          repr(pin))
    check(type(cmd) is str and cmd and cmd == cmd.strip(), "command empty or unstripped", repr(cmd))
    c = Control(app)
    mamma = Contact("Mamma", "+4791111111", ("guardian", "sos"), 0)
    handled = support.run(c.on_sms(mamma, text))
    check(handled is True, "a command not handled", repr(handled))
    for number, reply, purpose in app.sent:
        check(number == "+4791111111", "reply to someone else", number)
        try:
            smscodec.encode_sms(reply)
        except ValueError:
            raise Failure("reply over one SMS", repr(reply))
    if PIN not in cmd:
        for kind, f in EVENTS:
            for v in f.values():  # (not repr(f): MicroPython writes "\xc4711" for "Ä711")
                check(PIN not in str(v), "the PIN in an event", "%s %r" % (kind, f))
    _settled(app, app.cfg.as_dict() != Config(app.root, BASE).as_dict())
    return "command" if pin == PIN else "wrong pin"


# ---- the server's downlink -----------------------------------------------------------------------


def _frame(content, index=None, maker="SG"):
    return watchproto.encode(maker, ID, content, index)


_DOWN = (
    _frame("CR"), _frame("CR", "0001"), _frame("UPLOAD,60") + _frame("LK"), _frame("SOS1,123456789"),
    _frame("SOS,+4791111111,,92222222"), _frame("SOSSMS,0"), _frame("LOWBAT,0", 7), _frame("REMOVE,1"),
    _frame("RESET"), _frame("POWEROFF"), _frame("SILENCETIME,08:00-12:00,13:00-15:00"),
    _frame("REMIND,08:10-1-1,08:10-1-3-0111110"), _frame("PHB,94444444,004D006F0072006D006F0072"),
    _frame("MESSAGE,0074006500780074"), _frame(b"TK,#!AMR\n%s\x7d\x01\x7d\x02\x7d\x03\x7d\x04\x7d\x05"),
    _frame("LZ,,+1.5"), _frame("LZ,0,+5.75"), _frame("FLOWER,3"), _frame("FIND"), _frame("FACTORY"),
    _frame("PEDO,1"), _frame("WHITELIST1,91111111,,,,95555555"), _frame("WORK,6-9,11-13"),
    _frame("WORKTIME,30"), _frame("CENTER,95555555"), _frame("CONTACT,+4795555555,Tante,friend"),
    _frame("CONTACTDEL,+4793333333"), _frame("CONTACTS"), _frame("SCHOOL,on"), _frame("SCHOOLRING,1"),
    _frame("SCHOOLTIME,Mo-Fr 08:00-14:00,Mo+We 14:00-15:00"), _frame("TZRULE,EU"),
    _frame("SOSCANCEL"), _frame("STATUS"), _frame("LOWBATLEVEL,15"),
    _frame("ZONE,school,59.917,10.764,59.918,10.764,59.918,10.766,59.917,10.766"),
    _frame("ZONEDEL,home"), _frame("ZONES"), _frame("MONITOR,123"), _frame("AL") + _frame("UD,1"),
    b"[3G*" + ID.encode() + b"*0001*0009*UPLOAD,60]",
)
_DOWN_TOKENS = (b"[", b"]", b"*", b",", b"}", b"}\x01", b"}\x05", b"0001", b"SG", b"3G", ID.encode(),
                b"%", b"{uniqueId}", b"\x00", b"\xff", b"UPLOAD", b"SOS1", b"ZONE", b"CONTACT", b"TK")


def _traccar_takes(reply):
    """The reply frame as Traccar reads it from the watch: one frame, no exception (which
    would close the connection), for this device, with the reply's content."""
    from host_sim import traccar

    srv = traccar.WatchServer()
    c = srv.connect("watch", lambda b: 0, lambda: None)
    c.receive(reply)
    check(not srv.errors and c.alive, "Traccar fails on the reply", "%r: %r" % (reply, srv.errors))
    check(len(srv.frames) == 1, "Traccar reads the reply as %d frames" % len(srv.frames), repr(reply))
    dev, typ, content = srv.frames[0]
    check(dev == ID, "Traccar files the reply under another device", repr(reply))
    return content


@target("downlink", _DOWN, _DOWN_TOKENS, (b",", b"*"), 4096)
def downlink(data):
    """Bytes from the server, in random reads, through the uplink's FrameSplitter (32 KiB
    bound, '[' restarts a frame), watchproto.parse and, for a frame to this watch that is not
    an ack, Control.on_downlink. Properties: the splitter's buffer stays under its bound and
    gives frames '[...]' without an inner '['; parse gives a Frame or ProtocolError (a
    ValueError); on_downlink never raises, carries out or refuses the command (no action
    fails, settings stay valid and are saved as in force) and its reply, if any, is one frame
    of printable ASCII that Traccar reads whole for this device, echoing the command's maker
    and index when a frame can carry them (watchproto.is_maker, is_index)."""
    r = Rng(len(data) * 7919 + (data[-1] if data else 0))
    sp = uplink._splitter()
    frames = []
    i = 0
    while i < len(data):
        k = 1 + r.below(600)
        got = sp.feed(data[i:i + k])
        i += k
        check(len(sp._buf) <= sp.limit, "splitter buffer over its bound", "%d" % len(sp._buf))
        for f in got:
            check(f[:1] == b"[" and f[-1:] == b"]" and b"[" not in f[1:], "splitter frame shape",
                  repr(f[:80]))
        frames.extend(got)
    app = _app()
    c = Control(app)
    out = "no frame"
    for raw in frames:
        try:
            f = watchproto.parse(raw)
        except watchproto.ProtocolError:
            out = "bad frame" if out == "no frame" else out
            continue
        check(type(f.maker) is str and len(f.maker) == 2 and type(f.dev_id) is str, "Frame header",
              repr(raw[:60]))
        check(isinstance(f.content, bytes) and type(f.type) is str, "Frame content", repr(raw[:60]))
        if f.dev_id != ID or f.type in ("LK", "AL"):
            continue  # uplink.py: another device's frame, or an ack
        changed_before = app.cfg.as_dict()
        reply = c.on_downlink(f)
        _settled(app, app.cfg.as_dict() != changed_before)
        out = "command"
        if reply is None:
            continue
        check(isinstance(reply, bytes), "reply not bytes", repr(reply))
        _printable_ascii(reply, "reply frame")
        content = _traccar_takes(reply)
        back = watchproto.parse(reply)
        # control.py echoes only what a frame can carry: else no index, the configured maker
        index = f.index if watchproto.is_index(f.index) else None
        maker = f.maker if watchproto.is_maker(f.maker) else app.cfg["maker"]
        check(back.maker == maker and back.index == index and back.dev_id == ID,
              "reply does not echo maker and index", "%r for %r" % (reply[:60], raw[:60]))
        check(content == back.content.decode(), "Traccar reads another content", repr(reply[:80]))
        out = "reply"
    return out
