"""Guardians' commands: from a stock Traccar server (`watch` protocol) and by SMS with a PIN.

Pure: text in; the complete new settings, the reply and the actions out (Result). No I/O, no
clock: the shell (firmware/control.py) saves the settings, carries out the actions and sends
the reply. docs/commands.md lists every command with its grammar, effect and reply.

* apply_server(values, content): the content of a downlink frame, as watchproto.parse returns
  it (Frame.content: bytes, or that decoded to str). The §2 escapes (7d01..7d05) were undone
  there, for every frame, as Traccar's own frame decoder does; undoing them again here would
  corrupt a voice message that holds 7d 01..05 (watch-protocol.md §2, §5).
* apply_sms(values, text): the command part of a guardian's SMS, after the PIN check.
* Every change is made on a copy and validated as a whole with config.check_all: a command is
  applied completely or not at all. A refused command returns values None and error set.
* Names are matched case-insensitively (Traccar sends upper case; a guardian typing a `custom`
  command may not); the server reply echoes the canonical upper-case name.
"""
from firmware import config, contacts, fix, smscodec, zones
from firmware.compat import const  # config imports it already (fsutil): no local fallback needed

_TEXT_MAX = const(1024)  # a text command longer than this is refused unread
_VOICE_MAX = const(16384)  # TK: bytes of voice after unescaping
_SMS_CMD_MAX = const(160)  # the command part of an SMS (one SMS)
_SMS_TEXT_MAX = const(480)  # parse_sms: longer texts are messages, not commands
_ECHO_MAX = const(16)
_REASON_MAX = const(100)
_NUMBER_MAX = const(20)  # E.164 has at most 15 digits; a trunk or 00 prefix adds a few
_SOS_SLOTS = const(3)  # SOS1..SOS3 (watch-protocol.md §5, sosNumber)
_WHITELIST_SLOTS = const(5)  # WHITELIST1: numbers 1..5, WHITELIST2: 6..10
# Fields of a list command (SILENCETIME, REMIND, WORK, SCHOOLTIME); config bounds the items
# it keeps (16 windows, 8 reminders, 8 ranges): this only refuses absurd field counts early.
_LIST_MAX = const(64)

# Remote listening (a silent call-back, "monitor") is banned for children's watches in Germany
# (Bundesnetzagentur, Nov 2017: illegal transmitters; peers.md §4 item 10) and a privacy
# hazard anywhere. A remote-initiated call is the same thing on a watch with no display to
# show it. Refused by name, from the server and by SMS, whatever the arguments.
_BANNED_PREFIXES = ("MONITOR", "LISTEN")
_BANNED = ("CALL",)
_BANNED_WHY = "remote listening is banned (children's watch)"

# Uplink types Traccar acts on (watch-protocol.md §4). A reply starting with one of them would
# be decoded as a position, an alarm, a heartbeat or a voice message, and a malformed one
# closes the connection (§1): an unknown command's echo never takes such a name.
_UPLINK_PREFIXES = ("UD", "AL", "WT")
_UPLINK_TYPES = ("LK", "INIT", "TK", "TK2", "TKQ", "TKQ2", "JXTK", "IMG", "PULSE", "HEART",
                 "BLOOD", "BPHRT", "TEMP", "BTEMP2", "OXYGEN")


class Result:
    """values: the complete new settings dict, or None (nothing changes, or refused); reply: str;
    actions: tuple of tuples for the shell; error: None or the short reason of a refusal."""

    def __init__(self, values=None, reply="", actions=(), error=None):
        self.values = values
        self.reply = reply
        self.actions = actions
        self.error = error

    def __repr__(self):
        return "Result(%s, %r, %r, %r)" % ("None" if self.values is None else "{...}", self.reply,
                                           self.actions, self.error)


class _Refused(ValueError):
    pass


# ---- small parsers ------------------------------------------------------------------------------


def _uint(s, most_digits, what):
    """Digits only (no sign, no spaces inside), bounded before int(): the range is config's."""
    if not contacts.digits(s) or len(s) > most_digits:
        raise _Refused("%s: 1 to %d digits" % (what, most_digits))
    return int(s)


def _flag(s, what):
    if s == "1":
        return True
    if s == "0":
        return False
    raise _Refused("%s: 0 or 1" % what)


def _arity(args, lo, hi):
    if not lo <= len(args) <= hi:
        if lo == hi:
            raise _Refused("%d argument%s expected, not %d" % (lo, "" if lo == 1 else "s", len(args)))
        raise _Refused("%d to %d arguments expected, not %d" % (lo, hi, len(args)))


def _number(s, cc, strict):
    """A phone number -> E.164. strict (the server): '+' and digits only; else (SMS) the
    separators people type (' -.()') are allowed too. ValueError names the problem."""
    if not s:
        raise _Refused("number: empty")
    if len(s) > (_NUMBER_MAX if strict else contacts.NUMBER_MAX):
        raise _Refused("number: too long")
    if strict and not contacts.digits(s[1:] if s[0] == "+" else s):
        raise _Refused("number: '+' and digits only")
    return contacts.normalize(s, cc)


