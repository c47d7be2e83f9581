"""Guardians' commands: every downlink Traccar's `watch` encoder produces (watch-protocol.md §5),
Trygg's own, the hostile and broken ones, the SMS grammar and the PIN guard. Table-driven."""
import json

import support  # noqa: F401  (first: virtual time)
from firmware import commands, config, smscodec, watchproto
from firmware.commands import PinGuard, apply_server, apply_sms, parse_sms

PIN = "908172"  # a PIN that no command below contains, so a leak would show


def _values(**changes):
    v = dict(config.DEFAULTS)
    v["country_code"] = "47"
    v["pin"] = PIN
    v["contacts"] = [
        {"name": "Mamma", "number": "+47 911 11 111", "roles": ["guardian", "sos"]},
        {"name": "Pappa", "number": "+4792222222", "roles": ["guardian", "sos"]},
        {"name": "Bestemor", "number": "93333333", "roles": ["friend"]},
    ]
    v.update(changes)
    config.check_all(v)
    return v


def _copy(v):
    return json.loads(json.dumps(v))


def _changes(before, res):
    """{key: new value} of what res changes, or None."""
    if res.values is None:
        return None
    assert sorted(res.values) == sorted(config.DEFAULTS), "values must be complete"
    config.check_all(res.values)
    return dict([(k, res.values[k]) for k in res.values if res.values[k] != before[k]])


def _sos(values):
    return [c["name"] for c in values["contacts"] if "sos" in c["roles"]]


def _by_number(values, number):
    for c in values["contacts"]:
        if c["number"] == number:
            return c
    return None


def _ok(res):
    assert res.error is None, res
    return res


def _refused(res):
    assert res.error, res
    assert res.values is None, res
    return res


# ---- every downlink Traccar's encoder produces (§5), as frames on the wire --------------------

# (frame as WatchProtocolEncoder writes it, reply, changes, actions). Frames from
# WatchProtocolEncoderTest.java (the CS maker: no decoder on the pipeline) and, for the types it
# does not test, built the same way: SG maker (3G rewritten, §5), lower-case hex length, "0001*"
# index when the watch's uplinks carry one.
TRACCAR = (
    # rebootDevice
    (b"[CS*123456789012345*0005*RESET]", "RESET", None, (("reset",),)),
    # sosNumber (the test's national number: the country code 47 makes it E.164)
    (b"[CS*123456789012345*000e*SOS1,123456789]", "SOS1", "contacts", ()),
    # voiceMessage: "2321414d520a2573", "7d5b5d2c2a" (escaped on the wire), "ff"
    (b"[CS*123456789012345*000b*TK,#!AMR\n%s]", "TK,1", None, (("voice", b"#!AMR\n%s"),)),
    (b"[CS*123456789012345*000d*TK,\x7d\x01\x7d\x02\x7d\x03\x7d\x04\x7d\x05]", "TK,1", None,
     (("voice", b"\x7d\x5b\x5d\x2c\x2a"),)),
    (b"[CS*123456789012345*0004*TK,\xff]", "TK,1", None, (("voice", b"\xff"),)),
    # message: "text" as UTF-16BE hex
    (b"[CS*123456789012345*0018*MESSAGE,0074006500780074]", "MESSAGE", None, (("message", "text"),)),
    # custom
    (b"[CS*123456789012345*001a*WORK,6-9,11-13,13-15,17-19]", "WORK",
     {"work_windows": ["6-9", "11-13", "13-15", "17-19"]}, ()),
    # setTimezone: Europe/Amsterdam, GMT+01:30, Atlantic/Azores, GMT-11:30, language 0 GMT+05:45
    (b"[CS*123456789012345*0006*LZ,,+1]", "LZ", {"tz_offset_min": 60}, ()),
    (b"[CS*123456789012345*0008*LZ,,+1.5]", "LZ", {"tz_offset_min": 90}, ()),
    (b"[CS*123456789012345*0006*LZ,,-1]", "LZ", {"tz_offset_min": -60}, ()),
    (b"[CS*123456789012345*0009*LZ,,-11.5]", "LZ", {"tz_offset_min": -690}, ()),
    (b"[CS*123456789012345*000a*LZ,0,+5.75]", "LZ", {"tz_offset_min": 345, "language": "0"}, ()),
    # the other types of the 16, as a live connection sends them
    (b"[SG*8800000015*0002*CR]", "CR", None, (("locate",),)),
    (b"[SG*8800000015*0001*0002*CR]", "CR", None, (("locate",),)),
    (b"[SG*8800000015*0009*UPLOAD,60]", "UPLOAD", {"report_interval_s": 60}, ()),
    (b"[SG*8800000015*0008*SOSSMS,0]", "SOSSMS", {"sos_sms": False}, ()),
    (b"[SG*8800000015*0008*LOWBAT,0]", "LOWBAT", {"lowbat_alarm": False}, ()),
    (b"[SG*8800000015*0008*REMOVE,1]", "REMOVE", {"remove_alarm": True}, ()),
    (b"[SG*8800000015*0008*POWEROFF]", "POWEROFF", None, (("poweroff",),)),
    (b"[SG*8800000015*0023*SILENCETIME,08:00-12:00,13:00-15:00]", "SILENCETIME",
     {"school_windows": ["Mo-Su 08:00-12:00", "Mo-Su 13:00-15:00"]}, ()),
    (b"[SG*8800000015*0010*REMIND,08:10-1-1]", "REMIND", {"reminders": ["08:10-1-1"]}, ()),
    (b"[SG*8800000015*0022*PHB,94444444,004D006F0072006D006F0072]", "PHB", "contacts", ()),
    (b"[SG*8800000015*0008*FLOWER,3]", "FLOWER", {"flowers": 3}, ()),
)


def test_every_downlink_traccar_sends_byte_for_byte():
    for frame, reply, changes, actions in TRACCAR:
        v = _values()
        f = watchproto.parse(frame)  # the frame layer undoes the §2 escapes, as Traccar's does
        res = _ok(apply_server(v, f.content))
        assert res.reply == reply, (frame, res)
        assert res.actions == actions, (frame, res)
        got = _changes(v, res)
        if changes == "contacts":
            assert list(got) == ["contacts"], (frame, got)
        else:
            assert got == changes, (frame, got)
        # the shell may decode the text first: the same answer
        try:
            text = f.content.decode()
        except UnicodeError:
            continue
        again = apply_server(v, text)
        assert (again.reply, again.actions, again.values, again.error) == \
            (res.reply, res.actions, res.values, res.error), frame


