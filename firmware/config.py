"""The watch's settings: <root>/config.json with defaults, validation and atomic saves.

* Every key has a default (DEFAULTS); a value must have the default's type (bool is not int)
  and pass its rule; unknown keys are rejected. Errors are ConfigError naming the field.
* save() writes the FULL dict, not only the values that differ from the defaults. The file then
  shows exactly what the watch runs with (a parent or a supporter can read it), and a firmware
  update that changes a default never silently changes a watch that was already set up.
* Saves are atomic (fsutil.atomic_write: .tmp, close, rename). At load a stale config.json.tmp is
  a save cut short before its rename: config.json is still the last good file, the .tmp is deleted.
  A corrupt config.json (not JSON, not an object, or a value that fails validation) is moved aside
  to config.json.bad for a post-mortem, defaults are used, and the reason is kept in `recovered`
  for the application to log.
"""
import json

from firmware import contacts, fsutil, school, zones

FILENAME = "config.json"
# The settings are ~500 bytes plus up to 50 contacts (~100 bytes each) and 8 zones (8 polygons of
# 32 vertices are ~6 KB of JSON): a file over 24 KiB is garbage, not read into RAM.
_MAX_BYTES = 24576

DEFAULTS = {
    # Empty: use the modem's IMEI. Traccar matches the id exactly (watch-protocol.md §3), so the
    # app must show the id in use for the parent to type into the server.
    "device_id": "",
    # Empty: no server configured, reports stay queued in the outbox. Privacy by default: the
    # firmware ships with no third-party server.
    "server_host": "",
    # The port of the chosen protocol: Traccar's watch port 5093, OsmAnd's 5055 (watch-protocol.md
    # §1), or the TLS front's before either (docs/transports.md)
    "server_port": 5093,
    # "watch": Traccar's watch protocol on one TCP session (firmware/uplink.py); "osmand": one
    # HTTP GET per report, Traccar's OsmAnd protocol (watch-protocol.md §7, firmware/osmand.py)
    "protocol": "watch",
    # TLS to the server, checked against the CA provisioned with the watch (<root>/ca.pem, written
    # by provisioning, never logged; docs/transports.md). While set, nothing is sent in clear:
    # without TLS in the modem's driver or without the CA, the reports stay queued.
    "tls": False,
    "maker": "SG",  # the 2-character manufacturer field of a watch frame (watch-protocol.md §2)
    "report_interval_s": 300,
    # Below Traccar's 1800 s idle timeout, with a minute of margin (watch-protocol.md §1).
    "heartbeat_s": 600,
    "apn": "",  # empty: the modem's / network's default
    "gnss_timeout_s": 45,
    "tz_offset_min": 0,  # standard (non-DST) offset of the local time, when the network gives none
    # The whitelist: [{"name", "number", "roles": ["guardian", "sos", "friend"]}], at most 50
    # (firmware/contacts.py). SOS contacts are alerted and called in this order.
    "contacts": [],
    # Digits of the country calling code (47 for Norway), to read national numbers (contacts
    # written "91111111" or "0171...", callers reported without +). Empty: international only.
    "country_code": "",
    "wearer": "",  # the child's name as the SOS SMS gives it ("SOS Emma! ..."); empty: "watch"
    "sos_press_ms": 3000,  # a press this long starts SOS; shorter ones never do
    "sos_ring_s": 30,  # each SOS contact's phone rings this long before the next is called
    "sos_rounds": 2,  # times the SOS call chain goes through the list
    # The PIN guardians put in SMS commands ("pw,<pin>,<command>#"): 4 to 8 digits, set per
    # watch when it is provisioned. Empty: SMS commands are off (there is no shared default).
    "pin": "",
    # School mode (firmware/school.py): weekly quiet windows in local time, "Mo-Fr 08:00-14:00".
    "school_windows": [],
    "school_mode": "auto",  # "auto": the windows apply; "on": quiet now, until set back; "off"
    "school_guardian_rings": False,  # in a window a guardian's call rings (else it is rejected)
    # Daylight-saving rule for the local time when the network gives none: "" (none), "EU"
    # (last Sunday of March/October at 01:00 UTC), "US" (second Sunday of March, first of
    # November, 02:00 local). tz_offset_min is then the zone's standard offset (LZ sets it,
    # TZRULE the rule).
    "tz_rule": "",
    "language": "",  # LZ's language code, kept for a display
    # ---- set by guardians' commands (firmware/commands.py, docs/commands.md) ----------------
    # Traccar's alarmSos, SOSSMS,0/1 (watch-protocol.md §5): an SOS also texts the SOS contacts.
    "sos_sms": True,
    "lowbat_alarm": True,  # alarmBattery, LOWBAT,0/1: a low-battery alarm to the server
    # ---- battery (firmware/power.py) ---------------------------------------------------------
    # LOWBATLEVEL,<pct>: at or below this gauge percentage, once per discharge, an AL with
    # Traccar's lowBattery bit (when lowbat_alarm is on); armed again once the battery reads 5
    # points above it.
    "lowbat_pct": 20,
    # At or below this (and below lowbat_pct) the watch keeps only SOS, guardians' calls and a
    # report every critical_report_s at the last known position: no Wi-Fi scans, no GNSS
    # searches, friends' calls rejected; until the battery reads 5 points above it.
    "critical_pct": 5,
    "critical_report_s": 3600,
    # alarmRemove, REMOVE,0/1: the take-off alarm. Stored only: this board has no wrist sensor.
    "remove_alarm": False,
    # alarmClock, REMIND: at most 8 items "HH:MM-S-F" in the vendors' form (S: 1 on, 0 off; F: 1
    # once, 2 every day) or "HH:MM-S-3-0111110" (F 3: the days, Sunday first). Stored only.
    "reminders": [],
    "flowers": 0,  # setIndicator, FLOWER,<n>: reward flowers for a display (none yet): stored only
    "pedometer": False,  # PEDO,0/1: stored only, no step sensor on this board yet
    # WORK,6-9,11-13: hour ranges ("6-9" is 06:00-09:00) at most 8; WORKTIME,<minutes> (0: not
    # set). What vendors' watches do with them varies; Trygg stores them only.
    "work_windows": [],
    "work_time_min": 0,
    # Safe zones, ZONE/ZONEDEL (firmware/zones.py): at most 8 circles {"name", "lat", "lon", "r"}
    # or polygons {"name", "poly": [[lat, lon], ...]} in micro-degrees; the watch tells when the
    # child leaves or enters one.
    "zones": [],
    # ---- positioning (docs/positioning.md) ---------------------------------------------------
    # Learned places (Wi-Fi fingerprints seen at GNSS fixes, kept on the watch only) not seen
    # for this many days are forgotten.
    "places_forget_days": 30,
    # While the watch stands at a known place, reports may wait this long to be sent together
    # (900: four in one transfer every 20 minutes, the oldest 15 minutes old); 0 sends each at
    # once. Alarms, SOS, replies and the answer to a locate-now never wait, and a moving
    # child's reports go at once (reporter.hold_ms, Uplink.asked). At most 900 s, so a held
    # batch stands in for the heartbeat within Traccar's 1800 s idle timeout (and the uplink
    # sends held reports before a session is silent for 1740 s, whatever heartbeat_s). On by
    # default: it saves about 2.6 mA on the school day (docs/energy.md).
    "batch_s": 900,
}

