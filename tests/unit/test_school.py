"""School mode's policy: window grammar, local time across daylight saving, quiet windows and
what they allow. Table-driven; runs under pytest and tools/mptest.py alike."""
import support
from firmware import clock, contacts, school

U = clock.from_parts  # epoch-2000 seconds of a UTC (or, for the window tables, local) time
H = 3600
WEEK = school.WEEK_S

# ---- grammar -----------------------------------------------------------------------------------

MO, TU, WE, TH, FR, SA, SU = 1, 2, 4, 8, 16, 32, 64

GOOD = (
    ("Mo 08:00-09:00", (MO, 480, 540)),
    ("Mo-Fr 08:00-14:00", (MO | TU | WE | TH | FR, 480, 840)),
    ("Sa,Su 10:00-12:00", (SA | SU, 600, 720)),
    ("Mo,We,Fr 08:00-09:00", (MO | WE | FR, 480, 540)),
    ("Fr-Mo 09:00-10:00", (FR | SA | SU | MO, 540, 600)),  # a range wraps over the weekend
    ("Su-Mo 20:00-21:00", (SU | MO, 1200, 1260)),
    ("Mo-Su 00:00-23:59", (127, 0, 1439)),
    ("Mo-We,Sa 07:30-08:15", (MO | TU | WE | SA, 450, 495)),
    ("Fr 22:00-06:00", (FR, 1320, 360)),  # crosses midnight: Friday night into Saturday
    ("Th 23:59-00:00", (TH, 1439, 0)),
)

BAD = (
    "Mo 25:00-26:00",
    "Mo 08:60-09:00",
    "Mo 8:00-09:00",
    "Mo 08:00-9:00",
    "Mo-Xx 08:00-09:00",
    "Xx 08:00-09:00",
    "mo 08:00-09:00",
    "",
    " ",
    "Mo",
    "Mo 08:00",
    "Mo 08:00-",
    "Mo08:00-09:00",
    "Mo  08:00-09:00",
    "Mo 08:00-09:00 ",
    "Mo, 08:00-09:00",
    "Mo 0a:00-09:00",
    "Mo \u0660\u0668:00-09:00",  # Arabic-Indic digits: isdigit() and int() take them on CPython only
    "Mo 08:00-08:00",  # start == end: empty
    None,
    5,
    ["Mo 08:00-09:00"],
    b"Mo 08:00-09:00",
)


def test_parse_window_day_forms():
    for text, want in GOOD:
        assert school.parse_window(text) == want, text


def test_parse_window_refuses_bad_input():
    for text in BAD:
        support.raises(ValueError, school.parse_window, text)


def test_check_windows():
    school.check_windows([])
    school.check_windows([g[0] for g in GOOD])
    school.check_windows(["Mo-Fr 08:00-14:00"] * school.MAX_WINDOWS)
    e = support.raises(ValueError, school.check_windows, ["Mo-Fr 08:00-14:00"] * (school.MAX_WINDOWS + 1))
    assert "at most 16" in str(e)
    for bad in BAD:
        e = support.raises(ValueError, school.check_windows, ["Mo 08:00-09:00", bad])
        assert str(e).startswith("[1]: "), str(e)


def test_parse_windows_never_raises():
    got, skipped = school.parse_windows(["Mo 08:00-09:00", "Mo 25:00-26:00", 7])
    assert got == [(MO, 480, 540)]
    assert [i for i, _ in skipped] == [1, 2]
    got, skipped = school.parse_windows(["Sa 10:00-11:00"] * 20)
    assert len(got) == school.MAX_WINDOWS and skipped[0][0] == school.MAX_WINDOWS
    assert school.parse_windows("Mo 08:00-09:00") == ([], [(None, "school_windows: a list expected")])


# ---- local time --------------------------------------------------------------------------------

EU_SPRING = U(2026, 3, 29, 1, 0, 0)  # Sunday: 02:00 CET -> 03:00 CEST
EU_AUTUMN = U(2026, 10, 25, 1, 0, 0)  # Sunday: 03:00 CEST -> 02:00 CET (Oslo)
US_SPRING_NY = U(2026, 3, 8, 7, 0, 0)  # 02:00 EST
US_AUTUMN_NY = U(2026, 11, 1, 6, 0, 0)  # 02:00 EDT = 01:00 EST