def test_replies_frame_and_are_never_uplinks_traccar_acts_on():
    contents = [watchproto.parse(t[0]).content for t in TRACCAR] + [
        "FOO", "AL,1", "UD,1", "ud", "LK,1,2,3", "TKQ", "img,1", "pulse,1", "WT", "INIT", "JXTK,1",
        "x" * 40, "!!!", "", ",,,", "CONTACTS", "STATUS", "UPLOAD,5", "SILENCETIME,99:00-10:00",
        "CONTACT,+4795555555,A{b},friend", "MONITOR,123",
    ]
    for c in contents:
        for res in (apply_server(_values(), c), apply_server(_values(contacts=[]), c)):
            frame = watchproto.encode("SG", "8800000015", res.reply, "0001")
            assert watchproto.parse(frame).content.decode() == res.reply
            head = res.reply.split(",")[0]
            assert head and head == head.upper(), res.reply
            assert head[:2] not in ("UD", "AL", "WT"), (c, res.reply)
            assert head not in ("LK", "INIT", "TKQ", "TKQ2", "IMG", "JXTK", "PULSE", "HEART", "BLOOD",
                                "BPHRT", "TEMP", "BTEMP2", "OXYGEN"), (c, res.reply)
            assert head not in ("TK", "TK2") or res.reply in ("TK,1", "TK,0")  # §4: ignored by Traccar


# ---- the conventional commands, one by one -------------------------------------------------------


def test_upload_interval():
    cases = (
        ("UPLOAD,60", 60),
        ("UPLOAD,10", 10),
        ("UPLOAD,86400", 86400),
        ("upload,3600", 3600),  # names in any case
        ("UPLOAD, 120 ", 120),  # spaces around a field
        ("UPLOAD,9", None),
        ("UPLOAD,86401", None),
        ("UPLOAD,0", None),
        ("UPLOAD,-60", None),
        ("UPLOAD,+60", None),
        ("UPLOAD,60.5", None),
        ("UPLOAD,6 0", None),
        ("UPLOAD,1e3", None),
        ("UPLOAD,", None),
        ("UPLOAD", None),
        ("UPLOAD,60,60", None),
        ("UPLOAD," + "9" * 400, None),
        ("UPLOAD,\u0666\u0660", None),  # Arabic-Indic digits: not ASCII
    )
    for content, want in cases:
        v = _values()
        res = apply_server(v, content)
        if want is None:
            _refused(res)
            assert res.reply.startswith("UPLOAD,refused,"), res
        else:
            assert _changes(v, _ok(res)) == {"report_interval_s": want}, content
            assert res.reply == "UPLOAD"
    res = _ok(apply_server(_values(), "UPLOAD,300"))  # the value it has: nothing changes
    assert res.values is None and res.reply == "UPLOAD"


def test_sos_numbers_take_their_places():
    # (command, SOS names in order after, roles of a few afterwards)
    cases = (
        ("SOS1,94444444", ["SOS 1", "Pappa"], {"+47 911 11 111": ["guardian"]}),
        ("SOS2,94444444", ["Mamma", "SOS 2"], {"+4792222222": ["guardian"]}),
        ("SOS3,94444444", ["Mamma", "Pappa", "SOS 3"], {}),
        ("SOS1,93333333", ["Bestemor", "Pappa"], {"93333333": ["sos", "friend"]}),  # keeps name
        ("SOS1,+4792222222", ["Pappa"], {"+47 911 11 111": ["guardian"]}),  # moved up, slot 2 empty
        ("SOS2,91111111", ["Mamma"], {"+4792222222": ["guardian"]}),  # Mamma moved down, alone
        ("SOS1,", ["Pappa"], {"+47 911 11 111": ["guardian"]}),  # emptied: the role goes
        ("SOS2,", ["Mamma"], {}),
        ("SOS3,", ["Mamma", "Pappa"], {}),  # nothing there: nothing changes
        ("SOS,94444444,,93333333", ["SOS 1", "Bestemor"], {"+47 911 11 111": ["guardian"]}),
        ("SOS,,,", [], {"+4792222222": ["guardian"]}),
        ("SOS,+4792222222,+4791111111,", ["Pappa", "Mamma"], {}),  # reordered
    )
    for content, names, roles in cases:
        v = _values()
        res = _ok(apply_server(v, content))
        after = res.values or v
        assert _sos(after) == names, (content, _sos(after))
        for number, want in roles.items():
            assert _by_number(after, number)["roles"] == want, (content, number)
        assert res.reply == content.split(",")[0]
    # a new SOS contact is stored in E.164 and the others keep their places
    res = apply_server(_values(), "SOS1,94444444")
    assert [c["name"] for c in res.values["contacts"]] == ["Mamma", "SOS 1", "Bestemor", "Pappa"]
    assert _by_number(res.values, "+4794444444")["roles"] == ["sos"]
    # an SOS-only contact that loses the role stays on the whitelist as a friend
    v = _values(contacts=[{"name": "Nabo", "number": "+4795555555", "roles": ["sos"]}])
    assert _ok(apply_server(v, "SOS1,")).values["contacts"][0]["roles"] == ["friend"]
    for bad in ("SOS1,12a", "SOS1,+", "SOS1,1234567890123456789012", "SOS1", "SOS1,1,2", "SOS4,94444444",
                "SOS0,94444444", "SOS,1,2", "SOS,1,2,3,4", "SOS,94444444,94444444,",
                "SOS1,+47 944", "SOS,94444444,x,93333333"):
        _refused(apply_server(_values(), bad))
    # a national number needs the country code
    res = _refused(apply_server(_values(country_code=""), "SOS1,123456789"))
    assert "country code" in res.error


def test_alarm_switches():
    for name, key in (("SOSSMS", "sos_sms"), ("LOWBAT", "lowbat_alarm"), ("REMOVE", "remove_alarm"),
                      ("PEDO", "pedometer"), ("SCHOOLRING", "school_guardian_rings")):
        for arg, want in (("0", False), ("1", True)):
            v = _values()
            res = _ok(apply_server(v, "%s,%s" % (name, arg)))
            assert (res.values or v)[key] is want and res.reply == name
        for bad in ("2", "", "true", "01", "1,1"):
            _refused(apply_server(_values(), "%s,%s" % (name, bad)))
        _refused(apply_server(_values(), name))


