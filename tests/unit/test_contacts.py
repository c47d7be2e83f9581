"""Contacts: number normalisation, config validation, the whitelist index and its policy."""
import support
from firmware import school
from firmware.contacts import MAX_CONTACTS, Contact, ContactError, Contacts, check, digits, normalize

# (as typed or reported, country code, E.164)
NORMALIZE_OK = (
    ("+47 911 11 111", "47", "+4791111111"),
    ("+4791111111", "", "+4791111111"),  # international forms need no country code
    ("0047 911 11 111", "", "+4791111111"),
    ("0047-911-11-111", "49", "+4791111111"),  # the country code is for national forms only
    ("91111111", "47", "+4791111111"),  # Norway: no trunk prefix
    ("911.11.111", "47", "+4791111111"),
    ("0171 1234567", "49", "+491711234567"),  # Germany: trunk prefix 0 dropped
    ("(0171) 123-45.67", "49", "+491711234567"),
    ("070-123 45 67", "46", "+46701234567"),  # Sweden
    ("+49 (0)171 1234567", "", "+491711234567"),  # the bracketed trunk 0 of international forms
    ("0049 (0) 171 1234567", "", "+491711234567"),
    ("+1 (212) 555-0100", "", "+12125550100"),
    ("2125550100", "1", "+12125550100"),
    ("+123", "", "+123"),  # 3 digits: the shortest E.164 accepted
    ("12", "4", "+412"),
    ("+123 456 789 012 345", "", "+123456789012345"),  # 15 digits: the longest
    ("  +47 911 11 111  ", "", "+4791111111"),
)

# (number, country code): ContactError
NORMALIZE_BAD = (
    (None, "47"),  # withheld
    ("", "47"),
    ("   ", "47"),
    ("-()", "358"),  # separators only
    ("0", "47"),  # a trunk prefix and nothing else
    ("+", ""),
    ("00", ""),
    ("+12", ""),  # too short
    ("0047", ""),
    ("+1234567890123456", ""),  # 16 digits: E.164 allows 15
    ("123456789012345", "47"),  # 17 with the country code
    ("91111111", ""),  # national, no country code set
    ("0171 1234567", ""),
    ("9111111a", "47"),  # letters
    ("+47 911 11 111 ext 2", ""),
    ("+47/91111111", ""),
    ("+47+91111111", ""),
    ("47+91111111", "47"),
    ("+047 91111111", ""),  # no country code starts with 0
    ("000 47 91111111", ""),
    ("\u0669\u0661\u0661\u0661\u0661\u0661\u0661\u0661", "47"),  # Arabic-Indic digits
    ("\uff19\uff11\uff11\uff11\uff11\uff11\uff11\uff11", "47"),  # full-width digits
    ("91111111\n", "47"),
    (91111111, "47"),  # not a str
    (b"91111111", "47"),
    ("91111111", "+47"),  # bad country codes
    ("91111111", "4a"),
    ("91111111", "1234"),
    ("91111111", "047"),
    ("91111111", 47),
)


def test_digits_are_ascii_only():
    for s in ("0", "47", "0123456789"):
        assert digits(s), s
    for s in ("", " 1", "1 ", "+1", "-1", "1.0", "1a", "\u0664\u0667", "\uff14\uff17", "\u00b2", None):
        assert not digits(s), s


def test_normalize():
    for number, cc, want in NORMALIZE_OK:
        assert normalize(number, cc) == want, (number, cc, normalize(number, cc))
    for number, cc in NORMALIZE_BAD:
        e = support.raises(ContactError, normalize, number, cc)
        assert isinstance(e, ValueError)
        assert e.field in ("number", "country_code"), e.field
    assert support.raises(ContactError, normalize, "91111111", "1234").field == "country_code"
    assert support.raises(ContactError, normalize, None, "47").field == "number"


def _entry(drop=None, **changes):
    e = {"name": "Mamma", "number": "+47 911 11 111", "roles": ["guardian", "sos"]}
    e.update(changes)
    if drop:
        del e[drop]
    return e


def _many(n):
    return [_entry(number="+47 900 00 %03d" % i, roles=["friend"]) for i in range(n)]


