"""The remote-control shell (firmware/control.py): a command's effects carried out, its reply
framed like the downlink, the SMS channel's PIN and lock, factory settings, a voice message."""
import support
from firmware import fsutil, watchproto
from firmware.config import Config
from firmware.contacts import Contacts
from firmware.control import Control
from firmware.fix import Fix
from firmware.telephony import Inbox

ID = "862000012345674"


class Rec:
    """Records calls of the app's parts the shell drives."""

    def __init__(self, log):
        self._log = log

    def __getattr__(self, name):
        return lambda *a: self._log.append((name,) + a)


class FakeApp:
    def __init__(self, root, **values):
        self.root = root
        self.cfg = Config.load(root)
        v = {"contacts": [{"name": "Mamma", "number": "+4791111111", "roles": ["guardian", "sos"]}],
             "country_code": "47", "pin": "4711", "server_host": "tracker.example"}
        v.update(values)
        self.cfg.update(v)
        self.cfg.save()
        self.device_id = ID
        self.did = []
        self.reporter = Rec(self.did)
        self.reporter.position_now = lambda: (Fix(0, 59923600, 10759200, True, 0, 0, 0, 0, 8), 125, None)
        self.sos = Rec(self.did)
        self.school = Rec(self.did)
        self.uplink = Rec(self.did)
        self.sent = []
        app = self

        class Tel:
            inbox = Inbox(root)

            async def send_sms(self, number, text, urgent=False, purpose="sos"):
                app.sent.append((number, text, purpose))

        self.telephony = Tel()
        self.contacts = None
        self.load_contacts()

    def load_contacts(self):
        self.contacts = Contacts(self.cfg["contacts"], self.cfg["country_code"])
        self.did.append(("load_contacts",))

    def buzz(self, ms):
        self.did.append(("buzz", ms))

    def shutdown(self, kind):
        self.did.append(("shutdown", kind))


def _down(content, maker="SG", index=None):
    return watchproto.parse(watchproto.encode(maker, ID, content, index))


def test_server_commands_take_effect_and_are_echoed_like_the_downlink():
    app = FakeApp(support.tmpdir("ctl1"))
    c = Control(app)
    with support.Events() as got:
        reply = c.on_downlink(_down("UPLOAD,60", "3G", "0001"))
    assert reply == b"[3G*862000012345674*0001*0006*UPLOAD]"  # same maker, same index
    assert app.cfg["report_interval_s"] == 60
    assert Config.load(app.root)["report_interval_s"] == 60  # saved
    assert ("replan",) in app.did and ("changed",) in app.did
    assert [k for k, f in got] == ["command_applied"]
    app.did.clear()
    assert c.on_downlink(_down("CR")) == b"[SG*862000012345674*0002*CR]"
    assert app.did == [("hurry",), ("asked",)]  # a report now, and not held for a batch
    c.on_downlink(_down("FIND"))
    assert app.did[-1] == ("buzz", 5000)
    c.on_downlink(_down("SOSCANCEL"))
    assert app.did[-1] == ("cancel",)
    # a contact added from the server reaches the whitelist at once
    c.on_downlink(_down("CONTACT,+4793333333,Bestemor,friend"))
    assert app.contacts.find("93333333").name == "Bestemor"
    # refused: nothing changes, and the server still gets an answer
    with support.Events() as got:
        reply = c.on_downlink(_down("UPLOAD,5"))
    assert reply.startswith(b"[SG*862000012345674*") and b"UPLOAD,refused," in reply
    assert app.cfg["report_interval_s"] == 60 and got[0][0] == "command_refused"
    assert b"refused" in c.on_downlink(_down("MONITOR"))