def test_silencetime_is_every_day():
    cases = (
        ("SILENCETIME,", []),
        ("SILENCETIME,00:00-00:00", []),
        ("SILENCETIME,00:00-00:00,00:00-00:00,00:00-00:00,00:00-00:00", []),
        ("SILENCETIME,08:00-12:00", ["Mo-Su 08:00-12:00"]),
        ("SILENCETIME,00:02-06:22,22:00-23:00,18:00-19:00", ["Mo-Su 00:02-06:22", "Mo-Su 22:00-23:00",
                                                             "Mo-Su 18:00-19:00"]),
        ("SILENCETIME,22:00-06:00,00:00-00:00", ["Mo-Su 22:00-06:00"]),  # crosses midnight
        ("SILENCETIME,08:00-12:00, 13:00-15:00", ["Mo-Su 08:00-12:00", "Mo-Su 13:00-15:00"]),
    )
    for content, want in cases:
        v = _values(school_windows=["Mo-Fr 08:00-14:00"])
        assert (_ok(apply_server(v, content)).values or v)["school_windows"] == want, content
    for bad in ("SILENCETIME", "SILENCETIME,8:00-12:00", "SILENCETIME,24:00-12:00", "SILENCETIME,08:60-12:00",
                "SILENCETIME,08:00_12:00", "SILENCETIME,Mo-Fr 08:00-12:00",
                "SILENCETIME," + ",".join(["08:%02d-09:00" % i for i in range(17)])):
        _refused(apply_server(_values(), bad))


def test_remind():
    cases = (
        ("REMIND,08:10-1-1,08:10-1-2, 08:10-1-3-0111110", ["08:10-1-1", "08:10-1-2", "08:10-1-3-0111110"]),
        ("REMIND,", []),
        ("REMIND,07:00-0-2,,", ["07:00-0-2"]),
        ("REMIND," + ",".join(["0%d:00-1-2" % i for i in range(8)]), ["0%d:00-1-2" % i for i in range(8)]),
    )
    for content, want in cases:
        v = _values(reminders=["06:00-1-2"])
        assert _ok(apply_server(v, content)).values["reminders"] == want, content
    for bad in ("REMIND", "REMIND,8:10-1-1", "REMIND,08:10-2-1", "REMIND,08:10-1-4", "REMIND,08:10-1-3",
                "REMIND,08:10-1-3-011111", "REMIND,08:10-1-3-0121110", "REMIND,24:00-1-1", "REMIND,08:10",
                "REMIND,08:10-1-1-1", "REMIND," + ",".join(["0%d:00-1-2" % i for i in range(9)])):
        _refused(apply_server(_values(), bad))


def test_phonebook_and_whitelists_add_friends():
    v = _values()
    # the vendors' form: five places, unused ones empty; an existing number gets the new name
    res = _ok(apply_server(v, "PHB,94444444,004D006F0072006D006F0072,91111111,004D006F0072,,,,,,"))
    assert res.reply == "PHB"
    assert _by_number(res.values, "+4794444444") == {"name": "Mormor", "number": "+4794444444",
                                                      "roles": ["friend"]}
    assert _by_number(res.values, "+47 911 11 111") == {"name": "Mor", "number": "+47 911 11 111",
                                                         "roles": ["guardian", "sos"]}
    assert len(res.values["contacts"]) == 4
    # names: surrogate pairs, any script; an empty name is the number
    res = _ok(apply_server(v, "PHB2,95555555,0042D83CDF37,96666666,"))
    assert _by_number(res.values, "+4795555555")["name"] == "B\U0001f337"
    assert _by_number(res.values, "+4796666666")["name"] == "+4796666666"
    res = _ok(apply_server(v, "WHITELIST1,94444444,95555555,,,"))
    assert [c["name"] for c in res.values["contacts"]][3:] == ["+4794444444", "+4795555555"]
    assert res.reply == "WHITELIST1"
    res = _ok(apply_server(v, "WHITELIST2,91111111"))  # already there: nothing changes
    assert res.values is None and res.reply == "WHITELIST2"
    for bad in ("PHB", "PHB,", "PHB,94444444", "PHB,94444444,004D,95555555", "PHB,94444444,004",
                "PHB,94444444,zz4D", "PHB,94444444,0022", "PHB,94444444,000A", "PHB,9444x444,004D",
                "PHB,94444444," + "0041" * 40, "WHITELIST1", "WHITELIST1,1,2,3,4,5,6", "WHITELIST1,12ab"):
        _refused(apply_server(v, bad))
    # at most 50 contacts in all: the command that would pass it changes nothing
    many = [{"name": "F%d" % i, "number": "+4740000%03d" % i, "roles": ["friend"]} for i in range(49)]
    full = _values(contacts=many)
    _ok(apply_server(full, "WHITELIST1,94444444"))
    res = _refused(apply_server(full, "WHITELIST1,94444444,95555555"))
    assert "50" in res.error


def test_center_makes_a_guardian():
    v = _values()
    res = _ok(apply_server(v, "CENTER,93333333"))
    assert _by_number(res.values, "93333333")["roles"] == ["guardian", "friend"]
    res = _ok(apply_server(v, "CENTER,+4792222222"))  # already one, and stays SOS
    assert res.values is None
    res = _ok(apply_server(v, "CENTER,94444444"))
    assert _by_number(res.values, "+4794444444") == {"name": "Guardian", "number": "+4794444444",
                                                      "roles": ["guardian"]}
    for bad in ("CENTER", "CENTER,", "CENTER,1,2", "CENTER,abc"):
        _refused(apply_server(v, bad))


def test_lz_time_zone():
    cases = (
        ("LZ,,+1", "", 60),
        ("LZ,,+0", "", 0),
        ("LZ,,-0", "", 0),
        ("LZ,,+.5", "", 30),  # DecimalFormat "+#.##" writes half an hour without the 0
        ("LZ,,+5.5", "", 330),
        ("LZ,,+5.75", "", 345),
        ("LZ,,+8.75", "", 525),
        ("LZ,,+12.75", "", 765),
        ("LZ,,+14", "", 840),
        ("LZ,,-12", "", -720),
        ("LZ,,-9.5", "", -570),
        ("LZ,,-3.50", "", -210),
        ("LZ,,2", "", 120),
        ("LZ,en,+1", "en", 60),
        ("LZ,5,+11.5", "5", 690),  # SeTracker's form (issue #2702)
    )
    for content, lang, minutes in cases:
        v = _values(language="de", tz_rule="EU")
        after = _ok(apply_server(v, content)).values or v
        assert after["tz_offset_min"] == minutes, content
        assert after["language"] == (lang or "de"), content  # empty: not given, kept
        assert after["tz_rule"] == "EU"  # LZ carries no rule
    for bad in ("LZ", "LZ,", "LZ,,", "LZ,,+1.1", "LZ,,+1.33", "LZ,,+1.", "LZ,,.", "LZ,,+", "LZ,,+-1",
                "LZ,,+100", "LZ,,+1.255", "LZ,,+15", "LZ,,-12.25", "LZ,,one", "LZ,,+1,x",
                "LZ,toolonglang,+1", "LZ,e n,+1", "LZ,,+1:30"):
        _refused(apply_server(_values(), bad))