# (config value, field named by the error)
CHECK_BAD = (
    ("Mamma", "contacts"),
    ({"name": "Mamma"}, "contacts"),
    (None, "contacts"),
    (_many(MAX_CONTACTS + 1), "contacts"),
    ([1], "contacts[0]"),
    ([_entry(), None], "contacts[1]"),
    ([_entry(), ["Mamma", "+4791111111"]], "contacts[1]"),
    ([_entry(drop="roles")], "contacts[0].roles"),
    ([_entry(drop="name")], "contacts[0].name"),
    ([_entry(drop="number")], "contacts[0].number"),
    ([_entry(colour="red")], "contacts[0].colour"),
    ([_entry(name="")], "contacts[0].name"),
    ([_entry(name="x" * 33)], "contacts[0].name"),
    ([_entry(name=None)], "contacts[0].name"),
    ([_entry(name=5)], "contacts[0].name"),
    ([_entry(name="Mamma\nPappa")], "contacts[0].name"),
    ([_entry(name="Mamma\t")], "contacts[0].name"),
    ([_entry(name="\x7f")], "contacts[0].name"),
    ([_entry(name="Mamma, Pappa")], "contacts[0].name"),
    ([_entry(name='"Mamma"')], "contacts[0].name"),
    ([_entry(number="")], "contacts[0].number"),
    ([_entry(number=None)], "contacts[0].number"),
    ([_entry(number=4791111111)], "contacts[0].number"),
    ([_entry(number="+47" + " " * 22 + "91111111")], "contacts[0].number"),  # 33 characters
    ([_entry(number="+47 911 11 11a")], "contacts[0].number"),
    ([_entry(number="Mamma")], "contacts[0].number"),
    ([_entry(number="+12")], "contacts[0].number"),
    ([_entry(number="+1234567890123456")], "contacts[0].number"),
    ([_entry(number="0047")], "contacts[0].number"),
    ([_entry(number="+047 911")], "contacts[0].number"),
    ([_entry(number="0")], "contacts[0].number"),  # national: no digits
    ([_entry(number="(0)")], "contacts[0].number"),
    ([_entry(number="1" * 15)], "contacts[0].number"),  # national: no room for a country code
    ([_entry(roles=[])], "contacts[0].roles"),
    ([_entry(roles="sos")], "contacts[0].roles"),
    ([_entry(roles=("sos",))], "contacts[0].roles"),
    ([_entry(roles=None)], "contacts[0].roles"),
    ([_entry(roles=["admin"])], "contacts[0].roles"),
    ([_entry(roles=["SOS"])], "contacts[0].roles"),
    ([_entry(roles=["sos", "sos"])], "contacts[0].roles"),
    ([_entry(roles=[1])], "contacts[0].roles"),
    ([_entry(roles=[["sos"]])], "contacts[0].roles"),
    ([_entry(), _entry(), _entry(roles=["friend", "guardian", "friend"])], "contacts[2].roles"),
)

CHECK_OK = (
    [],
    [_entry()],
    _many(MAX_CONTACTS),
    [_entry(name="\u00c5se \u00d8vreb\u00f8"), _entry(name="\u0141ucja"), _entry(name="Bestemor \U0001f475")],
    [_entry(name="x" * 32), _entry(name="x")],
    [_entry(number="0171 1234567"), _entry(number="91111111")],  # syntax only
    [_entry(number="+49 (0)171 1234567"), _entry(number="1" * 14)],
    [_entry(number="+47" + " " * 21 + "91111111")],  # 32 characters
    [_entry(roles=["friend", "guardian", "sos"])],
    [_entry(), _entry()],  # duplicates are the index's business (national forms need the cc)
)


def test_check_names_the_bad_field():
    for value, field in CHECK_BAD:
        e = support.raises(ContactError, check, value)
        assert e.field == field, (value, field, str(e))
        assert str(e).startswith(field + ": "), str(e)
        assert isinstance(e, ValueError)
    for value in CHECK_OK:
        check(value)


ENTRIES = [
    _entry(name="Mamma", number="+47 911 11 111", roles=["guardian", "sos"]),  # 0
    _entry(name="Pappa", number="0047 922 22 222", roles=["sos", "guardian"]),  # 1
    _entry(name="Mormor", number="933 33 333", roles=["sos"]),  # 2: national
    _entry(name="Onkel", number="+49 (0)171 1234567", roles=["friend"]),  # 3
    _entry(name="Mamma jobb", number="911 11 111", roles=["friend"]),  # 4: same as 0
    _entry(name="Ola", number="+47 944 44 444", roles=[]),  # 5: bad
    {"name": "Kari", "number": "+47 955 55 555"},  # 6: bad
    _entry(name="Nabo", number="+47 966 66 666", roles=["friend"]),  # 7
]

# (number as +CLIP/+CMT report it, type of address, index of the contact or None)
FIND = (
    ("+4791111111", 145, 0),
    ("+4791111111", None, 0),
    ("4791111111", 145, 0),  # international type, '+' left out by the modem
    ("004791111111", 145, 0),
    ("004791111111", 129, 0),
    ("91111111", 129, 0),
    ("91111111", 161, 0),
    ("91111111", 128, 0),
    ("92222222", 129, 1),
    ("+4793333333", 145, 2),
    ("+491711234567", 145, 3),
    ("00491711234567", 129, 3),
    ("01711234567", 129, None),  # the German national form means +47 171... here
    ("+4794444444", 145, None),  # skipped entries are not on the whitelist
    ("+4795555555", 145, None),
    ("96666666", 161, 7),
    ("4791111111", 129, None),  # national type: +47 47 91 11 11 11, nobody (fail closed)
    ("+4791111112", 145, None),
    ("", 128, None),  # withheld
    ("", 145, None),
    (None, None, None),
    ("91111111", 208, None),  # alphanumeric sender (0xD0): anyone can choose that name
    ("Telenor", 208, None),
    ("Mamma", 129, None),
    ("+47 911 11 111", 145, 0),
    ("+47911111119999999", 145, None),
    (4791111111, 145, None),
)