OFFSETS = (
    # (utc_s, net, std, rule) -> minutes
    (EU_SPRING - 1, None, 60, "EU", 60),
    (EU_SPRING, None, 60, "EU", 120),
    (EU_AUTUMN - 1, None, 60, "EU", 120),
    (EU_AUTUMN, None, 60, "EU", 60),
    (EU_AUTUMN - 1, None, 0, "EU", 60),  # London: the same instant in UTC
    (EU_AUTUMN, None, 0, "EU", 0),
    (EU_SPRING - 1, None, 120, "EU", 120),  # Helsinki
    (EU_SPRING, None, 120, "EU", 180),
    (U(2026, 1, 15, 12), None, 60, "EU", 60),
    (U(2026, 7, 15, 12), None, 60, "EU", 120),
    (U(2026, 12, 31, 23, 59, 59), None, 60, "EU", 60),
    (U(2027, 3, 28, 1) - 1, None, 60, "EU", 60),  # 2027: last Sunday of March is the 28th
    (U(2027, 3, 28, 1), None, 60, "EU", 120),
    (U(2027, 10, 31, 1) - 1, None, 60, "EU", 120),  # ... of October the 31st
    (U(2027, 10, 31, 1), None, 60, "EU", 60),
    (US_SPRING_NY - 1, None, -300, "US", -300),
    (US_SPRING_NY, None, -300, "US", -240),
    (US_AUTUMN_NY - 1, None, -300, "US", -240),
    (US_AUTUMN_NY, None, -300, "US", -300),
    (U(2026, 3, 8, 10) - 1, None, -480, "US", -480),  # Los Angeles: 02:00 PST = 10:00 UTC
    (U(2026, 3, 8, 10), None, -480, "US", -420),
    (U(2026, 11, 1, 9) - 1, None, -480, "US", -420),  # 02:00 PDT = 09:00 UTC
    (U(2026, 11, 1, 9), None, -480, "US", -480),
    (U(2026, 3, 8, 5, 30) - 1, None, -210, "US", -210),  # Newfoundland: 02:00 NST = 05:30 UTC
    (U(2026, 3, 8, 5, 30), None, -210, "US", -150),
    (U(2026, 7, 1, 12), None, -210, "US", -150),
    (U(2026, 7, 1, 12), None, 60, "", 60),  # no rule: the standard offset all year
    (U(2026, 7, 1, 12), None, 345, "", 345),  # Nepal +5:45
    # the network's offset wins, whatever the configuration says (0 is an offset, not unknown)
    (U(2026, 7, 1, 12), 345, 60, "EU", 345),
    (U(2026, 7, 1, 12), -210, 60, "EU", -210),
    (U(2026, 7, 1, 12), 0, 60, "EU", 0),
    (EU_AUTUMN - 1, 120, 60, "EU", 120),
    (EU_AUTUMN, 60, 60, "", 60),
    (U(2026, 1, 15, 12), 120, 60, "EU", 120),
)


def test_local_offset_min_table():
    for utc_s, net, std, rule, want in OFFSETS:
        got = school.local_offset_min(utc_s, net, std, rule)
        assert got == want, (clock.iso8601(utc_s), net, std, rule, got, want)


def test_oslo_autumn_change_local_clock():
    # 02:59:59 CEST, then 02:00:00 CET: the hour from 02:00 to 03:00 happens twice
    before = school.to_local(EU_AUTUMN - 1, school.local_offset_min(EU_AUTUMN - 1, None, 60, "EU"))
    at = school.to_local(EU_AUTUMN, school.local_offset_min(EU_AUTUMN, None, 60, "EU"))
    assert clock.to_parts(before) == (2026, 10, 25, 2, 59, 59)
    assert clock.to_parts(at) == (2026, 10, 25, 2, 0, 0)


def test_dst_span_and_next_offset_change():
    assert school.dst_span("EU", 2026, 60) == (EU_SPRING, EU_AUTUMN)
    assert school.dst_span("US", 2026, -300) == (US_SPRING_NY, US_AUTUMN_NY)
    assert school.dst_span("", 2026, 60) is None
    assert school.next_offset_change(EU_AUTUMN - 10, 60, "EU") == 10
    assert school.next_offset_change(EU_AUTUMN, 60, "EU") == U(2027, 3, 28, 1) - EU_AUTUMN
    assert school.next_offset_change(U(2026, 1, 1), 60, "EU") == EU_SPRING - U(2026, 1, 1)
    assert school.next_offset_change(U(2026, 1, 1), 60, "") is None