def test_flower_find_factory_work():
    v = _values()
    assert _ok(apply_server(v, "FLOWER,99")).values["flowers"] == 99
    assert _ok(apply_server(v, "FLOWER,0")).values is None
    for bad in ("FLOWER,100", "FLOWER,-1", "FLOWER,x", "FLOWER", "FLOWER,1,2"):
        _refused(apply_server(v, bad))
    _refused(apply_server(v, "FACTORY,1"))
    for content, action in (("FIND", "find"), ("RESET", "reset"),
                            ("POWEROFF", "poweroff"), ("CR", "locate"), ("SOSCANCEL", "sos_cancel")):
        res = _ok(apply_server(v, content))
        assert res.actions == ((action,),) and res.values is None and res.reply == content
        _refused(apply_server(v, content + ",1"))
    # FACTORY: every setting back to its default, but what reaches the watch at all
    worn = _values(report_interval_s=60, wearer="Emma", server_host="t.example", pin="4711",
                   school_windows=["Mo-Fr 08:00-14:00"])
    res = _ok(apply_server(worn, "FACTORY"))
    expect = dict(config.DEFAULTS)
    expect.update({"server_host": "t.example", "pin": "4711"})
    assert res.values == expect and res.actions == (("factory",),)
    assert _ok(apply_server(v, "WORK,22-6")).values["work_windows"] == ["22-6"]
    assert _ok(apply_server(_values(work_windows=["6-9"]), "WORK,")).values["work_windows"] == []
    assert _ok(apply_server(v, "WORKTIME,30")).values["work_time_min"] == 30
    for bad in ("WORK,6", "WORK,6-6", "WORK,6-25", "WORK,a-b", "WORK," + ",".join(["1-2"] * 9),
                "WORKTIME,1441", "WORKTIME,", "WORKTIME,x"):
        _refused(apply_server(v, bad))


def test_message_and_voice():
    cases = (
        ("MESSAGE,0074006500780074", "text"),
        ("MESSAGE,00480065006A0021", "Hej!"),
        ("MESSAGE,00e600f800e5", "\u00e6\u00f8\u00e5"),  # lower- and upper-case hex alike
        ("MESSAGE,D83DDE00", "\U0001f600"),  # a surrogate pair
        ("MESSAGE,0061000A0062", "a\nb"),  # the guardian's newline is kept
        ("MESSAGE,00610009000D0062", "a  b"),  # other control characters are not
    )
    for content, text in cases:
        res = _ok(apply_server(_values(), content))
        assert res.actions == (("message", text),) and res.values is None, content
    for bad in ("MESSAGE", "MESSAGE,", "MESSAGE,007", "MESSAGE,00740065007", "MESSAGE,007G",
                "MESSAGE,0074,0065", "MESSAGE,text", "MESSAGE," + "0041" * 260):
        res = _refused(apply_server(_values(), bad))
        assert res.actions == ()
    # voice: at most 16 KiB after unescaping; never played (only kept: no speaker)
    big = b"#!AMR\n" + b"\x00" * (16384 - 6)
    res = _ok(apply_server(_values(), b"TK," + big))
    assert res.actions == (("voice", big),) and res.reply == "TK,1"
    for bad in (b"TK", b"TK,", b"TK," + big + b"\x00"):
        res = _refused(apply_server(_values(), bad))
        assert res.reply == "TK,0" and res.actions == ()
    frame = watchproto.encode("SG", "8800000015", b"TK," + watchproto.escape(b"}}\x01,*[]"))
    res = _ok(apply_server(_values(), watchproto.parse(frame).content))
    assert res.actions == (("voice", b"}}\x01,*[]"),)  # the escapes undone once, by the frame layer


# ---- Trygg's own ----------------------------------------------------------------------------------


def test_contact_add_update_remove_list():
    v = _values()
    cases = (
        ("CONTACT,94444444,Mormor", {"name": "Mormor", "number": "+4794444444", "roles": ["friend"]}),
        ("CONTACT,+4794444444,Mormor,guardian+sos", {"name": "Mormor", "number": "+4794444444",
                                                     "roles": ["guardian", "sos"]}),
        ("CONTACT,94444444,,sos+friend", {"name": "+4794444444", "number": "+4794444444",
                                          "roles": ["sos", "friend"]}),
        ("contact,94444444,Mor Mor,FRIEND", {"name": "Mor Mor", "number": "+4794444444",
                                             "roles": ["friend"]}),
    )
    for content, entry in cases:
        res = _ok(apply_server(v, content))
        assert res.values["contacts"][3] == entry, (content, res.values["contacts"])
        assert res.reply == "CONTACT"
    # an existing contact: a name or roles left out are kept
    res = _ok(apply_server(v, "CONTACT,91111111,Mor"))
    assert res.values["contacts"][0] == {"name": "Mor", "number": "+47 911 11 111",
                                         "roles": ["guardian", "sos"]}
    res = _ok(apply_server(v, "CONTACT,91111111,,friend"))
    assert res.values["contacts"][0] == {"name": "Mamma", "number": "+47 911 11 111", "roles": ["friend"]}
    for bad in ("CONTACT", "CONTACT,94444444", "CONTACT,94444444,A,friend,x", "CONTACT,94444444,A,boss",
                "CONTACT,94444444,A,friend+friend", "CONTACT,94444444,A,", "CONTACT,94444444," + "A" * 33,
                "CONTACT,94444444,A\"B", "CONTACT,x,A"):
        res = apply_server(v, bad)
        if bad == "CONTACT,94444444,A,":  # empty roles: a new contact is a friend
            assert _ok(res).values["contacts"][3]["roles"] == ["friend"]
            continue
        _refused(res)
    res = _ok(apply_server(v, "CONTACTDEL,93333333"))
    assert [c["name"] for c in res.values["contacts"]] == ["Mamma", "Pappa"]
    assert _refused(apply_server(v, "CONTACTDEL,94444444")).error == "not in the contacts"
    _refused(apply_server(v, "CONTACTDEL"))
    res = _ok(apply_server(_values(contacts=[{"name": "Bestem\u00f8r", "number": "+4793333333",
                                               "roles": ["friend"]}] + v["contacts"][:2]), "CONTACTS"))
    assert res.reply == ("CONTACTS,3,+4793333333,Bestem?r,friend,+47 911 11 111,Mamma,guardian+sos,"
                         "+4792222222,Pappa,guardian+sos")
    assert _ok(apply_server(_values(contacts=[]), "CONTACTS")).reply == "CONTACTS,0"