def test_index_skips_bad_and_duplicate_entries():
    cs = Contacts(ENTRIES, "47")
    assert len(cs) == 5
    assert [i for i, _ in cs.skipped] == [4, 5, 6]
    why = dict(cs.skipped)
    assert why[4].startswith("contacts[4].number: ") and "contacts[0]" in why[4], why[4]
    assert why[5].startswith("contacts[5].roles: ")
    assert why[6].startswith("contacts[6].roles: ")


def test_find_each_form_and_type():
    cs = Contacts(ENTRIES, "47")
    for number, ntype, want in FIND:
        c = cs.find(number, ntype)
        got = None if c is None else c.index
        assert got == want, (number, ntype, got)
    c = cs.find("+4791111111")
    assert isinstance(c, Contact)
    assert (c.name, c.number, c.roles, c.index) == ("Mamma", "+4791111111", ("guardian", "sos"), 0)
    assert c.is_guardian and c.is_sos
    c = cs.find("+491711234567", 145)
    assert not c.is_guardian and not c.is_sos and c.roles == ("friend",)


def test_without_country_code_national_entries_are_skipped():
    cs = Contacts(ENTRIES, "")
    assert [i for i, _ in cs.skipped] == [2, 4, 5, 6]  # 4 is national too: skipped, not a duplicate
    assert "country code" in dict(cs.skipped)[2]
    assert cs.find("+4791111111", 145).index == 0
    assert cs.find("91111111", 129) is None  # cannot be normalised: nobody, no exception
    assert cs.find("92222222", 129) is None
    cs = Contacts(ENTRIES, "4a")  # a bad country code hits the national entries only
    assert [i for i, _ in cs.skipped] == [2, 4, 5, 6]
    assert "country_code" in dict(cs.skipped)[2]
    assert cs.find("91111111", 129) is None
    assert len(cs) == 4


def test_constructor_never_raises():
    for entries in (None, [], "garbage", {"name": "x"}, 5, [None, 5, "x", {}, {"name": 1}]):
        cs = Contacts(entries, "47")
        assert len(cs) == 0 and cs.sos() == [] and cs.guardians() == []
        assert cs.find("+4791111111", 145) is None
    assert Contacts("garbage", "47").skipped == [(None, "contacts: must be a list")]
    assert [i for i, _ in Contacts([None, 5, "x", {}, {"name": 1}], "47").skipped] == [0, 1, 2, 3, 4]
    many = _many(MAX_CONTACTS + 5)
    cs = Contacts(many, "47")
    assert len(cs) == MAX_CONTACTS
    assert len(cs.skipped) == 1 and cs.skipped[0][0] == MAX_CONTACTS
    assert cs.find("+4790000049").index == 49
    assert cs.find("+4790000050") is None


def test_sos_and_guardians_in_list_order():
    cs = Contacts(ENTRIES, "47")
    assert [c.index for c in cs.sos()] == [0, 1, 2]
    assert [c.name for c in cs.sos()] == ["Mamma", "Pappa", "Mormor"]
    assert [c.index for c in cs.guardians()] == [0, 1]
    cs.sos().clear()  # a caller's copy: the index keeps its list
    assert len(cs.sos()) == 3
    reordered = [ENTRIES[2], ENTRIES[1], ENTRIES[0]]
    assert [c.name for c in Contacts(reordered, "47").sos()] == ["Mormor", "Pappa", "Mamma"]


def test_call_and_sms_actions():
    # outside a school window the whitelist alone decides (school.decide_call/decide_sms)
    cs = Contacts(ENTRIES, "47")
    # (number, type, call action, sms action)
    for number, ntype, call, sms in (
        ("+4791111111", 145, "ring", "keep"),
        ("96666666", 129, "ring", "keep"),  # a friend may call and text
        ("+4799999999", 145, "reject", "drop"),  # a stranger
        ("", 128, "reject", "drop"),  # withheld
        ("Telenor", 208, "reject", "drop"),
        ("+4794444444", 145, "reject", "drop"),  # a skipped entry
    ):
        c = cs.find(number, ntype)
        for rings in (False, True):
            assert school.decide_call(False, c, rings) == call, number
        assert school.decide_sms(False, c) == sms, number