def test_a_downlink_index_that_is_not_4_hex_digits_gets_a_reply_without_it():
    # Found by tests/fuzz (downlink): "[SG*<id>**0002*CR]" parses with index "" (Traccar's own
    # rule, watch-protocol.md §2), and echoing it made encode() raise out of the receiver
    app = FakeApp(support.tmpdir("ctl6"))
    c = Control(app)
    for raw in (b"[SG*" + ID.encode() + b"**0002*CR]", b"[SG*" + ID.encode() + b"*XYZ*0002*CR]",
                b"[3G*" + ID.encode() + b"*000C45674*0002*CR]"):
        f = watchproto.parse(raw)
        assert f.index is not None and f.content == b"CR", f
        maker = raw[1:3].decode()
        assert c.on_downlink(f) == ("[%s*%s*0002*CR]" % (maker, ID)).encode()
    assert c.on_downlink(_down("CR", "SG", "00aF")) == ("[SG*%s*00aF*0002*CR]" % ID).encode()


def test_a_downlink_maker_a_frame_cannot_carry_is_not_echoed():
    # Found by tests/fuzz (downlink): "[S}*<id>*0002*CR]" parses with maker "S}", and the reply
    # echoed it: Traccar unescapes the whole frame, header too, and closes the session on "}*"
    app = FakeApp(support.tmpdir("ctl7"))
    c = Control(app)
    for maker in (b"S}", b"}}", b"S*"):
        f = watchproto.parse(b"[" + maker + b"*" + ID.encode() + b"*0002*CR]")
        assert f.maker == maker.decode() and f.content == b"CR", f
        assert c.on_downlink(f) == ("[SG*%s*0002*CR]" % ID).encode()  # the configured maker
    assert c.on_downlink(watchproto.parse(b"[a,*" + ID.encode() + b"*0002*CR]"))[:4] == b"[a,*"


def test_message_voice_and_factory():
    app = FakeApp(support.tmpdir("ctl2"), report_interval_s=120, wearer="Emma")
    c = Control(app)
    text = "Hei på deg 😊"
    hexed = "".join("%04x" % u for u in (0x48, 0x65, 0x69, 0x20, 0x70, 0xE5, 0x20, 0x64, 0x65, 0x67,
                                          0x20, 0xD83D, 0xDE0A))
    c.on_downlink(_down("MESSAGE," + hexed))
    assert app.telephony.inbox.items[-1]["text"] == text and app.telephony.inbox.items[-1]["from"] == "server"
    # TK is binary: escaped on the wire (watch-protocol.md §2), kept as the bytes it was
    voice = b"#!AMR\n" + bytes(range(256))
    frame = watchproto.encode("SG", ID, b"TK," + watchproto.escape(voice))
    assert c.on_downlink(watchproto.parse(frame)) == b"[SG*862000012345674*0004*TK,1]"
    assert fsutil.read_bytes(app.root + "/voice.amr") == voice
    # factory: every setting back to its default but those that keep the watch reachable
    c.on_downlink(_down("FACTORY"))
    cfg = Config.load(app.root)
    assert cfg["report_interval_s"] == 300 and cfg["wearer"] == "" and cfg["contacts"] == []
    assert cfg["pin"] == "4711" and cfg["server_host"] == "tracker.example"


def test_sms_commands_need_the_pin_and_wrong_ones_lock_the_channel():
    app = FakeApp(support.tmpdir("ctl3"))
    c = Control(app)
    mamma = app.contacts.find("+4791111111")

    async def main():
        assert not await c.on_sms(mamma, "Kommer du hjem?")  # not a command: an ordinary message
        assert await c.on_sms(mamma, "pw,4711,where#")
        for pin in ("1111", "1112", "1113", "1114", "1115"):
            assert await c.on_sms(mamma, "pw,%s,interval,60#" % pin)
        assert await c.on_sms(mamma, "pw,4711,interval,60#")  # locked: refused, no reply

    with support.Events() as got:
        support.run(main())
    link = "https://maps.google.com/?q=59.92360,10.75920 8m 2min ago"
    assert app.sent == [("+4791111111", link, "reply")]
    assert app.cfg["report_interval_s"] == 300
    refused = [f.get("why") for k, f in got if k == "command_refused"]
    assert refused == ["wrong PIN"] * 5 + ["locked"]
    assert "4711" not in repr(got) and "1111" not in repr(got)
