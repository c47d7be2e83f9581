"""Provision a watch: its settings from a JSON file a person edits, checked by the firmware itself.

    python tools/provision.py check my-watch.json
    python tools/provision.py write my-watch.json OUTDIR [--pin 123456]

The file holds the watch's settings under the keys of /data/config.json (firmware/config.py
has every key, its default and its range): the server, the PIN for guardians' SMS commands,
the contacts (firmware/contacts.py), the safe zones (firmware/zones.py), the school windows
(firmware/school.py)... Keys that start with "_" are notes for people and are dropped. The
firmware keeps all of these in config.json (contacts, zones and windows too): that one file is
what a watch needs.

check: runs the firmware's own validator (firmware/config.py check, on CPython) on every key
and prints every problem, one line each: the key (and the item in a list), the value, why. It
also lists the contacts the watch would skip at boot (a national number without a
country_code, a number twice) and warns of what is legal but likely unmeant (no server, no SOS
contact). Secrets (the PIN, anything named like a password) are never printed: shown as ***.
Exit status 1 on a problem, 0 otherwise (warnings too).

write: the same checks, then OUTDIR/config.json written as the firmware writes it (every key,
defaults filled in: firmware/config.py Config.save), ready to copy to the watch's /data/. A
file without a PIN gets a fresh random 6-digit one, printed once: write it down, give it to
the guardians (there is no shared default). tools/deploy.py --config runs this.
"""
import argparse
import json
import os
import secrets
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from firmware import config, contacts  # noqa: E402

_SECRET_KEYS = ("pin",)
_SECRET_PARTS = ("pass", "secret", "token", "pwd")  # as the console masks them (firmware/console.py)
_SHOW_MAX = 60
# the lists whose validator names the item as "[i]" (or "[i] (name)") at the start of its reason
_LISTS = ("zones", "school_windows", "reminders", "work_windows")


class ProvisionError(ValueError):
    """The file cannot be used; .problems lists every (where, shown value, why)."""

    def __init__(self, problems):
        super().__init__("; ".join("%s = %s: %s" % p for p in problems))
        self.problems = problems


def secret(key):
    """True for a key whose value is never shown."""
    k = str(key).lower()
    return k in _SECRET_KEYS or any(p in k for p in _SECRET_PARTS)


def show(key, value):
    """The value as a person reads it in a message: JSON, cut short; *** for a secret."""
    if secret(key):
        return "***"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOW_MAX else text[:_SHOW_MAX - 3] + "..."


def _scrub(key, value, why):
    """A reason never carries a secret value (the validator's messages do not today; a later
    one must not leak it either)."""
    if secret(key) and isinstance(value, str) and value and value in why:
        why = why.replace(value, "***")
    return why


def _item(key, value, why):
    """(where, value) of the item a validator's reason names: "contacts[1].number: ..." ->
    ("contacts[1].number", that number); "[2] (school): ..." for the other lists -> ("zones[2]",
    that zone). Anything else: the key and its whole value."""
    head, sep, rest = why.partition(": ")
    if key == "contacts" and sep and head.startswith("contacts["):
        try:
            i = int(head[len("contacts["):head.index("]")])
            item = value[i]
            field = head[head.index("]") + 1:].lstrip(".")
            return head, rest, (item.get(field) if field and isinstance(item, dict) else item)
        except (ValueError, IndexError, TypeError, AttributeError):
            return head, rest, value
    if key in _LISTS and why.startswith("["):
        try:
            i = int(why[1:why.index("]")])
            after = why[why.index("]") + 1:]
            return "%s[%d]" % (key, i), after.partition(": ")[2] or after, value[i]
        except (ValueError, IndexError, TypeError):
            pass
    if why.startswith(key + ": "):  # contacts names itself again: "contacts: must be a list"
        why = why[len(key) + 2:]
    return key, why, value


def problems(values):
    """Every problem with values as [(where, shown value, why)], in key order; [] if none.
    The firmware's validator decides (firmware/config.py check, check_pair), key by key so
    that all are listed, not only the first; then the contacts the watch would skip."""
    if not isinstance(values, dict):
        return [("(file)", show(None, values), "settings must be a JSON object {\"key\": value, ...}")]
    out = []
    good = {}
    for k in sorted(values, key=str):
        v = values[k]
        try:
            config.check(k, v)
            good[k] = v
        except config.ConfigError as e:
            why = str(e)
            prefix = "%s: " % k
            if why.startswith(prefix):
                why = why[len(prefix):]
            where, why, item = _item(k, v, _scrub(k, v, why))
            out.append((where, show(k, item), why))
    merged = dict(config.DEFAULTS)
    merged.update(good)
    try:
        config.check_pair(merged)
    except config.ConfigError as e:
        k = e.field
        out.append((k, show(k, merged.get(k)), str(e).partition(": ")[2]))
    if "contacts" in good:
        # what Contacts() would leave out at boot: the validator checks each entry alone
        cc = good.get("country_code", config.DEFAULTS["country_code"])
        for _i, why in contacts.Contacts(good["contacts"], cc).skipped:
            where, why, item = _item("contacts", good["contacts"], why)
            out.append((where, show("contacts", item), why + " (the watch would skip it)"))
    return out