def _offset_min(s):
    """LZ's offset: decimal hours with a sign and at most 2 decimals, as Traccar prints the
    zone's raw offset with DecimalFormat "+#.##;-#.##" ("+1", "-11.5", "+5.75"; with '#' for
    the integer digits 0.5 may come out as "+.5") -> minutes, a multiple of 15 (every zone's
    offset is)."""
    neg = s[:1] == "-"
    if s[:1] == "+" or neg:
        s = s[1:]
    whole, dot, frac = s.partition(".")
    if len(whole) > 2 or len(frac) > 2 or (dot and not frac) or not contacts.digits(whole + frac):
        raise _Refused("offset: hours like +1, -11.5, +5.75")
    hundredths = int(whole or "0") * 100 + (int((frac + "0")[:2]) if frac else 0)
    if hundredths % 25:
        raise _Refused("offset: whole quarter hours only")
    m = hundredths // 25 * 15
    return -m if neg else m


def _roles(s):
    """'guardian+sos' -> ['guardian', 'sos'] in the canonical order; _Refused otherwise."""
    out = []
    for r in s.lower().split("+"):
        r = r.strip()
        if r not in contacts.ROLES:
            raise _Refused("roles: guardian, sos or friend, joined with +")
        if r in out:
            raise _Refused("roles: %s twice" % r)
        out.append(r)
    return [r for r in contacts.ROLES if r in out]


# ---- the contact list ----------------------------------------------------------------------------


def _key(number, cc):
    try:
        return contacts.normalize(number, cc)
    except ValueError:
        return None  # unusable as it is (contacts.Contacts skips it too): matches nothing


def _find(cl, e164, cc):
    for i in range(len(cl)):
        if _key(cl[i]["number"], cc) == e164:
            return i
    return -1


def _upsert(new, e164, name, roles, default_name):
    """Add a contact or update the one with that number; returns its entry. name/roles None
    (or empty): keep (a new contact gets default_name and ["friend"]). The working copy's
    entries are _base's copies: the caller's dicts never change."""
    cl = new["contacts"]
    i = _find(cl, e164, new["country_code"])
    if i < 0:
        cl.append({"name": name or default_name, "number": e164, "roles": roles or ["friend"]})
        return cl[-1]
    c = cl[i]
    if name:
        c["name"] = name
    if roles:
        c["roles"] = roles
    return c


def _give_role(new, e164, role, name):
    """The contact with that number gets the role too (roles in the canonical order); a new
    one is added with `name` and that role only."""
    cl = new["contacts"]
    i = _find(cl, e164, new["country_code"])
    if i < 0:
        cl.append({"name": name, "number": e164, "roles": [role]})
    elif role not in cl[i]["roles"]:  # else left as it is: nothing asked, nothing changes
        cl[i]["roles"] = [r for r in contacts.ROLES if r in cl[i]["roles"] or r == role]


def _drop_role(c, role):
    if role in c["roles"]:
        c["roles"].remove(role)
        if not c["roles"]:
            c["roles"] = ["friend"]  # still on the whitelist; CONTACTDEL / remove takes it off


def _sos_numbers(new):
    """The SOS list in its order (the contacts list order), as E.164 numbers, the way
    contacts.Contacts sees it: an entry it cannot use, or a second one with a number, is left
    out (and loses the role when the list is set)."""
    cc = new["country_code"]
    out = []
    for c in new["contacts"]:
        k = _key(c["number"], cc)
        if "sos" in c["roles"] and k and k not in out:
            out.append(k)
    return out


def _set_sos(new, wanted, names):
    """Make `wanted` (E.164 numbers, in order) the SOS list. Existing contacts keep their name
    and other roles and get "sos"; new ones are appended with names[number]; SOS contacts not
    wanted lose the role. The SOS contacts then take the list places SOS contacts hold, in the
    wanted order; everyone else keeps their place."""
    cc = new["country_code"]
    cl = new["contacts"]
    for i in range(len(cl)):
        c = cl[i]
        if "sos" in c["roles"]:
            k = _key(c["number"], cc)
            # not wanted, or a second entry with the number (Contacts skips it: the first wins)
            if k not in wanted or _find(cl, k, cc) != i:
                _drop_role(c, "sos")
    for n in wanted:
        _give_role(new, n, "sos", names.get(n))  # names: the new numbers only
    places = [i for i in range(len(cl)) if "sos" in cl[i]["roles"]]
    ordered = [cl[_find(cl, n, cc)] for n in wanted]
    for j in range(len(places)):
        cl[places[j]] = ordered[j]


def _guardians(values):
    return len([c for c in values["contacts"] if "guardian" in c["roles"]])


# ---- text helpers --------------------------------------------------------------------------------


def _clean(text, most):
    """Printable, one line, at most `most` characters (for error texts and logs)."""
    out = []
    for c in text[:most]:
        out.append("?" if c < " " or "\x7f" <= c <= "\x9f" else c)
    return "".join(out)


_SWAP_FROM = ",[]{}"
_SWAP_TO = ";()()"


