"""The contact whitelist: who may call the watch, whose SMS it keeps, whom an SOS alerts.

The config holds up to 50 contacts, each {"name": "Mamma", "number": "+47 911 11 111",
"roles": ["guardian", "sos"]}. Numbers are matched in E.164 ("+4791111111"): the parent types
them as they like, the network reports them in +CLIP/+CMT international or national
(hardware.md §1.5-1.6), so both sides are normalised before they are compared.

check() validates the config value and raises ContactError naming the entry and field.
Contacts() never raises: a contact that cannot be used (bad entry, a national number without a
country code, a duplicate) is skipped and listed in .skipped for the app to log, and the watch
keeps running with the others. An unknown or withheld caller never matches: the whitelist
fails closed.
"""
try:
    from micropython import const
except ImportError:  # CPython
    const = lambda x: x

MAX_CONTACTS = const(50)  # as the largest peer (Xplora X5 Play: 50 numbers, peers.md)
NAME_MAX = const(32)
NUMBER_MAX = const(32)
_E164_MIN = const(3)
_E164_MAX = const(15)  # ITU-T E.164: at most 15 digits, country code included

ROLES = ("guardian", "sos", "friend")
_FIELDS = ("name", "number", "roles")
_SEPARATORS = " -.()"

# Type of address (3GPP TS 24.008 §10.5.4.7) as +CLIP/+CMT report it, e.g. 145 = 0x91:
# bits 6..4 are the type of number.
_TON_MASK = const(0x70)
_TON_INTERNATIONAL = const(0x10)
_TON_ALPHANUMERIC = const(0x50)  # a sender name such as "Telenor": anyone can set one


class ContactError(ValueError):
    """A bad contact or number; `field` names it, e.g. "contacts[3].number"."""

    def __init__(self, field, msg):
        super().__init__("%s: %s" % (field, msg))
        self.field = field


def digits(s):
    """True if s is one or more ASCII digits. Not isdigit(): CPython takes other scripts'
    digits too (and int() reads them), MicroPython does not, so a value would be valid on one
    interpreter only. Shared by config, commands, school, the watch protocol and the modem
    drivers."""
    if not s:
        return False
    for c in s:
        if not "0" <= c <= "9":
            return False
    return True


def _check_country_code(cc):
    # E.164 country codes are 1-3 digits and never start with 0 (0 is a trunk or an
    # international prefix).
    if type(cc) is not str or not 1 <= len(cc) <= 3 or cc[0] == "0" or not digits(cc):
        raise ContactError("country_code", "1-3 digits without '+', not %r" % (cc,))


def _compact(s):
    return "".join([c for c in s if c not in _SEPARATORS])


def _parse(number, field):
    """number -> (prefix, digits): prefix "+" when digits start with the country code ('+' or
    the international prefix '00'), "0" for a national number after its trunk prefix, "" for a
    national number without one. Raises ContactError(field) for an empty or malformed number."""
    if not number:
        raise ContactError(field, "empty (withheld)")
    if type(number) is not str:
        raise ContactError(field, "must be a string")
    s = _compact(number)
    if "(0)" in number:
        # "+49 (0)171 ...": the bracketed trunk 0 is dialled only within the country
        t = _compact(number.replace("(0)", ""))
        if t[:1] == "+" or t[:2] == "00":
            s = t
    if s[:1] == "+":
        prefix, s = "+", s[1:]
    elif s[:2] == "00":
        prefix, s = "+", s[2:]
    elif s[:1] == "0":
        prefix, s = "0", s[1:]
    else:
        prefix = ""
    if s and not digits(s):  # no digits at all: the length checks of the callers say so
        raise ContactError(field, "only digits, a leading '+' and the separators ' -.()'")
    if prefix == "+" and s[:1] == "0":
        raise ContactError(field, "a country code never starts with 0")
    return prefix, s


def _normalize(number, country_code, field):
    prefix, digits = _parse(number, field)
    if prefix != "+":
        if not country_code:
            raise ContactError(field, "national number, but no country code is set")
        _check_country_code(country_code)
        if not digits:
            raise ContactError(field, "no digits")
        digits = country_code + digits
    if not _E164_MIN <= len(digits) <= _E164_MAX:
        raise ContactError(field, "%d digits; E.164 numbers have 3 to 15" % len(digits))
    return "+" + digits


def normalize(number, country_code):
    """A phone number as typed or as the network reports it -> E.164 "+<digits>".

    country_code: digits without '+' ("47"), or "" when not configured: then only the
    international forms ("+47 ...", "0047 ...") can be normalised. A national number drops a
    single leading 0 (the trunk prefix: "0171 ..." -> "+49171 ...") and gets the country code.
    Raises ContactError for an empty (withheld) or malformed number."""
    return _normalize(number, country_code, "number")