# (min, max) for the integer keys, both inclusive.
_RANGES = {
    "server_port": (1, 65535),
    "report_interval_s": (10, 86400),
    "heartbeat_s": (60, 1740),
    "gnss_timeout_s": (5, 600),
    "tz_offset_min": (-720, 840),  # UTC-12:00 .. UTC+14:00
    "sos_press_ms": (1000, 10000),
    "sos_ring_s": (10, 120),
    "sos_rounds": (1, 5),
    "flowers": (0, 99),
    "work_time_min": (0, 1440),
    "places_forget_days": (1, 365),
    "batch_s": (0, 900),
    "lowbat_pct": (5, 50),
    "critical_pct": (1, 20),
    "critical_report_s": (600, 86400),
}
MAX_REMINDERS = 8
MAX_WORK_WINDOWS = 8

PROTOCOLS = ("watch", "osmand")  # a value is accepted only once something implements it


class ConfigError(ValueError):
    """A bad setting; `field` is the key (or None when the whole input is wrong)."""

    def __init__(self, field, msg):
        super().__init__(msg if field is None else "%s: %s" % (field, msg))
        self.field = field


def _alnum(c):
    return ("0" <= c <= "9") or ("A" <= c <= "Z") or ("a" <= c <= "z")


def _plain_ascii(s):
    """Printable ASCII without space, quotes or comma: safe inside an AT command's quotes and
    inside a comma-separated protocol field."""
    for c in s:
        if c <= " " or c > "~" or c in "\"',":
            return False
    return True


def _reminder(item):
    """A REMIND item: "HH:MM-S-F", or "HH:MM-S-3-DDDDDDD" with a 0/1 per day, Sunday first."""
    parts = item.split("-")
    try:
        school.parse_hhmm(parts[0])  # the same HH:MM as a school window's
    except ValueError:
        return "time HH:MM"
    if len(parts) < 3 or parts[1] not in ("0", "1"):
        return "HH:MM-S-F with S 0 (off) or 1 (on)"
    if len(parts) == 3 and parts[2] in ("1", "2"):
        return None
    if len(parts) == 4 and parts[2] == "3":
        if len(parts[3]) == 7 and not parts[3].strip("01"):
            return None
        return "days: seven 0/1 digits, Sunday first"
    return "F 1 (once), 2 (every day) or 3-DDDDDDD (the days, Sunday first)"


