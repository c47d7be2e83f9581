"""Fuzz targets on what the watch reads back from flash (bit rot, torn writes, a file from
another firmware): config.json, the outbox's segments and head, places.dat, the zones and
their beliefs (zones.json), the contacts, power.json / messages.json; and phone numbers as the
network and guardians write them.

Every input is written to a scratch folder under out/tmp and the real loader opens it. The
seeds are literal bytes (not json.dumps: MicroPython's dicts keep another order) so both
interpreters mutate the same bytes."""
import json
import os
import struct
from binascii import crc32

import support  # noqa: F401  (virtual time before asyncio)
from firmware import config, contacts, fsutil, places, zones
from firmware.config import Config
from firmware.outbox import Outbox
from fuzzer import Failure, check, fresh, target, tmpdir, write

_DIRS = {}


def _dir(name):
    """A scratch folder for target `name`, empty for each input."""
    if name not in _DIRS:
        _DIRS[name] = tmpdir(name)
    return fresh(_DIRS[name])


def _json(data):
    """json.loads(data), or an exception instance when it is not JSON (the json module itself
    is not under test; CPython raises RecursionError on deep nesting, MicroPython MemoryError)."""
    try:
        return json.loads(data)
    except Exception as e:  # noqa: BLE001
        return e


_JSON_TOKENS = (b"{", b"}", b"[", b"]", b'"', b":", b",", b"null", b"true", b"false", b"-0", b"1e999",
                b"1.5", b'"\\u0000"', b'"\\ud800"', b"\\", b"NaN", b"[[[[[[[[", b"{}", b"[]", b'""')


# ---- config.json -----------------------------------------------------------------------------------

_CONFIGS = (
    b'{"device_id": "862000012345674", "server_host": "tracker.example", "server_port": 5093, '
    b'"report_interval_s": 300, "pin": "4711", "country_code": "47", "wearer": "Emma", '
    b'"contacts": [{"name": "Mamma", "number": "+47 911 11 111", "roles": ["guardian", "sos"]}, '
    b'{"name": "Bestemor", "number": "93333333", "roles": ["friend"]}], '
    b'"school_windows": ["Mo-Fr 08:00-14:00", "Sa 22:00-06:00"], "tz_offset_min": 60, "tz_rule": "EU", '
    b'"zones": [{"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}, {"name": "school", '
    b'"poly": [[59917000, 10764000], [59918000, 10764000], [59918000, 10766000]]}], '
    b'"reminders": ["08:10-1-3-0111110"], "work_windows": ["6-9", "22-6"], "lowbat_pct": 20, '
    b'"critical_pct": 5, "sos_sms": true, "batch_s": 900}',
    b'{"server_host": "10.0.0.2", "apn": "telenor.smart", "maker": "3G", "heartbeat_s": 1740, '
    b'"gnss_timeout_s": 600, "sos_press_ms": 1000, "sos_rounds": 5, "school_mode": "on", '
    b'"language": "nb", "flowers": 99, "work_time_min": 1440, "places_forget_days": 365}',
    b"{}",
)


@target("config", _CONFIGS, _JSON_TOKENS, (b",", b":", b" "), 26000)
def config_load(data):
    """Config.load on a mutated config.json: never raises; the settings in force are all valid;
    a good file is taken as it is (recovered None), a bad one is set aside as config.json.bad
    (its first 24 KiB) with every valid setting in it kept; the repaired file then loads clean
    with the same settings."""
    d = _dir("config")
    write(d + "/config.json", data)
    cfg = Config.load(d)
    v = cfg.as_dict()
    try:
        config.check_all(v)
    except ValueError as e:
        raise Failure("settings in force are invalid", str(e))
    check(sorted(v) == sorted(config.DEFAULTS), "settings missing or extra")
    parsed = _json(data) if len(data) <= 24576 else None
    good = isinstance(parsed, dict)
    if good:
        for k in parsed:
            if not isinstance(k, str):
                good = False
                continue
            try:
                config.check(k, parsed[k])
            except ValueError:
                good = False
                continue
            if k not in ("lowbat_pct", "critical_pct"):
                check(v[k] == parsed[k], "a valid setting was not kept", k)
        if good:
            merged = dict(config.DEFAULTS)
            merged.update(parsed)
            try:
                config.check_pair(merged)
            except ValueError:
                good = False
    if good:
        check(cfg.recovered is None, "a good file was set aside", str(cfg.recovered))
    else:
        check(isinstance(cfg.recovered, str), "a bad file was not set aside")
        check(fsutil.read_bytes(d + "/config.json.bad") == data[:24576], "config.json.bad is not the file")
    again = Config.load(d)
    check(again.recovered is None, "the repaired file does not load clean", str(again.recovered))
    check(again.as_dict() == v, "the repaired file loads other settings")
    return "good" if good else "recovered"