def test_cclk_offset_min():
    for text, want in (
        ('+CCLK: "26/10/25,02:59:59+08"', 120),
        ('+CCLK: "26/10/25,02:00:00+04"', 60),
        ('"26/01/01,12:00:00+23"', 345),  # Nepal +5:45
        ('"26/01/01,12:00:00-14"', -210),  # Newfoundland -3:30
        ('"26/01/01,12:00:00+00"', 0),
        ('"26/01/01,12:00:00-96"', -1440),
        ('"26/01/01,12:00:00"', None),  # no zone given
    ):
        assert clock.cclk_offset_min(text) == want, text
    for bad in ('"26/01/01,12:00:00+97"', '"26/01/01,12:00:00*08"', "garbage", '"26/13/01,00:00:00+08"'):
        support.raises(ValueError, clock.cclk_offset_min, bad)
    # the same instant on either side of the Oslo change reads right as UTC
    assert clock.parse_cclk('"26/10/25,02:59:59+08"') == EU_AUTUMN - 1
    assert clock.parse_cclk('"26/10/25,02:00:00+04"') == EU_AUTUMN
    assert clock.parse_cclk('"26/01/01,12:00:00"') == U(2026, 1, 1, 12)  # unchanged: no zone, UTC


# ---- windows -----------------------------------------------------------------------------------
# local times: 2026-10-19 is a Monday, 2026-10-23 a Friday, 2026-10-25 a Sunday


def L(d, h, mi=0, s=0):
    """Local epoch-2000 seconds for a day of October 2026 (local)."""
    return U(2026, 10, d, h, mi, s)


def parse_all(texts):
    return [school.parse_window(t) for t in texts]


IN_WINDOW = (
    (["Mo-Fr 08:00-14:00"], (
        (L(19, 8), True),  # Monday: the start is in
        (L(19, 7, 59, 59), False),
        (L(19, 13, 59, 59), True),
        (L(19, 14), False),  # the end is not
        (L(23, 10), True),  # Friday
        (L(24, 10), False),  # Saturday
        (L(25, 10), False),  # Sunday
        (L(26, 8), True),
        (L(26, 0), False),
    )),
    (["Sa,Su 10:00-12:00"], (
        (L(24, 11), True),
        (L(25, 11), True),
        (L(26, 11), False),
        (L(23, 11), False),
    )),
    (["Fr-Mo 09:00-10:00"], (
        (L(23, 9, 30), True), (L(24, 9, 30), True), (L(25, 9, 30), True), (L(26, 9, 30), True),
        (L(20, 9, 30), False), (L(21, 9, 30), False), (L(22, 9, 30), False),
    )),
    (["Fr 22:00-06:00"], (  # Friday night into Saturday morning
        (L(23, 21, 59, 59), False),
        (L(23, 22), True),
        (L(23, 23, 59, 59), True),
        (L(24, 0), True),
        (L(24, 5, 59, 59), True),
        (L(24, 6), False),
        (L(24, 22, 30), False),  # Saturday night is not listed
        (L(23, 3), False),  # Friday morning belongs to a Thursday window
        (L(22, 23), False),
    )),
    (["Su 20:00-07:00"], (  # Sunday night into Monday: across the week's end
        (L(25, 20), True),
        (L(26, 0), True),
        (L(26, 6, 59, 59), True),
        (L(26, 7), False),
        (L(19, 3), True),  # the Monday of the week before, after Sunday the 18th
        (L(24, 23), False),
    )),
    (["Mo-Fr 08:00-10:00", "Mo-Fr 10:15-12:00", "Mo-Fr 12:30-14:00"], (
        (L(20, 9), True),
        (L(20, 10), False),
        (L(20, 10, 14, 59), False),
        (L(20, 10, 15), True),
        (L(20, 12, 15), False),
        (L(20, 12, 30), True),
        (L(20, 14), False),
    )),
    ([], ((L(20, 9), False),)),
)


def test_in_window_table():
    for texts, rows in IN_WINDOW:
        ws = parse_all(texts)
        for t, want in rows:
            assert school.in_window(ws, t) == want, (texts, clock.iso8601(t))