def test_school_commands():
    v = _values()
    for arg in ("on", "off", "auto", "ON"):
        res = _ok(apply_server(v, "SCHOOL," + arg))
        assert (res.values or v)["school_mode"] == arg.lower()
    _refused(apply_server(v, "SCHOOL,maybe"))
    _refused(apply_server(v, "SCHOOL"))
    res = _ok(apply_server(v, "SCHOOLTIME,Mo-Fr 08:00-14:00,Mo+We  14:00-15:00,Sa-Su 22:00-07:00"))
    assert res.values["school_windows"] == ["Mo-Fr 08:00-14:00", "Mo,We 14:00-15:00", "Sa-Su 22:00-07:00"]
    assert _ok(apply_server(_values(school_windows=["Mo 08:00-09:00"]), "SCHOOLTIME,")).values[
        "school_windows"] == []
    for bad in ("SCHOOLTIME,Mo-Fr", "SCHOOLTIME,Xx 08:00-09:00", "SCHOOLTIME,Mo 08:00-08:00",
                "SCHOOLTIME,08:00-09:00"):
        _refused(apply_server(v, bad))
    for arg, want in (("EU", "EU"), ("us", "US"), ("NONE", ""), ("", "")):
        res = _ok(apply_server(_values(tz_rule="EU"), "TZRULE," + arg))
        assert (res.values or {"tz_rule": "EU"})["tz_rule"] == want
    _refused(apply_server(v, "TZRULE,AU"))