# ---- the outbox -------------------------------------------------------------------------------------

_SEP = b"\n=== "


def _record(seq, text):
    data = text.encode()
    h = struct.pack("<BHI", 0xA5, len(data), seq)
    return h + struct.pack("<I", crc32(data, crc32(h))) + data


def _head(acked, dropped=0, corrupt=0):
    nums = b"%d %d %d" % (acked, dropped, corrupt)
    return b"h " + nums + b" %d\n" % crc32(nums)


def _report(i):
    return "UD,140926,%06d,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,0,0" % i


def _seg(seqs):
    return b"".join([_record(s, _report(s)) for s in seqs])


_OUTBOXES = (
    _SEP + b"head\n" + _head(2) + _SEP + b"0.log\n" + _seg(range(1, 5))
    + _SEP + b"1.log\n" + _seg(range(5, 9)),
    _SEP + b"head\n" + _head(0) + _SEP + b"3.log\n" + _seg((1, 2, 3)) + _SEP + b"4.log\n" + _seg((4,)),
    _SEP + b"head\n1 0 0\n" + _SEP + b"7.log\n" + _seg((2, 3)) + _SEP + b"head.tmp\nh 3" + _SEP + b"8.tmp\nx",
    _SEP + b"0.log\n" + _seg((1, 2, 3, 4, 5, 6, 7, 8)),
)
_OUTBOX_TOKENS = (_SEP, b"head", b".log", b".tmp", b"00.log", b"\xa5", b"h ", b" ", b"\n", _record(9, "x"))
_NAME_OK = "0123456789abcdefghijklmnopqrstuvwxyz.+-_"


def outbox_files(data):
    """The container -> [(name, bytes)]: entries after each '\\n=== ', a name line then the
    content; a name that is not 1..12 of [0-9a-z.+-_] is skipped."""
    out = []
    parts = data.split(_SEP)
    for p in parts[1:]:
        name, _, content = p.partition(b"\n")
        try:
            name = name.decode()
        except UnicodeError:
            continue
        if not 1 <= len(name) <= 12 or name.strip(_NAME_OK) or name in (".", ".."):
            continue
        out.append((name, content))
    return out


def _valid_records(blob):
    """(seq, payload) of the records in a segment's bytes, found as the format says: a record
    where magic, length and CRC hold, the next one searched after it or a byte further on."""
    out = []
    pos = 0
    n = len(blob)
    while pos + 11 < n:
        if blob[pos] == 0xA5:
            m, ln, seq = struct.unpack("<BHI", blob[pos:pos + 7])
            crc = struct.unpack("<I", blob[pos + 7:pos + 11])[0]
            end = pos + 11 + ln
            if 1 <= ln <= 1024 and end <= n and crc32(blob[pos + 11:end], crc32(blob[pos:pos + 7])) == crc:
                out.append((seq, bytes(blob[pos + 11:end])))
                pos = end
                continue
        pos += 1
    return out