def warnings(values):
    """What is valid but probably not meant: [(where, why)]."""
    out = []
    if not values.get("server_host"):
        out.append(("server_host", "empty: no server, reports stay queued on the watch"))
    if not values.get("pin"):
        out.append(("pin", "empty: `write` (and deploy) give the watch a random PIN"))
    cs = values.get("contacts") or []
    if not any("sos" in (c.get("roles") or []) for c in cs if isinstance(c, dict)):
        out.append(("contacts", "no contact with the role sos: an SOS alerts only the server"))
    if cs and not any("guardian" in (c.get("roles") or []) for c in cs if isinstance(c, dict)):
        out.append(("contacts", "no guardian: nobody can send SMS commands"))
    return out


def load(path):
    """The settings in a provisioning file, notes ("_..." keys) dropped. ProvisionError if the
    file is not a JSON object."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ProvisionError([("(file)", path, e.strerror or str(e))])
    try:
        values = json.loads(text)
    except ValueError as e:  # the message names line and column, never the file's text
        raise ProvisionError([("(file)", path, "not JSON: %s" % e)])
    if not isinstance(values, dict):
        raise ProvisionError([("(file)", path, "settings must be a JSON object {\"key\": value, ...}")])
    return {k: v for k, v in values.items() if not str(k).startswith("_")}


def checked(values):
    """values, or ProvisionError listing every problem."""
    p = problems(values)
    if p:
        raise ProvisionError(p)
    return values


def with_pin(values, pin=None):
    """The settings to install: values with a PIN (the one given, or a fresh random one if
    values has none). Returns (values, pin_if_new or None)."""
    values = dict(values)
    if pin is not None:
        config.check("pin", pin)
        values["pin"] = pin
        return values, pin
    if values.get("pin"):
        return values, None
    values["pin"] = "%06d" % secrets.randbelow(1000000)
    return values, values["pin"]


def write(values, outdir):
    """outdir/config.json as the firmware saves it (every key, defaults filled in); returns its
    path. The values must pass checked()."""
    os.makedirs(outdir, exist_ok=True)
    cfg = config.Config(outdir, checked(values))
    cfg.save()
    return cfg.path


def report(path, values, out=sys.stdout):
    """Print the problems and warnings of values (from path); True if there is no problem."""
    p = problems(values)
    for where, shown, why in p:
        print("%s: %s = %s: %s" % (path, where, shown, why), file=out)
    for where, why in warnings(values):
        print("%s: warning: %s: %s" % (path, where, why), file=out)
    return not p


def summary(values):
    return "%d settings, %d contacts, %d zones, %d school windows" % (
        len(values), len(values.get("contacts") or []), len(values.get("zones") or []),
        len(values.get("school_windows") or []))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("check", help="check a provisioning file with the firmware's validator")
    c.add_argument("file")
    w = sub.add_parser("write", help="check, then write OUTDIR/config.json for the watch's /data/")
    w.add_argument("file")
    w.add_argument("outdir")
    w.add_argument("--pin", help="the PIN for SMS commands (4-8 digits); default: the file's, "
                   "else a random one")
    a = ap.parse_args(argv)
    try:
        values = load(a.file)
    except ProvisionError as e:
        for where, shown, why in e.problems:
            print("%s: %s" % (shown, why), file=sys.stderr)
        return 1
    if not report(a.file, values, sys.stderr):
        print("%s: not usable, nothing written" % a.file if a.cmd == "write" else
              "%s: not usable" % a.file, file=sys.stderr)
        return 1
    if a.cmd == "check":
        print("%s: ok (%s)" % (a.file, summary(values)))
        return 0
    try:
        values, new_pin = with_pin(values, a.pin)
    except config.ConfigError as e:
        print("--pin = ***: %s" % str(e).partition(": ")[2], file=sys.stderr)
        return 1
    path = write(values, a.outdir)
    print("wrote %s (%s)" % (path, summary(values)))
    if new_pin and a.pin is None:  # generated here: shown once; a PIN of one's own never
        print("PIN for SMS commands on this watch: %s (write it down; give it to the guardians)" % new_pin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