def _ascii(text, most):
    """Safe inside a reply frame: printable ASCII without ',' (a field separator: ';' instead)
    or the bytes framing and escaping use (watch-protocol.md §2: `[ ] } *`, brackets become
    parentheses); anything else is '?'."""
    out = []
    for c in text[:most]:
        i = _SWAP_FROM.find(c)
        if i >= 0:
            out.append(_SWAP_TO[i])
        elif " " <= c <= "~" and c not in "*%":
            out.append(c)
        else:
            out.append("?")
    return "".join(out)


def _echo(name):
    """An unknown command's name as the reply echoes it: letters, digits and '_', bounded; never
    the name of an uplink Traccar would act on (then UNKNOWN)."""
    e = "".join([c for c in name.upper() if "A" <= c <= "Z" or "0" <= c <= "9" or c == "_"])
    e = e[:_ECHO_MAX]
    if not e or e in _UPLINK_TYPES:
        return "UNKNOWN"
    for p in _UPLINK_PREFIXES:
        if e.startswith(p):
            return "UNKNOWN"
    return e


def _banned(name):
    for p in _BANNED_PREFIXES:
        if name.startswith(p):
            return True
    return name in _BANNED


def _hhmm_offset(m):
    a = -m if m < 0 else m
    return "%s%02d:%02d" % ("-" if m < 0 else "+", a // 60, a % 60)


_GSM_EXT = "[]{}|~^\\"
_GSM_BASIC = "()()/--/"


def _fit_sms(text):
    """The text cut to one SMS (160 GSM characters, or 70 UCS2 ones when a name needs it). The
    GSM extension characters of an error text ("contacts[3]") become basic ones first: the
    modem link sends the basic table only, and one of them would force the reply into UCS2."""
    out = []
    for c in text:
        i = _GSM_EXT.find(c)
        out.append(c if i < 0 else _GSM_BASIC[i])
    text = "".join(out)
    try:
        smscodec.encode_sms(text)
        return text
    except ValueError:
        pass
    t = text[:157]
    while t:
        try:
            smscodec.encode_sms(t + "...")
            return t + "..."
        except ValueError:
            t = t[:-1]
    return ""


# ---- server commands (watch-protocol.md §5) -----------------------------------------------------
# Each handler gets the working copy `new` and the stripped arguments (an empty list when the
# content has no comma) and returns (actions, reply_tail); it raises _Refused to refuse.


def _action(name, reply=""):
    """A command without arguments that asks the shell for one action."""
    def handler(new, args):
        _arity(args, 0, 0)
        return ((name,),), reply
    return handler


# FACTORY keeps what the watch needs to be reached at all: the server that sent the command,
# its id there, how to reach it (protocol, TLS: a factory reset must not send in clear), and the
# PIN for SMS commands
_KEEP_ON_FACTORY = ("pin", "server_host", "server_port", "device_id", "maker", "protocol", "tls", "apn")


def _factory(new, args):
    """Every setting back to its default but _KEEP_ON_FACTORY (the shell logs the action)."""
    _arity(args, 0, 0)
    for k in config.DEFAULTS:
        if k not in _KEEP_ON_FACTORY:
            d = config.DEFAULTS[k]
            new[k] = list(d) if isinstance(d, list) else d
    return (("factory",),), ""


def _setting_flag(key, what):
    def handler(new, args):
        _arity(args, 1, 1)
        new[key] = _flag(args[0], what)
        return (), ""
    return handler


def _setting_uint(key, most_digits, what):
    """One number for key; its range is config's."""
    def handler(new, args):
        _arity(args, 1, 1)
        new[key] = _uint(args[0], most_digits, what)
        return (), ""
    return handler


def _setting_list(key):
    """The whole list for key, empty fields left out; config validates the items."""
    def handler(new, args):
        _arity(args, 1, _LIST_MAX)
        new[key] = [a for a in args if a]
        return (), ""
    return handler


_upload = _setting_uint("report_interval_s", 6, "interval")  # positionPeriodic


def _sos_slot(i):
    def handler(new, args):  # sosNumber: SOS<i>,<phone>; empty phone: slot i emptied
        _arity(args, 1, 1)
        slots = _sos_numbers(new)
        while len(slots) < i:
            slots.append("")
        names = {}
        if args[0]:
            n = _number(args[0], new["country_code"], True)
            if n in slots:
                slots[slots.index(n)] = ""  # one number holds one place
            names[n] = "SOS %d" % i
        else:
            n = ""
        slots[i - 1] = n
        _set_sos(new, [s for s in slots if s], names)
        return (), ""
    return handler


def _sos_all(new, args):  # SeTracker's SOS,n1,n2,n3 (issue #2702): the whole SOS list
    _arity(args, _SOS_SLOTS, _SOS_SLOTS)
    wanted = []
    names = {}
    for i in range(_SOS_SLOTS):
        if args[i]:
            n = _number(args[i], new["country_code"], True)
            if n in wanted:
                raise _Refused("number %d: given twice" % (i + 1))
            wanted.append(n)
            names[n] = "SOS %d" % (i + 1)
    _set_sos(new, wanted, names)
    return (), ""


def _silencetime(new, args):  # silenceTime: HH:MM-HH:MM,... every day
    _arity(args, 1, _LIST_MAX)
    windows = []
    for a in args:
        if not a:
            continue
        if len(a) != 11 or a[5] != "-":
            raise _Refused("window: HH:MM-HH:MM")
        if a[:5] == a[6:]:
            continue  # 00:00-00:00: the vendors' apps fill unused places so
        windows.append("Mo-Su " + a)
    new["school_windows"] = windows
    return (), ""


def _phonebook(new, args):  # setPhonebook: number,NAMEHEX,... (names UTF-16BE hex, PR #4206)
    if not args or len(args) % 2:
        raise _Refused("number,NAMEHEX pairs expected")
    if len(args) > 2 * contacts.MAX_CONTACTS:
        raise _Refused("too many entries")
    for i in range(0, len(args), 2):
        if not args[i]:
            continue  # an empty place (vendors pad PHB to 5 entries)
        n = _number(args[i], new["country_code"], True)
        try:
            name = smscodec.from_ucs2_hex(args[i + 1])
        except ValueError:
            raise _Refused("name %d: not UTF-16BE hex" % (i // 2 + 1))
        _upsert(new, n, name, None, n)
    return (), ""


def _message(new, args):  # message: UTF-16BE hex (PR #4206)
    _arity(args, 1, 1)
    try:
        text = smscodec.from_ucs2_hex(args[0])
    except ValueError:
        raise _Refused("not UTF-16BE hex")
    if not text:
        raise _Refused("empty message")
    # a control character would break the display line or the log; newlines are the guardian's
    text = "".join([c if (c >= " " and not "\x7f" <= c <= "\x9f") or c == "\n" else " " for c in text])
    return (("message", text),), ""


def _lz(new, args):  # setTimezone: LZ,<language>,<raw offset in decimal hours>
    _arity(args, 2, 2)
    if args[0]:  # empty: not given (Traccar sends "LZ,,+1" without a language): keep it
        new["language"] = args[0]
    # The raw (standard) offset: tz_rule is Trygg's own setting (TZRULE) and LZ says nothing
    # about daylight saving, so it is kept as it is.
    new["tz_offset_min"] = _offset_min(args[1])
    return (), ""


def _whitelist(new, args):  # WHITELIST1/2,<up to 5 numbers>: friends, named by their number
    _arity(args, 1, _WHITELIST_SLOTS)
    for a in args:
        if a:
            n = _number(a, new["country_code"], True)
            _upsert(new, n, None, None, n)
    return (), ""


def _center(new, args):  # the "center number": that number becomes a guardian
    _arity(args, 1, 1)
    n = _number(args[0], new["country_code"], True)
    _give_role(new, n, "guardian", "Guardian")
    return (), ""


# -- Trygg's own --


def _add(new, args, strict):
    """<number>,<name>[,<roles>] (CONTACT, SMS add) -> (E.164 number, the new or updated
    entry). strict: the server's number grammar (_number); else a name is required (SMS)."""
    _arity(args, 2, 3)
    n = _number(args[0], new["country_code"], strict)
    if not strict and not args[1]:
        raise _Refused("name: empty")
    roles = _roles(args[2]) if len(args) == 3 and args[2] else None
    return n, _upsert(new, n, args[1], roles, n)


def _remove(new, args, strict):
    """<number> (CONTACTDEL, SMS remove): takes that contact off the list. Returns (E.164
    number, True if there was one)."""
    _arity(args, 1, 1)
    n = _number(args[0], new["country_code"], strict)
    cl = new["contacts"]
    i = _find(cl, n, new["country_code"])
    if i >= 0:
        del cl[i]
    return n, i >= 0


def _set_school(new, args, why):
    """auto|on|off in any case -> school_mode; why: the refusal's text."""
    _arity(args, 1, 1)
    m = args[0].lower()
    if m not in ("auto", "on", "off"):
        raise _Refused(why)
    new["school_mode"] = m
    return m


def _contact(new, args):  # CONTACT,<number>,<name>[,<roles>]
    _add(new, args, True)
    return (), ""


def _contactdel(new, args):  # CONTACTDEL,<number>
    if not _remove(new, args, True)[1]:
        raise _Refused("not in the contacts")
    return (), ""


def _contacts_list(new, args):  # CONTACTS: the list, number,name,roles per contact
    _arity(args, 0, 0)
    out = ["%d" % len(new["contacts"])]
    for c in new["contacts"]:
        out.append("%s,%s,%s" % (_ascii(c["number"], contacts.NUMBER_MAX),
                                 _ascii(c["name"], contacts.NAME_MAX), "+".join(c["roles"])))
    return (), ",".join(out)


def _school(new, args):  # SCHOOL,auto|on|off
    _set_school(new, args, "auto, on or off")
    return (), ""


def _schooltime(new, args):  # SCHOOLTIME,<days> HH:MM-HH:MM,...  (day lists with '+')
    _arity(args, 1, _LIST_MAX)
    windows = []
    for a in args:
        if a:
            # "Mo+We 14:00-15:00": '+' stands for the ',' the stored form uses (school.py),
            # which would split the command's fields
            windows.append(" ".join(a.replace("+", ",").split()))
    new["school_windows"] = windows
    return (), ""


def _tzrule(new, args):  # TZRULE,EU|US|NONE
    _arity(args, 1, 1)
    r = args[0].upper()
    if r in ("NONE", ""):
        r = ""
    elif r not in ("EU", "US"):
        raise _Refused("EU, US or NONE")
    new["tz_rule"] = r
    return (), ""


# -- safe zones (firmware/zones.py; their ranges and names are zones.check's) --


def _udeg(s, what):
    """Decimal degrees ('59.9236', '-0.5') -> micro-degrees, without floats; ASCII only (the
    SMS path lets other scripts' digits through, which int() reads on CPython only)."""
    if not s or len(s) > 14 or s.strip("+-.0123456789"):
        raise _Refused("%s: degrees like 59.9236" % what)
    try:
        return fix.udeg_from_decimal(s)
    except ValueError:
        raise _Refused("%s: degrees like 59.9236" % what)


def _deg(v):
    """Micro-degrees -> the shortest decimal degrees ('59.9236', '10')."""
    return fix.format_udeg(v).rstrip("0").rstrip(".")


def _zone_find(zl, name):
    low = name.lower()
    for i in range(len(zl)):
        if isinstance(zl[i], dict) and str(zl[i].get("name")).lower() == low:
            return i
    return -1


def _zone_put(new, args):
    """<name>,<lat>,<lon>,<radius_m> (a circle) or <name>,<lat1>,<lon1>,<lat2>,<lon2>,... (a
    polygon, 3 to 32 vertices): adds the zone, or replaces the one with that name (in any
    case) in its place. Returns the zone."""
    nums = args[1:]
    if len(nums) == 3:
        z = {"name": args[0], "lat": _udeg(nums[0], "lat"), "lon": _udeg(nums[1], "lon"),
             "r": _uint(nums[2], 5, "radius")}
    elif len(nums) < 3:
        raise _Refused("name,lat,lon,radius (a circle) or name,lat1,lon1,... (a polygon)")
    elif len(nums) % 2:
        raise _Refused("a polygon needs lat,lon pairs: an even count of numbers")
    elif not 2 * zones.VERTICES_MIN <= len(nums) <= 2 * zones.VERTICES_MAX:
        raise _Refused("a polygon needs %d to %d vertices" % (zones.VERTICES_MIN, zones.VERTICES_MAX))
    else:
        poly = []
        for k in range(0, len(nums), 2):
            poly.append([_udeg(nums[k], "lat%d" % (k // 2 + 1)), _udeg(nums[k + 1], "lon%d" % (k // 2 + 1))])
        z = {"name": args[0], "poly": poly}
    zl = list(new["zones"])  # a copy: the caller's list never changes
    i = _zone_find(zl, args[0])
    if i < 0:
        zl.append(z)
    else:
        zl[i] = z
    new["zones"] = zl
    return z


def _zone_del(new, args):
    """<name> (ZONEDEL, SMS zonedel): removes that zone; refused if there is none."""
    _arity(args, 1, 1)
    zl = list(new["zones"])
    i = _zone_find(zl, args[0])
    if i < 0:
        raise _Refused("no such zone")
    del zl[i]
    new["zones"] = zl


def _zone(new, args):  # ZONE,<name>,<lat>,<lon>,<radius_m> | ZONE,<name>,<lat1>,<lon1>,...
    _zone_put(new, args)
    return (), ""


def _zonedel(new, args):  # ZONEDEL,<name>
    _zone_del(new, args)
    return (), ""


def _zones_list(new, args):  # ZONES: count, then name,circle,lat,lon,r or name,poly,<vertices>
    _arity(args, 0, 0)
    out = ["%d" % len(new["zones"])]
    for z in new["zones"]:
        name = _ascii(z["name"], zones.NAME_MAX)
        if "poly" in z:
            out.append("%s,poly,%d" % (name, len(z["poly"])))
        else:
            out.append("%s,circle,%s,%s,%d" % (name, _deg(z["lat"]), _deg(z["lon"]), z["r"]))
    return (), ",".join(out)


def _status(new, args):  # STATUS: what a guardian may need to see, never the PIN
    _arity(args, 0, 0)
    sos = _sos_numbers(new)
    out = [
        "interval=%d" % new["report_interval_s"],
        "school=%s" % new["school_mode"],
        "ring=%d" % int(new["school_guardian_rings"]),
        "windows=%s" % ";".join([w.replace(",", "+") for w in new["school_windows"]]),
        "tz=%s" % _hhmm_offset(new["tz_offset_min"]),
        "tzrule=%s" % (new["tz_rule"] or "NONE"),
        "lang=%s" % new["language"],
        "sos=%s" % ";".join(sos),
        "contacts=%d" % len(new["contacts"]),
        "guardians=%d" % _guardians(new),
        "cc=%s" % new["country_code"],
        "sossms=%d" % int(new["sos_sms"]),
        "lowbat=%d" % int(new["lowbat_alarm"]),
        "lowbatpct=%d" % new["lowbat_pct"],
        "remove=%d" % int(new["remove_alarm"]),
        "reminders=%d" % len(new["reminders"]),
        "sms=%s" % ("on" if new["pin"] else "off"),
        "zones=%d" % len(new["zones"]),
    ]
    return (), ",".join([_ascii(x, 400) for x in out])


_SERVER = {
    # the 16 types of Traccar's `watch` encoder (watch-protocol.md §5), but TK (binary: below)
    "CR": _action("locate"),  # positionSingle
    "UPLOAD": _upload,
    "SOS1": _sos_slot(1),
    "SOS2": _sos_slot(2),
    "SOS3": _sos_slot(3),
    "SOSSMS": _setting_flag("sos_sms", "SOSSMS"),
    "LOWBAT": _setting_flag("lowbat_alarm", "LOWBAT"),
    "REMOVE": _setting_flag("remove_alarm", "REMOVE"),
    "RESET": _action("reset"),  # rebootDevice
    "POWEROFF": _action("poweroff"),
    "SILENCETIME": _silencetime,
    "REMIND": _setting_list("reminders"),  # alarmClock: HH:MM-S-F[-days], at most 8
    "PHB": _phonebook,
    "MESSAGE": _message,
    "LZ": _lz,
    "FLOWER": _setting_uint("flowers", 3, "flowers"),  # setIndicator
    # conventional ones that arrive as `custom` (the data verbatim)
    "SOS": _sos_all,
    "PHB2": _phonebook,
    "FIND": _action("find"),
    "FACTORY": _factory,
    "PEDO": _setting_flag("pedometer", "PEDO"),
    "WHITELIST1": _whitelist,
    "WHITELIST2": _whitelist,
    "WORK": _setting_list("work_windows"),  # WORK,6-9,11-13: hour ranges; stored only
    "WORKTIME": _setting_uint("work_time_min", 4, "minutes"),
    "CENTER": _center,
    # Trygg's own (docs/commands.md)
    "CONTACT": _contact,
    "CONTACTDEL": _contactdel,
    "CONTACTS": _contacts_list,
    "SCHOOL": _school,
    "SCHOOLRING": _setting_flag("school_guardian_rings", "SCHOOLRING"),
    "SCHOOLTIME": _schooltime,
    "TZRULE": _tzrule,
    "SOSCANCEL": _action("sos_cancel"),
    "STATUS": _status,
    "LOWBATLEVEL": _setting_uint("lowbat_pct", 2, "percent"),  # the low-battery alarm's level
    "ZONE": _zone,
    "ZONEDEL": _zonedel,
    "ZONES": _zones_list,
}


def _base(values):
    """A complete working copy of the settings; the contacts are copied down to their roles,
    so that nothing a command does reaches the caller's dict."""
    new = dict(config.DEFAULTS)
    new.update(values)
    try:
        new["contacts"] = [{"name": c["name"], "number": c["number"], "roles": list(c["roles"])}
                           for c in new["contacts"]]
    except (KeyError, TypeError, AttributeError):
        raise _Refused("contacts: unreadable settings")
    return new


def _finish(values, new):
    """The complete new settings, or None if nothing changed. Raises ConfigError."""
    base = _base(values)
    if new == base:
        return None
    config.check_all(new)
    return new


def _name_of(content):
    """The command name (up to the first comma) as str, upper case, from str or bytes."""
    if isinstance(content, bytes):
        i = content.find(b",")
        head = content if i < 0 else content[:i]
        head = smscodec.printable(head[:2 * _ECHO_MAX])
    else:
        i = content.find(",")
        head = (content if i < 0 else content[:i])[:2 * _ECHO_MAX]
    return head.strip().upper()


def _text_of(content):
    """The content as str if it is acceptable text, else _Refused."""
    if isinstance(content, bytes):
        for b in content:
            if b >= 0x80:
                raise _Refused("not ASCII")
        content = content.decode()
    for c in content:
        if c < " " or c == "\x7f":
            raise _Refused("control character")
        if c > "~":
            raise _Refused("not ASCII")  # Traccar sends US-ASCII: its '?' would be there instead
    if "{uniqueId}" in content:
        raise _Refused("a {uniqueId} left in the text (Traccar should have replaced it)")
    if "%" in content:
        # the text went through Java's formatter, which a '%' breaks (watch-protocol.md §5)
        raise _Refused("a percent sign in the text")
    for c, word in (("{", "brace"), ("}", "brace"), ("[", "bracket"), ("]", "bracket"), ("*", "star")):
        if c in content:
            # framing and escape bytes (watch-protocol.md §2) no command uses; named in words,
            # as the reply cannot carry them
            raise _Refused("a %s in the text" % word)
    return content


def apply_server(values, content):
    """A downlink's content (str or bytes; see the module docstring) -> Result."""
    if isinstance(content, bytearray):
        content = bytes(content)
    if not isinstance(content, (str, bytes)):
        return Result(None, "UNKNOWN,refused,not text", (), "not text")
    name = _name_of(content)
    if name == "TK":
        return _voice(content)
    reply = _echo(name)
    try:
        if len(content) > _TEXT_MAX:
            raise _Refused("longer than %d bytes" % _TEXT_MAX)
        text = _text_of(content)
        fields = text.split(",")
        args = [f.strip() for f in fields[1:]]
        if _banned(name):
            raise _Refused(_BANNED_WHY)
        handler = _SERVER.get(name)
        if handler is None:
            raise _Refused("unknown command")
        reply = name
        new = _base(values)
        actions, tail = handler(new, args)
        out = _finish(values, new)
    except Exception as e:  # _Refused, ConfigError, ContactError; anything else is a bug here
        why = _why(e)
        return Result(None, "%s,refused,%s" % (reply, _ascii(why, _REASON_MAX)), (), why)
    return Result(out, reply + ("," + tail if tail else ""), actions, None)


def _why(e):
    """The reason of a refusal, one printable line. Not a ValueError: a bug in this module,
    refused (and logged by the shell) rather than raised into the receiver's loop."""
    if isinstance(e, ValueError):
        return _clean(str(e), _REASON_MAX)
    return _clean("internal error: %s" % type(e).__name__, _REASON_MAX)


def _voice(content):
    """TK,<voice bytes> (voiceMessage). Kept for a speaker a later board may bring, never played
    here. The watches answer TK,1 / TK,0, which Traccar ignores (a one-byte TK, §4); any
    longer TK reply would be stored as a voice message from the watch."""
    comma = content.find(b"," if isinstance(content, bytes) else ",")
    data = content[comma + 1:] if comma >= 0 else None
    if isinstance(data, str):
        data = data.encode()  # undoes the shell's decode: the bytes as they arrived
    why = None
    if data is None:
        why = "1 argument expected, not 0"
    elif not data:
        why = "empty voice message"
    elif len(data) > _VOICE_MAX:
        why = "voice message over %d bytes" % _VOICE_MAX
    if why:
        return Result(None, "TK,0", (), why)
    return Result(None, "TK,1", (("voice", bytes(data)),), None)


# ---- SMS commands ---------------------------------------------------------------------------------

# One SMS in GSM 7-bit: no '|', '[', ']' or '{' (extension characters, two septets each).
HELP = ("pw,PIN,command# - where; interval,SECONDS; add,NUMBER,NAME(,ROLES: guardian+sos+friend); "
        "remove,NUMBER; school,on/off/auto; cancel (ends an SOS); status; help")


def _sms_interval(new, args):
    _upload(new, args)
    return (), "OK: report every %d s" % new["report_interval_s"]


def _sms_add(new, args):
    n, c = _add(new, args, False)
    return (), "OK: %s %s %s" % (c["name"], n, "+".join(c["roles"]))


def _sms_remove(new, args):
    n, found = _remove(new, args, False)
    if not found:
        raise _Refused("%s is not in the contacts" % n)
    return (), "OK: removed %s" % n


def _sms_school(new, args):
    return (), "OK: school mode %s" % _set_school(new, args, "school,on or school,off or school,auto")


_sms_cancel = _action("sos_cancel", "OK: SOS ended (if one was running)")


def _sms_sos(new, args):
    _arity(args, 1, 1)
    if args[0].lower() != "off":
        raise _Refused("sos,off ends an SOS")
    return _sms_cancel(new, [])


def _sms_status(new, args):
    _arity(args, 0, 0)
    sos = [c["name"] for c in new["contacts"] if "sos" in c["roles"]]
    return (), ("Every %d s. School %s, %d windows. TZ %s %s. SOS: %s. Contacts %d."
                % (new["report_interval_s"], new["school_mode"], len(new["school_windows"]),
                   _hhmm_offset(new["tz_offset_min"]), new["tz_rule"] or "no DST",
                   ", ".join(sos) or "none", len(new["contacts"])))


def _sms_zone(new, args):
    z = _zone_put(new, args)
    if "poly" in z:
        return (), "OK: zone %s, %d corners" % (z["name"], len(z["poly"]))
    return (), "OK: zone %s, %d m around %s,%s" % (z["name"], z["r"], _deg(z["lat"]), _deg(z["lon"]))


def _sms_zonedel(new, args):
    _zone_del(new, args)
    return (), "OK: removed zone %s" % args[0]


def _sms_zones(new, args):
    _arity(args, 0, 0)
    out = []
    for z in new["zones"]:
        if "poly" in z:
            out.append("%s (%d corners)" % (z["name"], len(z["poly"])))
        else:
            out.append("%s (%d m)" % (z["name"], z["r"]))
    return (), "Zones: %s." % (", ".join(out) or "none")


def _sms_lowbat(new, args):  # lowbat,<pct>: LOWBATLEVEL
    _SERVER["LOWBATLEVEL"](new, args)
    return (), "OK: low battery alarm at %d%%" % new["lowbat_pct"]


def _sms_help(new, args):
    return (), HELP


_SMS = {
    "where": _action("where"),  # the shell answers with the map link
    "interval": _sms_interval,
    "add": _sms_add,
    "remove": _sms_remove,
    "school": _sms_school,
    "sos": _sms_sos,
    "cancel": _sms_cancel,
    "status": _sms_status,
    "help": _sms_help,
    "zone": _sms_zone,
    "zonedel": _sms_zonedel,
    "zones": _sms_zones,
    "lowbat": _sms_lowbat,
}


def apply_sms(values, text):
    """The command of a guardian's SMS (after the PIN check) -> Result; the reply fits one SMS.
    Refused when the PIN is empty (SMS commands off), whatever the shell did."""
    try:
        if not isinstance(text, str):
            raise _Refused("not text")
        if not values.get("pin"):
            raise _Refused("SMS commands are off")
        if len(text) > _SMS_CMD_MAX:
            raise _Refused("too long")
        for c in text:
            if c < " " or c == "\x7f":
                raise _Refused("control character")
        fields = [f.strip() for f in text.split(",")]
        name = fields[0].lower()
        if _banned(name.upper()):
            raise _Refused(_BANNED_WHY)
        handler = _SMS.get(name)
        if handler is None:
            raise _Refused("unknown command; send help")
        new = _base(values)
        had = _guardians(new)
        actions, reply = handler(new, fields[1:])
        if had and not _guardians(new):
            # SMS commands come only from guardians' numbers: with none left, SMS control is
            # gone for good on a watch without a server. The server (CONTACTDEL) can.
            raise _Refused("the last guardian cannot be removed by SMS")
        out = _finish(values, new)
    except Exception as e:  # as in apply_server
        why = _why(e)
        return Result(None, _fit_sms("Refused: " + why), (), why)
    return Result(out, _fit_sms(reply), actions, None)


def parse_sms(text):
    """'pw,<pin>,<command>#' (any case of 'pw', the final '#' optional, spaces around the parts)
    -> (pin, command), or None when the text is not of that form (an ordinary message). The
    pin is returned for the caller to compare; it is digits, 1 to 16 of them."""
    if not isinstance(text, str) or len(text) > _SMS_TEXT_MAX:
        return None
    t = text.strip()
    while t.endswith("#"):
        t = t[:-1].rstrip()
    head, sep, rest = t.partition(",")
    if not sep or head.strip().lower() != "pw":
        return None
    pin, sep, command = rest.partition(",")
    pin = pin.strip()
    command = command.strip()
    if not sep or not command or not contacts.digits(pin) or len(pin) > 16:
        return None
    return pin, command


# ---- PIN guard ---------------------------------------------------------------------------------------

_WRONG_MAX = const(5)  # wrong PINs from one number within _WINDOW_S lock the channel
_WINDOW_S = const(3600)
_LOCK_S = const(3600)
_NUMBERS_MAX = const(8)
_KEY_MAX = const(32)


class PinGuard:
    """Wrong PINs counted per number: 5 within an hour lock SMS commands for an hour, for every
    number (an attacker with several guardian SIMs still gets 5 tries per number, then nobody
    gets any). Time is an argument (epoch seconds). At most 8 numbers are tracked; the one
    whose last wrong PIN is oldest is forgotten first. While locked the shell must not check
    PINs at all: a right PIN answered during the lock would be an oracle for a brute force."""

    def __init__(self):
        self._wrong = {}  # number -> times of its recent wrong PINs (at most _WRONG_MAX)
        self._locked_at = None

    def allowed(self, now_s):
        t = self._locked_at
        if t is None:
            return True
        if now_s < t:
            self._locked_at = now_s  # the clock was set back: a full hour from now, not longer
            return False
        if now_s - t < _LOCK_S:
            return False
        self._locked_at = None
        return True

    def wrong(self, number, now_s):
        """Count a wrong PIN from number. True when this attempt locked the channel."""
        if not self.allowed(now_s):
            return False  # already locked; the shell does not ask then
        key = str(number)[:_KEY_MAX]
        # a time ahead of now (the clock was set back) counts as now: still recent
        times = [t if t <= now_s else now_s for t in self._wrong.get(key, ()) if now_s - t < _WINDOW_S]
        times.append(now_s)
        if len(times) >= _WRONG_MAX:
            self._wrong = {}
            self._locked_at = now_s
            return True
        if key not in self._wrong and len(self._wrong) >= _NUMBERS_MAX:
            oldest = None
            for k in self._wrong:
                if oldest is None or self._wrong[k][-1] < self._wrong[oldest][-1]:
                    oldest = k
            del self._wrong[oldest]
        self._wrong[key] = times
        return False

    def right(self, number, now_s):
        """A right PIN: that number's count starts again."""
        self._wrong.pop(str(number)[:_KEY_MAX], None)

    def tracked(self):
        """How many numbers have wrong PINs counted (for tests and the log)."""
        return len(self._wrong)