def _check_name(name, field):
    if type(name) is not str or not 1 <= len(name) <= NAME_MAX:
        raise ContactError(field, "1 to %d characters" % NAME_MAX)
    for c in name:
        # a control character would break a log or display line; ',' and '"' would break the
        # comma-separated SMS commands and the quoted AT strings the name may travel in
        if c < " " or "\x7f" <= c <= "\x9f" or c in ',"':
            raise ContactError(field, "no control characters, commas or double quotes")


def _check_number(number, field):
    if type(number) is not str or len(number) > NUMBER_MAX:
        raise ContactError(field, "a string of at most %d characters" % NUMBER_MAX)
    prefix, digits = _parse(number, field)
    if prefix == "+":
        _normalize(number, "", field)  # complete: the length can be checked now
    elif not 1 <= len(digits) <= _E164_MAX - 1:  # the country code (unknown here) takes a digit
        raise ContactError(field, "a national number has 1 to %d digits" % (_E164_MAX - 1))


def _check_roles(roles, field):
    if type(roles) is not list or not roles:
        raise ContactError(field, "a non-empty list of: " + ", ".join(ROLES))
    for r in roles:
        if r not in ROLES:
            raise ContactError(field, "unknown role %r; roles are: %s" % (r, ", ".join(ROLES)))
        if roles.count(r) > 1:
            raise ContactError(field, "%r listed twice" % r)


def _check_entry(i, entry):
    where = "contacts[%d]" % i
    if type(entry) is not dict:
        raise ContactError(where, "must be an object")
    for k in entry:
        if k not in _FIELDS:
            raise ContactError("%s.%s" % (where, k), "unknown field")
    for k in _FIELDS:
        if k not in entry:
            raise ContactError("%s.%s" % (where, k), "missing")
    _check_name(entry["name"], where + ".name")
    _check_number(entry["number"], where + ".number")
    _check_roles(entry["roles"], where + ".roles")


def check(value):
    """Validate the config value (a list of contacts); raises ContactError for the first bad
    entry. The country code is not known here: a national number is checked for syntax only."""
    if type(value) is not list:
        raise ContactError("contacts", "must be a list")
    if len(value) > MAX_CONTACTS:
        raise ContactError("contacts", "at most %d, not %d" % (MAX_CONTACTS, len(value)))
    for i in range(len(value)):
        _check_entry(i, value[i])


class Contact:
    """One usable contact: number in E.164, roles a tuple, index its position in the config."""

    def __init__(self, name, number, roles, index):
        self.name = name
        self.number = number
        self.roles = roles
        self.index = index

    @property
    def is_guardian(self):
        return "guardian" in self.roles

    @property
    def is_sos(self):
        return "sos" in self.roles

    def __repr__(self):
        return "Contact(%d %s %s)" % (self.index, self.number, "/".join(self.roles))


class Contacts:
    """The whitelist, indexed once by E.164 number. Never raises: unusable entries are listed in
    .skipped as (index, reason); index is None when the whole value is not a list."""

    def __init__(self, entries, country_code):
        self.country_code = country_code
        self.skipped = []
        self._by_number = {}
        self._sos = []
        self._guardians = []
        if entries is None:
            entries = []
        elif type(entries) is not list:
            self.skipped.append((None, "contacts: must be a list"))
            entries = []
        for i in range(len(entries)):
            if i == MAX_CONTACTS:
                self.skipped.append((i, "contacts[%d]: more than %d contacts, the rest ignored"
                                     % (i, MAX_CONTACTS)))
                break
            e = entries[i]
            try:
                _check_entry(i, e)
                number = _normalize(e["number"], country_code, "contacts[%d].number" % i)
            except ContactError as x:
                self.skipped.append((i, str(x)))
                continue
            first = self._by_number.get(number)
            if first is not None:
                # the first one wins: list order is the parent's order (and the SOS order)
                self.skipped.append((i, "contacts[%d].number: %s again (contacts[%d])"
                                     % (i, number, first.index)))
                continue
            c = Contact(e["name"], number, tuple(e["roles"]), i)
            self._by_number[number] = c
            if c.is_sos:
                self._sos.append(c)
            if c.is_guardian:
                self._guardians.append(c)

    def __len__(self):
        return len(self._by_number)

    def find(self, number, ntype=None):
        """The contact calling or texting from number as +CLIP/+CMT report it, or None.

        ntype: the type of address (145 international, 129/161 national, 128 unknown). Some
        modems report an international number without its '+' when the type says international.
        A withheld, empty, alphanumeric or unparseable number matches nobody; never raises."""
        if not number or type(number) is not str:
            return None
        if type(ntype) is int:
            ton = ntype & _TON_MASK
            if ton == _TON_ALPHANUMERIC:
                return None
            if ton == _TON_INTERNATIONAL and number[0] != "+" and number[:2] != "00":
                number = "+" + number
        try:
            n = normalize(number, self.country_code)
        except ValueError:
            return None
        return self._by_number.get(n)

    def sos(self):
        """The SOS contacts, in list order (the order an SOS alerts them)."""
        return list(self._sos)

    def guardians(self):
        """The guardians, in list order."""
        return list(self._guardians)