NEXT_CHANGE = (
    (["Mo-Fr 08:00-14:00"], (
        (L(19, 7), H),
        (L(19, 7, 59, 59), 1),
        (L(19, 8), 6 * H),
        (L(19, 13, 59, 59), 1),
        (L(19, 14), 18 * H),
        (L(23, 14), 66 * H),  # Friday 14:00 -> Monday 08:00
        (L(24, 12), 44 * H),
    )),
    (["Fr 22:00-06:00"], (
        (L(23, 22), 8 * H),
        (L(24, 5), H),
        (L(24, 6), 7 * 24 * H - 8 * H),  # Saturday 06:00 -> next Friday 22:00
    )),
    (["Su 20:00-07:00"], ((L(25, 20), 11 * H), (L(25, 19), H))),
    (["Mo 08:00-10:00", "Mo 10:00-12:00"], ((L(19, 9), 3 * H),)),  # back to back: one stretch
    (["Mo-Su 12:00-11:59", "Mo-Su 11:59-12:00"], ((L(19, 9), WEEK),)),  # always: no change
    ([], ((L(19, 9), WEEK),)),
    (["Mo 08:00-09:00"], ((L(19, 9), WEEK - H), (L(19, 8, 59), 60))),
)


def test_next_change_table():
    for texts, rows in NEXT_CHANGE:
        ws = parse_all(texts)
        for t, want in rows:
            got = school.next_change(ws, t)
            assert got == want, (texts, clock.iso8601(t), got, want)


def test_next_change_is_the_first_change():
    # against a minute-by-minute scan of two weeks: the answer holds until exactly then
    sets = (["Mo-Fr 08:00-14:00"], ["Fr 22:00-06:00", "Sa,Su 10:00-12:00"],
            ["Su 20:00-07:00", "Mo-We 12:00-12:30", "Mo 06:30-08:00"])
    t0 = L(19, 0)
    for texts in sets:
        ws = parse_all(texts)
        minute = bytearray(14 * 1440)  # small: the whole suite shares MicroPython's heap
        for i in range(len(minute)):
            minute[i] = 1 if school.in_window(ws, t0 + 60 * i) else 0
        for i in range(0, 7 * 1440, 97):
            t = t0 + 60 * i + 13  # a few seconds into the minute
            n = school.next_change(ws, t)
            j = i + 1
            while minute[j] == minute[i]:
                j += 1
            assert n == 60 * (j - i) - 13, (texts, clock.iso8601(t), n)
            assert school.in_window(ws, t + n - 1) == (minute[i] == 1) != school.in_window(ws, t + n)


# ---- quiet: the settings at a UTC time ---------------------------------------------------------

OSLO = {"school_mode": "auto", "school_windows": ["Mo-Fr 08:00-14:00"], "tz_offset_min": 60,
        "tz_rule": "EU", "school_guardian_rings": False}


def cfg(**kw):
    v = dict(OSLO)
    v.update(kw)
    return v


def test_window_starts_at_0800_local_either_side_of_the_autumn_change():
    fri = U(2026, 10, 23, 6, 0, 0)  # 08:00 CEST
    mon = U(2026, 10, 26, 7, 0, 0)  # 08:00 CET
    for values, net_fri, net_mon in (
        (OSLO, None, None),  # the EU rule from the standard offset
        (cfg(tz_rule=""), 120, 60),  # the network's offset (AT+CCLK's zone)
        (cfg(tz_rule="", tz_offset_min=0), 120, 60),  # the network wins over a wrong config
        (OSLO, 120, 60),
    ):
        assert school.quiet(values, fri - 1, net_fri) == (False, 1)
        assert school.quiet(values, fri, net_fri) == (True, 6 * H)
        assert school.quiet(values, fri + 6 * H - 1, net_fri) == (True, 1)
        assert school.quiet(values, fri + 6 * H, net_fri)[0] is False
        assert school.quiet(values, mon - 1, net_mon) == (False, 1)
        assert school.quiet(values, mon, net_mon) == (True, 6 * H)
        assert school.quiet(values, mon + 6 * H, net_mon)[0] is False
    # the same UTC instants would be wrong by an hour with a fixed offset
    assert school.quiet(cfg(tz_rule=""), fri, None)[0] is False  # 07:00 by a fixed +1 in summer
    assert school.quiet(cfg(tz_rule="", tz_offset_min=120), mon, None) == (True, 5 * H)  # 09:00 by +2


def test_quiet_wakes_for_the_clock_change():
    # Friday 14:00 CEST: the next window is Monday 08:00 CET = 65 h later in real time; the rule
    # moves the clocks first (Sunday 01:00 UTC), and quiet() asks to be asked again then
    fri_end = U(2026, 10, 23, 12, 0, 0)
    assert school.quiet(OSLO, fri_end, None) == (False, EU_AUTUMN - fri_end)
    assert school.quiet(OSLO, EU_AUTUMN, None) == (False, U(2026, 10, 26, 7) - EU_AUTUMN)
    # with only the network's offset (no rule) the local answer says 66 h: early by the hour
    # the clocks go back, so the caller asks again before the window (never after it started)
    assert school.quiet(cfg(tz_rule=""), fri_end, 120) == (False, 66 * H)