def _hour_range(item):
    """A WORK range "6-9": whole hours, start 0..23, end 0..24 and different (a range may
    cross midnight, "22-6", as school windows do)."""
    a, sep, b = item.partition("-")
    if not (sep and len(a) <= 2 and len(b) <= 2 and contacts.digits(a) and contacts.digits(b)):
        return "hours H-H"
    if int(a) > 23 or int(b) > 24 or int(a) == int(b):
        return "start 0..23, end 0..24, not the same"
    return None


def _check_list(key, value, most, rule):
    if len(value) > most:
        raise ConfigError(key, "at most %d items" % most)
    for i in range(len(value)):
        item = value[i]
        why = rule(item) if type(item) is str and len(item) <= 20 else "a short string expected"
        if why:
            raise ConfigError(key, "[%d]: %s" % (i, why))


_CHECKED_ELSEWHERE = {"contacts": contacts.check, "school_windows": school.check_windows,
                      "zones": zones.check}


def check(key, value):
    """Raise ConfigError unless value is acceptable for key."""
    if key not in DEFAULTS:
        raise ConfigError(key, "unknown setting")
    default = DEFAULTS[key]
    if type(value) is not type(default):  # exact type: True must not pass as an int
        raise ConfigError(key, "must be %s, not %s" % (type(default).__name__, type(value).__name__))
    if key in _RANGES:
        lo, hi = _RANGES[key]
        if not lo <= value <= hi:
            raise ConfigError(key, "must be %d..%d, not %d" % (lo, hi, value))
    elif key == "device_id":
        # 0..20 letters/digits; empty means "the IMEI". Traccar's registerUnknown only auto-creates
        # ids matching \w{3,15} (watch-protocol.md §3): longer or shorter ids must be added to the
        # server by hand. "*", "[", "]" and "," would break the watch frame, hence letters/digits.
        if len(value) > 20:
            raise ConfigError(key, "at most 20 characters")
        for c in value:
            if not _alnum(c):
                raise ConfigError(key, "only letters and digits")
    elif key == "server_host":
        if len(value) > 64:
            raise ConfigError(key, "at most 64 characters")
        if not _plain_ascii(value):
            raise ConfigError(key, "printable ASCII without spaces, quotes or commas")
    elif key == "apn":
        if len(value) > 100:  # 3GPP TS 23.003 §9.1: an APN is at most 100 octets
            raise ConfigError(key, "at most 100 characters")
        if not _plain_ascii(value):
            raise ConfigError(key, "printable ASCII without spaces, quotes or commas")
    elif key == "protocol":
        if value not in PROTOCOLS:
            raise ConfigError(key, "must be one of: " + ", ".join(PROTOCOLS))
    elif key in _CHECKED_ELSEWHERE:  # the module that uses the value knows its grammar
        try:
            _CHECKED_ELSEWHERE[key](value)
        except ValueError as e:
            raise ConfigError(key, str(e))
    elif key == "country_code":
        if value and (len(value) > 3 or not contacts.digits(value) or value[0] == "0"):
            raise ConfigError(key, "1 to 3 digits without + or leading 0 (47 for Norway), or empty")
    elif key == "wearer":
        if len(value) > 20:
            raise ConfigError(key, "at most 20 characters")
        for c in value:
            if c < " " or c in '",':
                raise ConfigError(key, "no control characters, quotes or commas")
    elif key == "pin":
        if value and not (4 <= len(value) <= 8 and contacts.digits(value)):
            raise ConfigError(key, "4 to 8 digits, or empty (SMS commands off)")
    elif key == "school_mode":
        if value not in ("auto", "on", "off"):
            raise ConfigError(key, "auto, on or off")
    elif key == "tz_rule":
        if value not in ("", "EU", "US"):
            raise ConfigError(key, "empty, EU or US")
    elif key == "language":
        if len(value) > 8 or not _plain_ascii(value or "x"):
            raise ConfigError(key, "at most 8 characters of plain ASCII")
    elif key == "reminders":
        _check_list(key, value, MAX_REMINDERS, _reminder)
    elif key == "work_windows":
        _check_list(key, value, MAX_WORK_WINDOWS, _hour_range)
    elif key == "maker":
        # Traccar takes exactly 2 characters, whatever they are (watch-protocol.md §2).
        if len(value) != 2 or not (_alnum(value[0]) and _alnum(value[1])):
            raise ConfigError(key, "exactly 2 letters or digits")