def test_status_reads_back_without_the_pin():
    v = _values(school_windows=["Mo,We 08:00-14:00"], tz_offset_min=-210, tz_rule="US")
    res = _ok(apply_server(v, "STATUS"))
    assert res.values is None and res.actions == ()
    assert res.reply.startswith("STATUS,interval=300,school=auto,")
    for part in ("windows=Mo+We 08:00-14:00", "tz=-03:30", "tzrule=US", "sos=+4791111111;+4792222222",
                 "contacts=3", "guardians=2", "sms=on"):
        assert part in res.reply.split(","), (part, res.reply)
    assert PIN not in res.reply
    assert "sms=off" in apply_server(_values(pin=""), "STATUS").reply
    assert res.reply.endswith(",zones=0")
    home = {"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}
    assert apply_server(_values(zones=[home]), "STATUS").reply.endswith(",zones=1")


# ---- malformed and hostile -----------------------------------------------------------------------

HOSTILE = (
    # unknown commands: an echo of the name, bounded and sanitised, never an uplink type (§4)
    ("FOO", "FOO,refused,unknown command"),
    ("foo,1,2", "FOO,refused,unknown command"),
    ("A" * 40, "A" * 16 + ",refused,unknown command"),
    ("F-O.O!,1", "FOO,refused,unknown command"),
    ("AL,1", "UNKNOWN,refused,unknown command"),
    ("LK", "UNKNOWN,refused,unknown command"),
    ("UD_LTE,1", "UNKNOWN,refused,unknown command"),
    ("img", "UNKNOWN,refused,unknown command"),
    (",60", "UNKNOWN,refused,unknown command"),
    ("", "UNKNOWN,refused,unknown command"),
    # remote listening: banned whatever the arguments (Bundesnetzagentur 2017)
    ("MONITOR", "MONITOR,refused,remote listening is banned (children's watch)"),
    ("MONITOR,91111111", "MONITOR,refused,remote listening is banned (children's watch)"),
    ("monitor,1", "MONITOR,refused,remote listening is banned (children's watch)"),
    ("LISTEN", "LISTEN,refused,remote listening is banned (children's watch)"),
    ("LISTEN,91111111", "LISTEN,refused,remote listening is banned (children's watch)"),
    ("CALL,91111111", "CALL,refused,remote listening is banned (children's watch)"),
    # Traccar would have replaced these: a literal one is a broken command
    ("UPLOAD,{uniqueId}", "UPLOAD,refused,a (uniqueId) left in the text (Traccar should have replaced it)"),
    ("UPLOAD,60%", "UPLOAD,refused,a percent sign in the text"),
    ("MESSAGE,%s", "MESSAGE,refused,a percent sign in the text"),
    ("PHB,91111111,{", "PHB,refused,a brace in the text"),
    ("CR\n", "CR,refused,control character"),
    ("UPLOAD,60\r", "UPLOAD,refused,control character"),
    ("UPLOAD,\x0060", "UPLOAD,refused,control character"),
    ("CONTACT,94444444,Ren\u00e9", "CONTACT,refused,not ASCII"),
    ("UPLOAD,[60]", "UPLOAD,refused,a bracket in the text"),
    ("UPLOAD,6*0", "UPLOAD,refused,a star in the text"),
    ("UPLOAD," + "6" * 2000, "UPLOAD,refused,longer than 1024 bytes"),
    ("PHB," + "91111111,0041," * 100, "PHB,refused,longer than 1024 bytes"),
)


def test_malformed_and_hostile_are_refused_whole():
    for content, reply in HOSTILE:
        for c in (content, content.encode()):
            v = _values()
            before = _copy(v)
            res = _refused(apply_server(v, c))
            assert res.reply == reply, (content, res.reply)
            assert res.actions == ()
            assert v == before  # the caller's settings are untouched
    for c in (None, 60, ["CR"], b"CR\xff", bytearray(b"UPLOAD,60")):
        res = apply_server(_values(), c)
        if isinstance(c, bytearray):
            assert _ok(res).values["report_interval_s"] == 60
        else:
            _refused(res)


def test_a_refused_command_is_never_half_applied():
    cases = (
        "PHB,94444444,004D,95555555,zz",  # the second name is bad
        "PHB,94444444,004D,9555x555,004D",
        "SOS,94444444,95555555,x",
        "WHITELIST1,94444444,95555555,9666x666",
        "SILENCETIME,08:00-12:00,25:00-26:00",
        "REMIND,08:10-1-1,08:10-9-9",
        "WORK,6-9,9-9",
        "SCHOOLTIME,Mo 08:00-09:00,Zz 08:00-09:00",
        "LZ,toolonglanguage,+1",  # the offset alone would be fine
        "CONTACT,94444444,Mormor,friend+boss",
    )
    for content in cases:
        v = _values()
        before = _copy(v)
        _refused(apply_server(v, content))
        assert v == before, content


def test_values_are_a_complete_copy():
    v = _values()
    before = _copy(v)
    res = _ok(apply_server(v, "SOS1,94444444"))
    assert v == before  # the caller's contact dicts were not touched
    assert sorted(res.values) == sorted(config.DEFAULTS)
    assert res.values["report_interval_s"] == v["report_interval_s"]
    res.values["contacts"][0]["roles"].append("friend")
    assert v == before
    # a dict that lacks a key (an older caller) is completed with the defaults
    partial = dict(v)
    del partial["flowers"]
    res = _ok(apply_server(partial, "UPLOAD,60"))
    assert res.values["flowers"] == 0 and sorted(res.values) == sorted(config.DEFAULTS)


def test_new_settings_validate():
    for key, value in (("sos_sms", 1), ("flowers", 100), ("flowers", -1), ("work_time_min", 1441),
                       ("reminders", ["08:10-1-1"] * 9), ("reminders", ["8:10-1-1"]), ("reminders", [1]),
                       ("work_windows", ["6-9"] * 9), ("work_windows", ["24-1"]), ("work_windows", "6-9"),
                       ("pedometer", "1"), ("remove_alarm", None), ("lowbat_alarm", 0)):
        e = support.raises(config.ConfigError, config.check, key, value)
        assert e.field == key
    assert config.DEFAULTS["sos_sms"] is True and config.DEFAULTS["lowbat_alarm"] is True
    assert config.DEFAULTS["remove_alarm"] is False and config.DEFAULTS["pedometer"] is False


# ---- SMS ------------------------------------------------------------------------------------------


def test_parse_sms():
    cases = (
        ("pw,%s,where#" % PIN, (PIN, "where")),
        ("PW,%s,where" % PIN, (PIN, "where")),
        ("Pw,1234,interval,60#", ("1234", "interval,60")),
        ("  pw , 1234 , add,91111111,Mormor # \n", ("1234", "add,91111111,Mormor")),
        ("pw,1234,where##", ("1234", "where")),
        ("pw,0000,help", ("0000", "help")),
        ("pw,1234#", None),
        ("pw,1234,#", None),
        ("pw,,where", None),
        ("pw,12a4,where", None),
        ("pw,12345678901234567,where", None),
        ("pw1234,where", None),
        ("password,1234,where", None),
        ("where", None),
        ("", None),
        ("Hei! Kommer du hjem til middag?", None),
        ("pw,1234,where" + " " * 600, None),
        (None, None),
    )
    for text, want in cases:
        assert parse_sms(text) == want, (text, parse_sms(text))


def test_sms_grammar():
    cases = (
        ("where", None, (("where",),), ""),
        (" WHERE ", None, (("where",),), ""),
        ("interval,60", {"report_interval_s": 60}, (), "OK: report every 60 s"),
        ("Interval, 120", {"report_interval_s": 120}, (), "OK: report every 120 s"),
        ("add,94444444,Mormor", {"contacts": 4}, (), "OK: Mormor +4794444444 friend"),
        ("add,+47 944 44 444,Mormor,guardian+sos", {"contacts": 4}, (),
         "OK: Mormor +4794444444 guardian+sos"),
        ("add,0047-944-44-444,Mormor,friend", {"contacts": 4}, (), "OK: Mormor +4794444444 friend"),
        ("add,93333333,Oldemor", {"contacts": 3}, (), "OK: Oldemor +4793333333 friend"),
        ("add,91111111,Mor", {"contacts": 3}, (), "OK: Mor +4791111111 guardian+sos"),  # roles kept
        ("remove,93333333", {"contacts": 2}, (), "OK: removed +4793333333"),
        ("remove,+47 922 22 222", {"contacts": 2}, (), "OK: removed +4792222222"),
        ("school,on", {"school_mode": "on"}, (), "OK: school mode on"),
        ("SCHOOL,Off", {"school_mode": "off"}, (), "OK: school mode off"),
        ("school,auto", None, (), "OK: school mode auto"),
        ("sos,off", None, (("sos_cancel",),), "OK: SOS ended (if one was running)"),
        ("cancel", None, (("sos_cancel",),), "OK: SOS ended (if one was running)"),
        ("help", None, (), commands.HELP),
        ("status", None, (), "Every 300 s. School auto, 0 windows. TZ +00:00 no DST. SOS: Mamma, Pappa. "
                             "Contacts 3."),
    )
    for text, changes, actions, reply in cases:
        v = _values()
        res = _ok(apply_sms(v, text))
        assert res.reply == reply, (text, res.reply)
        assert res.actions == actions, text
        got = _changes(v, res)
        if changes and "contacts" in changes:
            assert len(res.values["contacts"]) == changes["contacts"], text
        else:
            assert got == changes, (text, got)


def test_sms_refusals_say_why():
    cases = (
        ("where,now", "Refused: 0 arguments expected, not 1"),
        ("interval,5", "Refused: report_interval_s: must be 10..86400, not 5"),
        ("interval,fast", "Refused: interval: 1 to 6 digits"),
        ("interval", "Refused: 1 argument expected, not 0"),
        ("add,94444444", "Refused: 2 to 3 arguments expected, not 1"),
        ("add,94444444,", "Refused: name: empty"),
        ("add,94444444,Mormor,boss", "Refused: roles: guardian, sos or friend, joined with +"),
        ("add,9444x444,Mormor", "Refused: number: only digits, a leading '+' and the separators ' -.()'"),
        ("add,94444444,Mor\"mor", "Refused: contacts: contacts(3).name: no control characters, commas or "
                                  "double quotes"),
        ("remove,94444444", "Refused: +4794444444 is not in the contacts"),
        ("school,maybe", "Refused: school,on or school,off or school,auto"),
        ("sos,on", "Refused: sos,off ends an SOS"),
        ("monitor,91111111", "Refused: remote listening is banned (children's watch)"),
        ("listen", "Refused: remote listening is banned (children's watch)"),
        ("call,91111111", "Refused: remote listening is banned (children's watch)"),
        ("UPLOAD,60", "Refused: unknown command; send help"),
        ("where\x00", "Refused: control character"),
        ("add," + "9" * 200, "Refused: too long"),
    )
    for text, reply in cases:
        v = _values()
        res = _refused(apply_sms(v, text))
        assert res.reply == reply, (text, res.reply)
    # SMS cannot take away the last guardian (SMS control would be gone for good)
    one = _values(contacts=[{"name": "Mamma", "number": "+4791111111", "roles": ["guardian", "sos"]},
                            {"name": "Bestemor", "number": "+4793333333", "roles": ["friend"]}])
    for text in ("remove,91111111", "add,91111111,Mamma,friend+sos"):
        assert _refused(apply_sms(one, text)).error == "the last guardian cannot be removed by SMS"
    _ok(apply_sms(_values(), "remove,91111111"))  # another guardian remains
    # no PIN set: SMS commands are off, whatever the shell did
    assert _refused(apply_sms(_values(pin=""), "where")).error == "SMS commands are off"


def test_sms_replies_fit_one_sms():
    assert smscodec.septets(commands.HELP) <= 160
    long_names = [{"name": "\u00d8" + "x" * 31, "number": "+474000000%d" % i, "roles": ["sos"]}
                  for i in range(5)]
    texts = ("help", "status", "add,94444444," + "M\u00f8" * 16 + ",guardian+sos", "add,94444444," + "M" * 33,
             "interval,99999999", "remove,9" + "1" * 14, "where", "no such command at all")
    for values in (_values(), _values(contacts=long_names)):
        for text in texts:
            res = apply_sms(values, text)
            smscodec.encode_sms(res.reply)  # raises if it does not fit one SMS
            assert PIN not in res.reply and PIN not in (res.error or "")


def test_the_pin_never_leaks():
    contents = [t[0] for t in TRACCAR] + [c for c, _ in HOSTILE] + ["STATUS", "CONTACTS"]
    for c in contents:
        res = apply_server(_values(), c)
        assert PIN not in res.reply and PIN not in (res.error or ""), c
    for text in ("status", "help", "add,94444444,%s" % "x", "interval,%s" % "0"):
        res = apply_sms(_values(), text)
        assert PIN not in res.reply and PIN not in (res.error or ""), text


# ---- PIN guard ----------------------------------------------------------------------------------

T0 = 838000000  # epoch-2000 seconds: 2026-07-22 01:46:40 UTC, off the clock hour


def test_five_wrong_pins_in_an_hour_lock_everyone_for_an_hour():
    g = PinGuard()
    assert g.allowed(T0)
    assert [g.wrong("+4791111111", T0 + i * 899) for i in range(5)] == [False] * 4 + [True]
    locked = T0 + 4 * 899
    for number_time in (locked, locked + 1, locked + 3599):
        assert not g.allowed(number_time)  # for every number: the guard does not even ask
    assert not g.wrong("+4792222222", locked + 10)  # while locked nothing counts or extends it
    assert g.allowed(locked + 3600)
    assert g.tracked() == 0  # a fresh start after the lock
    assert not g.wrong("+4791111111", locked + 3600)


def test_wrong_pins_spread_over_more_than_an_hour_do_not_lock():
    g = PinGuard()
    # a sliding hour, not the clock hour (T0 is 01:46:40): an attempt leaves it 3600 s later
    times = [T0, T0 + 900, T0 + 1800, T0 + 2700, T0 + 3600]  # the first has just left the hour
    assert [g.wrong("+4791111111", t) for t in times] == [False] * 5
    assert g.allowed(T0 + 3600)
    assert g.wrong("+4791111111", T0 + 3601)  # the 5th within T0+900 .. T0+3601


def test_counts_are_per_number_and_a_right_pin_clears_its_own():
    g = PinGuard()
    for i in range(4):
        assert not g.wrong("+4791111111", T0 + i)
        assert not g.wrong("+4792222222", T0 + i)
    assert g.allowed(T0 + 10)  # 4 + 4 from two numbers: no lock
    g.right("+4791111111", T0 + 11)
    for i in range(4):
        assert not g.wrong("+4791111111", T0 + 20 + i)  # counting from 0 again
    assert g.wrong("+4792222222", T0 + 30)  # the 5th from this one locks everyone
    assert not g.allowed(T0 + 31)


def test_memory_is_bounded_and_the_oldest_number_is_forgotten():
    g = PinGuard()
    for i in range(4):
        g.wrong("+4790000000", T0 + i)  # 4 wrong: one away from the lock
    for n in range(1, 20):
        g.wrong("+479000000%02d" % n, T0 + 100 + n)
        assert g.tracked() <= 8
    assert not g.wrong("+4790000000", T0 + 200)  # its count was forgotten: 1 now, no lock
    assert g.allowed(T0 + 200)
    g2 = PinGuard()
    g2.wrong("+47" + "9" * 100, T0)  # keys are bounded too
    assert g2.tracked() == 1


def test_a_clock_set_back_neither_ends_nor_stretches_the_lock():
    g = PinGuard()
    for i in range(5):
        g.wrong("+4791111111", T0 + i)
    assert not g.allowed(T0 - 86400)  # the network time moved a day back: still locked
    assert not g.allowed(T0 - 86400 + 3599)
    assert g.allowed(T0 - 86400 + 3600)  # an hour from the jump, not a day and an hour
    g = PinGuard()
    for i in range(4):
        g.wrong("+4791111111", T0 + i)
    assert g.wrong("+4791111111", T0 - 5000)  # wrong PINs "from the future" still count


# ---- safe zones (Trygg's own) ---------------------------------------------------------------------

_HOME = {"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}
_SCHOOL = {"name": "school", "poly": [[59917000, 10764000], [59918000, 10764000], [59918000, 10766000],
                                      [59917000, 10766000]]}


def test_zone_circle_polygon_replace_delete_list():
    v = _values()
    res = _ok(apply_server(v, "ZONE,home,59.9236,10.7592,150"))
    assert res.reply == "ZONE" and res.actions == ()
    assert _changes(v, res) == {"zones": [_HOME]}
    res = _ok(apply_server(v, "zone, school ,59.917,10.764,59.918,10.764,59.918,10.766,59.917,10.766"))
    assert _changes(v, res) == {"zones": [_SCHOOL]}
    # negative degrees, and a polygon across the antimeridian
    res = _ok(apply_server(v, "ZONE,Sydney,-33.8688,151.2093,500"))
    assert res.values["zones"] == [{"name": "Sydney", "lat": -33868800, "lon": 151209300, "r": 500}]
    res = _ok(apply_server(v, "ZONE,fiji,-16.5,179.999,-16.5,-179.999,-16.49,179.999"))
    assert res.values["zones"][0]["poly"] == [[-16500000, 179999000], [-16500000, -179999000],
                                              [-16490000, 179999000]]
    # the same name in any case replaces that zone in its place
    v2 = _values(zones=[_HOME, _SCHOOL])
    res = _ok(apply_server(v2, "ZONE,SCHOOL,59.9,10.7,200"))
    assert res.values["zones"] == [_HOME, {"name": "SCHOOL", "lat": 59900000, "lon": 10700000, "r": 200}]
    res = _ok(apply_server(v2, "ZONE,Home,59.9,10.7,59.91,10.7,59.9,10.71"))
    assert res.values["zones"] == [{"name": "Home", "poly": [[59900000, 10700000], [59910000, 10700000],
                                                             [59900000, 10710000]]}, _SCHOOL]
    assert _ok(apply_server(v2, "ZONE,home,59.9236,10.7592,150")).values is None  # the same: no change
    # delete
    res = _ok(apply_server(v2, "ZONEDEL,HOME"))
    assert res.reply == "ZONEDEL" and res.values["zones"] == [_SCHOOL]
    assert _refused(apply_server(v2, "ZONEDEL,park")).reply == "ZONEDEL,refused,no such zone"
    _refused(apply_server(v2, "ZONEDEL"))
    _refused(apply_server(v2, "ZONEDEL,home,school"))
    # the list
    res = _ok(apply_server(v2, "ZONES"))
    assert res.values is None and res.reply == "ZONES,2,home,circle,59.9236,10.7592,150,school,poly,4"
    res = _ok(apply_server(_values(zones=[{"name": "x", "lat": -500000, "lon": 10000000, "r": 20}]), "ZONES"))
    assert res.reply == "ZONES,1,x,circle,-0.5,10,20"
    assert _ok(apply_server(v, "ZONES")).reply == "ZONES,0"
    _refused(apply_server(v, "ZONES,1"))


def test_zone_refusals_change_nothing():
    eight = [{"name": "z%d" % i, "lat": 59900000 + i * 10000, "lon": 10700000, "r": 100} for i in range(8)]
    cases = (
        ("ZONE,home,59.9236,10.7592,19", "zones: [0] (home): r: 20..50000 metres"),
        ("ZONE,home,59.9236,10.7592,50001", "r: 20..50000"),
        ("ZONE,home,59.9236,10.7592,150.5", "radius: 1 to 5 digits"),
        ("ZONE,home,59.9236,10.7592,-150", "radius: 1 to 5 digits"),
        ("ZONE,home,59.9236,10.7592,", "radius: 1 to 5 digits"),
        ("ZONE,s,59.9,10.7,59.91,10.7", "a polygon needs 3 to 32 vertices"),  # 2 vertices
        ("ZONE,s,59.9,10.7,59.91,10.7,59.9", "an even count of numbers"),
        ("ZONE,s" + ",59.9,10.7" * 33, "a polygon needs 3 to 32 vertices"),
        ("ZONE,home,59.9236,10.7592", "name,lat,lon,radius (a circle)"),
        ("ZONE,home", "name,lat,lon,radius"),
        ("ZONE", "name,lat,lon,radius"),
        ("ZONE,home,59.92.36,10.7592,150", "lat: degrees like 59.9236"),
        ("ZONE,home,N59.9236,10.7592,150", "lat: degrees like 59.9236"),
        ("ZONE,home,59.9236,1e1,150", "lon: degrees like 59.9236"),
        ("ZONE,home,,10.7592,150", "lat: degrees like 59.9236"),
        ("ZONE,home,59.9236,10.75920000000000000001,150", "lon: degrees"),
        ("ZONE,s,59.9,10.7,59.91,10.7,59.9,x", "lon3: degrees like 59.9236"),
        ("ZONE,home,90.5,10.7592,150", "zones: [0] (home): centre: lat -90..90"),
        ("ZONE,home,59.9236,-180.1,150", "centre: lat -90..90, lon -180..180"),
        ("ZONE,home,89,10,150", "beyond 85 degrees"),
        ("ZONE,s,59.9,10.7,60.4,10.7,59.9,10.71", "poly spans more than 50 km"),
        ("ZONE,s,59.9,10.7,59.9,10.7,59.9,10.7", "poly has no area"),
        ("ZONE,,59.9236,10.7592,150", "zones: [0]: name: 1..20"),
        ("ZONE," + "n" * 21 + ",59.9236,10.7592,150", "name: 1..20"),
        ("ZONE,a'b,59.9236,10.7592,150", "name: printable ASCII"),
    )
    for content, why in cases:
        v = _values()
        before = _copy(v)
        res = _refused(apply_server(v, content))
        assert why in res.error, (content, res.error)
        assert res.reply.startswith("ZONE") and ",refused," in res.reply
        assert v == before, content
    # a 9th zone is refused; replacing one of eight is not
    v = _values(zones=eight)
    before = _copy(v)
    res = _refused(apply_server(v, "ZONE,ninth,59.9,10.7,100"))
    assert res.error == "zones: at most 8 zones" and v == before
    res = _ok(apply_server(v, "ZONE,Z3,59.9,10.7,100"))
    assert len(res.values["zones"]) == 8 and res.values["zones"][3]["name"] == "Z3"
    assert v == before  # the caller's list was copied, not changed
    res = _ok(apply_server(v, "ZONEDEL,z0"))
    assert [z["name"] for z in res.values["zones"]] == ["z%d" % i for i in range(1, 8)] and v == before


def test_zone_by_sms():
    v = _values(zones=[_SCHOOL])
    cases = (
        ("zone,home,59.9236,10.7592,150", [_SCHOOL, _HOME], "OK: zone home, 150 m around 59.9236,10.7592"),
        ("ZONE,Home, 59.9, 10.7, 59.91, 10.7, 59.9, 10.71", None, "OK: zone Home, 3 corners"),
        ("zonedel,School", [], "OK: removed zone School"),
        ("zones", None, "Zones: school (4 corners)."),
    )
    for text, zl, reply in cases:
        res = _ok(apply_sms(v, text))
        assert res.reply == reply, (text, res.reply)
        if zl is not None:
            assert res.values["zones"] == zl, text
    assert _ok(apply_sms(_values(zones=[_HOME, _SCHOOL]), "zones")).reply == \
        "Zones: home (150 m), school (4 corners)."
    assert _ok(apply_sms(_values(), "zones")).reply == "Zones: none."
    for text, why in (("zonedel,park", "Refused: no such zone"),
                      ("zone,home,\u0665\u0669.9,10.7,150", "Refused: lat: degrees like 59.9236"),
                      ("zone,home,59.9,10.7,5", "Refused: zones: (1) (home): r: 20..50000 metres")):
        before = _copy(v)
        res = _refused(apply_sms(v, text))
        assert res.reply == why, (text, res.reply)
        assert v == before