@target("outbox", _OUTBOXES, _OUTBOX_TOKENS, (_SEP, b"\n", b" "), 6000)
def outbox_open(data):
    """Outbox(...) on mutated segment and head files (a container of files, see outbox_files):
    never raises; loses no valid record that was not damaged (every intact record in a
    '<n>.log' beyond the head's ack comes back from pending()); never returns a record twice
    nor one that was never written; len() is what pending() returns; put(), ack_through() and
    a reopen then work on the repaired queue."""
    d = _dir("outbox")
    ob_dir = d + "/outbox"
    fsutil.makedirs(ob_dir)
    for name, content in outbox_files(data):
        write(ob_dir + "/" + name, content)
    # the oracle: intact records on flash, per our own reading of the format
    intact = {}
    for name in os.listdir(ob_dir):
        if name.endswith(".log") and name[:-4].isdigit() and "%d.log" % int(name[:-4]) == name:
            for seq, payload in _valid_records(fsutil.read_bytes(ob_dir + "/" + name)):
                intact.setdefault(seq, []).append(payload)
    ob = Outbox(d, 864, 4)
    got = ob.pending(100000)
    seqs = [s for s, _ in got]
    for j in range(1, len(seqs)):
        check(seqs[j - 1] < seqs[j], "pending() repeats or reorders", repr(seqs))
    check(len(ob) == len(got), "len() is not what pending() returns", "%d vs %d" % (len(ob), len(got)))
    for seq, content in got:
        check(seq > ob.acked, "an acked record returned", "%d <= %d" % (seq, ob.acked))
        check(content.encode() in intact.get(seq, ()), "a record that was never written",
              repr((seq, content[:40])))
    have = {}
    for seq, content in got:
        have[seq] = content.encode()
    for seq in sorted(intact):
        if seq > ob.acked and seq not in have:
            raise Failure("an intact record lost", "seq %d (acked %d, returned %r)" % (seq, ob.acked, seqs))
    top = max([ob.acked] + list(intact))
    new = ob.put("UD,new")
    check(new > top, "put() reuses a seq", "%d <= %d" % (new, top))
    half = seqs[len(seqs) // 2] if seqs else ob.acked
    ob.ack_through(half)
    ob2 = Outbox(d, 864, 4)
    left = ob2.pending(100000)
    want = [(s, c) for s, c in got if s > half] + [(new, "UD,new")]
    check(left == want, "the reopened queue differs",
          "%r != %r" % ([s for s, _ in left], [s for s, _ in want]))
    return "records" if got else "empty"


# ---- places.dat ---------------------------------------------------------------------------------------


def _place_line(body):
    return body + b" %08x\n" % crc32(body)


_PLACES = (
    b"places 1\n" + _place_line(b"59912345 10745678 18 812345678 4 a0b1c2d3e4f5:-52 a0b1c2d3e4f6:-67")
    + _place_line(b"-33856784 151215297 2000 812000000 8 001122334455:-120 001122334466:0 00112233447a:-90")
    + _place_line(b"0 -180000000 10 0 1 0a0b0c0d0e0f:-40"),
    b"places 1\n",
)


def _place_ok(raw):
    """Our own reading of one line of places.dat (places.py's module docstring): the place,
    or None."""
    k = raw.rfind(b" ")
    if k < 0 or raw[k + 1:] != b"%08x" % crc32(raw[:k]):
        return None
    f = raw[:k].split(b" ")
    if not 6 <= len(f) <= 5 + places.MAX_APS:
        return None
    nums = []
    for x in f[:5]:
        t = x[1:] if x[:1] == b"-" else x
        if not t or t.strip(b"0123456789"):
            return None
        nums.append(int(x))
    lat, lon, r, seen, n = nums
    if abs(lat) > 90000000 or abs(lon) > 180000000 or not 10 <= r <= 2000 or seen < 0 or not 1 <= n <= 8:
        return None
    aps = []
    for a in f[5:]:
        mac, _, rssi = a.partition(b":")
        t = rssi[1:] if rssi[:1] == b"-" else rssi
        if len(mac) != 12 or mac.strip(b"0123456789abcdef") or not t or t.strip(b"0123456789"):
            return None
        rssi = int(rssi)
        if not -120 <= rssi <= 0 or mac.decode() in [m for m, _ in aps]:
            return None
        aps.append((mac.decode(), rssi))
    aps.sort(key=lambda a: (-a[1], a[0]))
    return (lat, lon, r, seen, aps)


@target("places", _PLACES, (b"places 1", b"\n", b" ", b":", b"-", b"00000000"), (b" ", b"\n", b":"), 12000)
def places_load(data):
    """Places(...) on a mutated places.dat: never raises; keeps exactly the lines that are
    whole and valid (CRC and ranges, by our own reading; at most 24, the most recently seen);
    then learning, matching and a save work, and the saved file loads back the same places
    with nothing damaged."""
    d = _dir("places")
    write(d + "/places.dat", data)
    p = places.Places(d, 30 * 86400)
    got = [p.place(i) for i in range(len(p))]
    check(len(got) <= places.MAX_PLACES, "more than 24 places")
    want = []
    i = data.find(b"\n")
    if len(data) <= places.MAX_FILE and data[:i] == b"places 1":
        while True:  # line by line (a list of thousands of lines is too much for MicroPython)
            j = data.find(b"\n", i + 1)
            if j < 0:
                break
            pl = _place_ok(data[i + 1:j])
            if pl is not None:
                want.append(pl)
            i = j
    if len(want) > places.MAX_PLACES:
        order = sorted(want, key=lambda q: -q[3])
        want = [q for q in want if q in order[:places.MAX_PLACES]]  # (ties: compared as sets below)
        check(sorted([q[3] for q in got]) == sorted([q[3] for q in order[:places.MAX_PLACES]]),
              "not the most recently seen places kept")
    else:
        check(got == want, "places loaded differ from the valid lines",
              "%d loaded, %d valid" % (len(got), len(want)))
    scan = [("a0b1c2d3e4f5", -50, "x"), ("a0b1c2d3e4f6", -60, "y"), ("001122334455", -70, "z")]
    p.match(scan, 812400000)
    p.learn(59912345, 10745678, 20, scan, 812400000)
    p.flush()
    q = places.Places(d, 30 * 86400)
    check(q.damaged == 0, "a saved places.dat loads with damage", "%d" % q.damaged)
    check([q.place(i) for i in range(len(q))] == [p.place(i) for i in range(len(p))], "saved places differ")
    return "places" if got else "none"


# ---- zones (the setting) and zones.json (the beliefs) ------------------------------------------------

_ZONES = (
    b'[{"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}, {"name": "school", "poly": '
    b'[[59917000, 10764000], [59918000, 10764000], [59918000, 10766000], [59917000, 10766000]]}]',
    b'[{"name": "date line", "poly": [[-17000000, 179990000], [-17000000, -179990000], '
    b'[-17010000, -179990000], [-17010000, 179990000]]}, '
    b'{"name": "N", "lat": 85000000, "lon": -180000000, "r": 50000}]',
    b'[{"name": "tiny", "lat": 0, "lon": 0, "r": 20}]',
)


@target("zones", _ZONES, _JSON_TOKENS + (b'"poly"', b'"r"', b'"lat"', b"85000000", b"180000000"),
        (b",", b":", b" "), 4096)
def zones_check(data):
    """zones.check on a mutated zone list (what config.json and the ZONE command hold):
    ValueError or accepted, never another exception; an accepted list can be watched: edge
    distances are ints, feed() gives (name, exit|enter) events for listed zones only, and
    beliefs survive snapshot / restore."""
    value = _json(data)
    if isinstance(value, Exception):
        return "not json"
    try:
        zones.check(value)
    except ValueError:
        return "rejected"
    w = zones.Watcher(value)
    names = [z["name"] for z in value]
    t = 800000000
    pts = [tuple(z["poly"][0]) if "poly" in z else (z["lat"], z["lon"]) for z in value]
    pts += [(0, 0), (89999999, 179999999), (-90000000, -180000000)]
    for k in range(len(pts)):
        lat, lon = pts[k]
        for z in value:
            e = zones.edge_m(z, lat, lon)
            check(type(e) is int, "edge_m not int", repr(e))
        for name, what in w.feed(lat, lon, 10 + k, t + 10 * k, (k * 45) % 360 if k % 2 else None):
            check(name in names and what in ("exit", "enter"), "zone event", repr((name, what)))
    snap = w.snapshot()
    w2 = zones.Watcher(value)
    w2.restore(snap)
    check(w2.snapshot() == snap, "beliefs do not survive snapshot/restore")
    return "accepted"


_BELIEFS = (b'{"home": "in", "school": "out"}', b'{"home": "out"}', b"{}", b'[["home", "in"]]')
_WATCHED = json.loads(_ZONES[0])


@target("zones_json", _BELIEFS, _JSON_TOKENS + (b'"in"', b'"out"', b'"home"'), (b",", b":"), 2048)
def zones_json(data):
    """The reporter's zones.json (beliefs kept over a reboot) mutated: Reporter(...) loads it
    without raising; the beliefs are in/out of listed zones only."""
    from firmware.reporter import Reporter

    d = _dir("zones_json")
    write(d + "/zones.json", data)
    rep = Reporter(None, {"zones": _WATCHED}, None, None, None, None, root=d)
    snap = rep.zones.snapshot()
    for name in snap:
        check(name in ("home", "school") and snap[name] in ("in", "out"), "belief", repr(snap))
    return "beliefs" if snap else "none"


# ---- contacts and phone numbers ------------------------------------------------------------------

_CONTACTS = (
    b'[{"name": "Mamma", "number": "+47 911 11 111", "roles": ["guardian", "sos"]}, '
    b'{"name": "Pappa", "number": "0047-92222222", "roles": ["guardian"]}, '
    b'{"name": "Bestemor", "number": "93333333", "roles": ["friend"]}, '
    b'{"name": "Onkel", "number": "+49 (0)171 1234567", "roles": ["sos", "friend"]}]',
    b'[{"name": "A", "number": "+4791111111", "roles": ["friend"]}, '
    b'{"name": "B", "number": "+4791111111", "roles": ["sos"]}]',
)


@target("contacts", _CONTACTS, _JSON_TOKENS + (b'"roles"', b'"guardian"', b'"+', b"00", b"(0)", b"-"),
        (b",", b":", b" "), 4096)
def contacts_load(data):
    """The contacts setting mutated: contacts.check raises ContactError or accepts; Contacts()
    never raises, with or without a country code; every contact it keeps is found again by
    its number (E.164, 3..15 digits), in the national form too; SOS and guardian lists hold
    kept contacts only."""
    value = _json(data)
    if isinstance(value, Exception):
        return "not json"
    out = "accepted"
    try:
        contacts.check(value)
    except contacts.ContactError:
        out = "rejected"
    for cc in ("47", ""):
        cl = contacts.Contacts(value, cc)
        kept = []
        for e in (value if type(value) is list else []):
            c = cl.find(e.get("number") if type(e) is dict else None)
            if c is not None:
                kept.append(c)
                n = c.number
                check(n[0] == "+" and 3 <= len(n) - 1 <= 15 and not n[1:].strip("0123456789"), "not E.164", n)
                check(cl.find(n) is c, "a contact not found by its own number", n)
                if cc and n.startswith("+" + cc) and n[1 + len(cc):2 + len(cc)] not in ("", "0"):
                    check(cl.find("0" + n[1 + len(cc):]) is c, "not found in national form", n)
        for c in cl.sos() + cl.guardians():
            check(c in kept, "an SOS or guardian contact not in the list", repr(c))
        check(len(cl) <= contacts.MAX_CONTACTS, "more than 50 contacts")
    return out


_NUMBERS = (b"+47 911 11 111", b"0047-92222222", b"93333333", b"+49 (0)171 1234567", b"0171.123.4567",
            b"(22) 33 44 55", b"+1 (555) 010-9999", b"112", b"")


@target("phone_number", _NUMBERS, (b"+", b"0", b"00", b"(0)", b"(", b")", b" ", b"-", b".", b"\xd9\xa3"),
        (b" ",), 64)
def phone_number(data):
    """A number as typed or reported (any bytes, read as Latin-1 characters): normalize gives
    E.164 (+ and 3..15 digits, unchanged by normalizing again) or raises ContactError; find()
    with any type of address never raises; a contact stored with that number is found by it."""
    number = "".join([chr(b) for b in data])
    out = "rejected"
    for cc in ("47", "1", ""):
        try:
            n = contacts.normalize(number, cc)
        except contacts.ContactError:
            continue
        check(n[0] == "+" and 3 <= len(n) - 1 <= 15 and not n[1:].strip("0123456789"), "not E.164", repr(n))
        check(contacts.normalize(n, cc) == n, "normalize not idempotent", repr(n))
        out = "e164"
    cl = contacts.Contacts([{"name": "X", "number": number, "roles": ["guardian"]}], "47")
    for ntype in (None, 145, 129, 161, 208, 128, -1, 1 << 40):
        c = cl.find(number, ntype)
        if ntype in (None, 129) and len(cl):
            check(c is not None, "a stored number not found by itself", repr(number))
    return out


# ---- power.json and messages.json ------------------------------------------------------------------

_STATES = (b'{"low": true, "critical": false}', b'[{"t": 812345678, "from": "+4791111111", "name": "Mamma", '
           b'"scts": "26/09/14,17:10:00+08", "text": "Hei"}]', b"{}", b"[]")


@target("state_files", _STATES, _JSON_TOKENS, (b",", b":"), 4096)
def state_files(data):
    """The same mutated bytes as power.json and as messages.json: Power and the SMS Inbox load
    them without raising (as after a fresh start when unreadable); low/critical are bools and
    the kept messages are dicts."""
    from firmware.power import Power
    from firmware.telephony import Inbox

    d = _dir("state_files")
    write(d + "/power.json", data)
    write(d + "/messages.json", data)
    pw = Power({"lowbat_pct": 20, "critical_pct": 5}, None, None, d)
    check(pw.low in (True, False) and pw.critical in (True, False), "power flags not bool",
          repr((pw.low, pw.critical)))
    box = Inbox(d)
    check(type(box.items) is list, "inbox not a list")
    for m in box.items:
        check(type(m) is dict, "an inbox item not a dict", repr(m))
    box.has("+4791111111", "", "Hei")
    return "read" if pw.low or pw.critical or box.items else "empty"