def check_pair(values):
    """The settings that must agree with each other, when both are in values: critical_pct
    below lowbat_pct (firmware/power.py)."""
    if "lowbat_pct" in values and "critical_pct" in values:
        if values["critical_pct"] >= values["lowbat_pct"]:
            raise ConfigError("lowbat_pct", "must be above critical_pct (%d), not %d" % (
                values["critical_pct"], values["lowbat_pct"]))


def check_all(values):
    """Validate a dict of settings (any subset of the keys); raises the first error, in key order,
    then a disagreeing pair (check_pair)."""
    if not isinstance(values, dict):
        raise ConfigError(None, "settings must be a JSON object")
    for k in values:  # unknown keys first: sorted() would choke on a non-str key
        if k not in DEFAULTS:
            raise ConfigError(k, "unknown setting")
    for k in sorted(values):
        check(k, values[k])
    check_pair(values)


class Config:
    """Use Config.load(root). Read with cfg[key] / cfg.get(key); change with update() + save()."""

    def __init__(self, root, values=None):
        self.root = root
        self.path = fsutil.join(root, FILENAME)
        self._v = dict(DEFAULTS)
        if values:
            check_all(values)
            self._v.update(values)
        self.recovered = None  # why the file on flash was set aside at load, or None

    @classmethod
    def load(cls, root):
        path = fsutil.join(root, FILENAME)
        # A save cut short before its rename: config.json is still the last good one.
        fsutil.remove(path + ".tmp")
        size = fsutil.size(path)
        if size is None:
            return cls(root)
        try:
            if size > _MAX_BYTES:
                raise ValueError("%d bytes" % size)
            values = json.loads(fsutil.read_bytes(path))
            if not isinstance(values, dict):
                raise ValueError("not a JSON object")
        except Exception as e:  # bad JSON: ValueError; CPython also RecursionError on deep nesting
            return cls._recover(root, path, {}, "config.json unusable (%s)" % e)
        # Keep every valid setting and default only the bad ones: one bad key (a downgrade, a
        # flipped bit) must not also wipe server_host and silently stop the reports.
        good = {}
        bad = []
        for k in list(values):
            # MicroPython's json takes a key that is not a string ({"apn"8 "x"} after a flipped
            # bit): sorted() below would raise TypeError at every boot, a reboot loop
            if not isinstance(k, str):
                bad.append("%r: not a setting name" % (k,))
                values.pop(k)
        for k in sorted(values):
            try:
                check(k, values[k])
                good[k] = values[k]
            except ConfigError as e:
                bad.append(str(e))
        merged = dict(DEFAULTS)
        merged.update(good)
        try:
            check_pair(merged)
        except ConfigError as e:  # both back to their defaults, which agree
            bad.append(str(e))
            good.pop("lowbat_pct", None)
            good.pop("critical_pct", None)
        if bad:
            return cls._recover(root, path, good, "bad settings defaulted: " + "; ".join(bad))
        return cls(root, values)

    @classmethod
    def _recover(cls, root, path, good, reason):
        """Keep the damaged file as config.json.bad, run with the good settings plus defaults."""
        # Copy, then replace: a power cut between the two leaves the damaged config.json in
        # place (recovered again next boot), never no config.json at all (= no server).
        # Its first _MAX_BYTES only: a file of a megabyte must not be read whole (MemoryError).
        fsutil.atomic_write(path + ".bad", fsutil.read_bytes(path, _MAX_BYTES) or b"")
        cfg = cls(root, good)
        cfg.save()  # so the next boot starts from the repaired settings, not from defaults
        cfg.recovered = reason + "; original kept as config.json.bad"
        return cfg

    def get(self, key):
        """The value of key; KeyError for an unknown key (a typo must not read as a default)."""
        return self._v[key]

    def __getitem__(self, key):
        return self._v[key]

    def __contains__(self, key):
        return key in self._v

    def update(self, changes):
        """Validate every key first, then apply all of them (or none). Returns the sorted list of
        keys whose value changed. Does not save: call save() after."""
        check_all(changes)
        merged = dict(self._v)
        merged.update(changes)
        check_pair(merged)  # a change of one must agree with the other's stored value
        changed = []
        for k in sorted(changes):
            if self._v[k] != changes[k]:
                self._v[k] = changes[k]
                changed.append(k)
        return changed

    def save(self):
        """Write all settings atomically (MicroPython's json.dumps takes no options and does not
        keep key order; the content, not the layout, matters)."""
        fsutil.atomic_write(self.path, json.dumps(self._v))

    def as_dict(self):
        """A copy of all settings."""
        return dict(self._v)