def test_quiet_modes_and_unknown_time():
    t = U(2026, 10, 23, 9)  # Friday 11:00 CEST: in the window
    assert school.quiet(OSLO, t, None)[0] is True
    assert school.quiet(cfg(school_mode="on"), U(2026, 10, 24, 20), None) == (True, WEEK)
    assert school.quiet(cfg(school_mode="on"), None, None) == (True, WEEK)
    assert school.quiet(cfg(school_mode="off"), t, None) == (False, WEEK)
    assert school.quiet(OSLO, None, None) == (False, 60)
    assert school.quiet(OSLO, None, 120) == (False, 60)
    assert school.quiet(cfg(school_windows=[]), t, None) == (False, EU_AUTUMN - t)
    assert school.quiet(cfg(school_windows=[], tz_rule=""), t, None) == (False, WEEK)
    assert school.quiet({}, t, None) == (False, WEEK)  # defaults: auto, no windows, UTC
    assert school.quiet(cfg(school_windows=["Mo-Fr 08:00-14:00", "bad"]), t, None)[0] is True


def test_schedule_parses_once():
    values = cfg(school_windows=["Fr 22:00-06:00", "Mo 25:00-26:00"], school_guardian_rings=True)
    s = school.Schedule(values)
    # read when built, never again: later changes to the dict do not reach it
    values["school_windows"][0] = "Mo 08:00-09:00"
    values["tz_rule"] = ""
    assert s.windows == [(FR, 1320, 360)] and [i for i, _ in s.skipped] == [1]
    assert s.guardian_rings is True
    assert s.quiet(U(2026, 10, 23, 21), None) == (True, 7 * H)  # Friday 23:00 CEST
    assert s.offset_min(U(2026, 10, 23, 21), None) == 120
    assert s.offset_min(U(2026, 10, 23, 21), 345) == 345


# ---- what a window allows ----------------------------------------------------------------------

BOOK = contacts.Contacts([
    {"name": "Mamma", "number": "+4791111111", "roles": ["guardian", "sos"]},
    {"name": "Bestemor", "number": "+4793333333", "roles": ["friend"]},
    {"name": "Nabo", "number": "+4794444444", "roles": ["sos"]},
], "47")
GUARDIAN = BOOK.find("+4791111111")
FRIEND = BOOK.find("+4793333333")
SOS_ONLY = BOOK.find("+4794444444")
STRANGER = BOOK.find("+4799999999")

CALLS = (
    # quiet, contact, guardian_rings -> action
    (False, STRANGER, False, "reject"),
    (False, STRANGER, True, "reject"),
    (True, STRANGER, True, "reject"),
    (False, FRIEND, False, "ring"),
    (True, FRIEND, False, "reject"),
    (True, FRIEND, True, "reject"),
    (False, GUARDIAN, False, "ring"),
    (True, GUARDIAN, False, "reject"),
    (True, GUARDIAN, True, "ring"),
    (False, SOS_ONLY, False, "ring"),
    (True, SOS_ONLY, True, "reject"),  # an SOS contact is not a guardian
)

SMS = (
    (False, STRANGER, "drop"),
    (True, STRANGER, "drop"),
    (False, FRIEND, "keep"),
    (True, FRIEND, "hold"),
    (False, GUARDIAN, "keep"),
    (True, GUARDIAN, "hold"),
    (True, SOS_ONLY, "hold"),
)

OUTGOING = (
    (False, "call", True),
    (False, "sms", True),
    (False, "sos", True),
    (False, "reply", True),
    (True, "sos", True),
    (True, "reply", True),
    (True, "call", False),
    (True, "sms", False),
    (True, "", False),
    (True, None, False),
)


def test_decide_call_table():
    assert STRANGER is None and GUARDIAN.is_guardian and not FRIEND.is_guardian
    for quiet, c, rings, want in CALLS:
        assert school.decide_call(quiet, c, rings) == want, (quiet, c, rings)
        if not quiet:  # outside a window: the whitelist alone
            assert want == ("reject" if c is None else "ring")


def test_decide_sms_table():
    for quiet, c, want in SMS:
        assert school.decide_sms(quiet, c) == want, (quiet, c)
        if not quiet:
            assert want == ("drop" if c is None else "keep")


def test_outgoing_allowed_table():
    for quiet, purpose, want in OUTGOING:
        assert school.outgoing_allowed(quiet, purpose) is want, (quiet, purpose)
