"""Scenario files checked before anything runs: host_sim/scenario.schema.json (JSON Schema, Draft
2020-12) plus what a schema cannot say, each problem named by the field's path:

    events[3].at: '25x00' is not HH:MM[:SS] (a time after the start; hours may pass 24)
    people[0].calls[1].at: '30:00' is after the end of the run (duration_s 86400 = 24:00:00)
    config.zones: [1]: name: 1..20 characters            (firmware/config.py's own check)

CPython only (jsonschema): host_sim/scenario.py's load(path, check=True) calls check() there and
skips it on MicroPython, where the simulator runs unchecked; tests/tools/test_schema.py checks
every scenario on CPython. docs/scenarios.md describes the keys.

    python -m host_sim check host_sim/scenarios/*.json
"""
import datetime
import glob
import json
import os
import re

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(HERE, "scenario.schema.json")
MAX_SHOWN = 20  # problems listed in one error (the count says if there were more)

_schema = None
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


class ScenarioError(ValueError):
    """A scenario that cannot run: `problems` is [(path, message)], path like "events[3].at"."""

    def __init__(self, where, problems):
        self.where = where
        self.problems = problems
        lines = ["%s: %s" % (p, m) if p else m for p, m in problems[:MAX_SHOWN]]
        if len(problems) > MAX_SHOWN:
            lines.append("... and %d more" % (len(problems) - MAX_SHOWN))
        head = (where + ": ") if where else ""
        if len(lines) == 1:
            msg = head + lines[0]
        else:
            msg = "%s%d problems:\n  %s" % (head, len(problems), "\n  ".join(lines))
        super().__init__(msg)


def live_lists():
    """{(path in the schema): [values]} of the lists the code owns: the file holds a copy for
    editors and readers, the check uses the code's (a model added to the emulator is valid at
    once)."""
    from host_sim import energy, phones, traccar
    from host_sim.modem_a76xx import GNSS_TTFF, MODELS

    boards = sorted(os.path.basename(f)[:-3] for f in glob.glob(os.path.join(os.path.dirname(HERE), "boards",
                                                                            "*.py"))
                    if not f.endswith("__init__.py"))
    return {("$defs", "model"): list(MODELS), ("$defs", "server_mode"): list(traccar.MODES),
            ("properties", "device", "properties", "board"): boards,
            ("$defs", "gnss_ttff"): list(GNSS_TTFF),
            ("$defs", "person", "properties", "answers", "properties", "mode"): list(phones.MODES),
            ("properties", "battery_end"): list(energy.ENDS)}


def schema(live=True):
    """The scenario schema (parsed once); live: with the code's lists (live_lists())."""
    global _schema
    if _schema is None:
        with open(SCHEMA_PATH) as f:
            _schema = json.load(f)
        _schema["x-file"] = json.loads(json.dumps(_schema))  # the file as it is, for schema(False)
        for path, values in live_lists().items():
            node = _schema
            for p in path:
                node = node[p]
            node["enum"] = values
    return _schema if live else _schema["x-file"]


def path_text(parts):
    """["events", 3, "at"] -> "events[3].at"."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + str(p)
    return out


def _value(v):
    return repr(v) if isinstance(v, str) else json.dumps(v)


def _explain(err, where):
    """[(path, message)] for one jsonschema error, in words a scenario's author can act on."""
    sch = err.schema if isinstance(err.schema, dict) else {}
    kw = err.validator
    if kw in ("oneOf", "anyOf") and err.context and "x-error" not in sch:
        # the branch that came nearest (fewest complaints about the object itself, then fewest
        # in all) names the nested field: an AP's bad bssid, not "fits no branch"
        branches = {}
        for e in err.context:
            branches.setdefault(e.schema_path[0] if e.schema_path else 0, []).append(e)
        near = min(branches.values(), key=lambda es: (len([e for e in es if not e.relative_path]), len(es)))
        out = []
        for e in near:
            out.extend(_explain(e, where + list(e.relative_path)))
        if out:
            return out
    if kw == "required":
        m = _QUOTED.search(err.message)
        name = m.group(1) if m else "?"
        return [(path_text(where + [name]), "missing (required)")]
    if kw in ("additionalProperties", "unevaluatedProperties"):
        inst = err.instance if isinstance(err.instance, dict) else {}
        extras = [k for k in _QUOTED.findall(err.message) if k in inst] or ["?"]
        if "x-extra" in sch and isinstance(inst.get("do"), str):
            why = sch["x-extra"] % json.dumps(inst["do"])
        else:
            why = "not a key here (docs/scenarios.md)"
        return [(path_text(where + [k]), why) for k in extras]
    if "x-error" in sch:
        return [(path_text(where), "%s %s" % (_value(err.instance), sch["x-error"]))]
    if kw == "if" or kw == "then":
        return []  # the "then" branch's own errors say it
    return [(path_text(where), err.message)]


def _schema_problems(sc):
    v = jsonschema.Draft202012Validator(schema())
    out = []
    order = lambda e: [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in e.absolute_path]
    for err in sorted(v.iter_errors(sc), key=order):
        for p in _explain(err, list(err.absolute_path)):
            if p not in out:
                out.append(p)
    return out


def _hms(ms):
    s = ms // 1000
    return "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


def _iso_ok(text):
    try:
        datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
        return True
    except ValueError:
        return False


def _semantic_problems(sc, bad):
    """What the schema cannot say: times within the run, the route in time order, real dates,
    the watch's own config checks (firmware/config.py), the people as host_sim/phones.py reads
    them. `bad`: paths the schema already complained about (not repeated)."""
    from firmware import config as fw_config
    from host_sim import phones
    from host_sim.world import offset_ms

    out = []

    def ms_of(value):
        try:
            return offset_ms(value) if isinstance(value, str) else None
        except ValueError:
            return None

    dur = sc.get("duration_s")
    end = dur * 1000 if isinstance(dur, int) and not isinstance(dur, bool) else None
    for key in ("start",):
        v = sc.get(key)
        if isinstance(v, str) and key not in bad and not _iso_ok(v):
            out.append((key, "%r is not a real date and time" % v))
    lf = sc.get("last_fix")
    if isinstance(lf, dict) and isinstance(lf.get("at"), str) and "last_fix.at" not in bad:
        if not _iso_ok(lf["at"]):
            out.append(("last_fix.at", "%r is not a real date and time" % lf["at"]))

    timed = []  # (path, value) of everything that happens at a time
    for i, ev in _items(sc, "events"):
        timed.append(("events[%d].at" % i, ev.get("at")))
    for i, c in _items(sc, "server_commands"):
        timed.append(("server_commands[%d].at" % i, c.get("at")))
    for i, p in _items(sc, "people"):
        for j, c in _items(p, "calls"):
            timed.append(("people[%d].calls[%d].at" % (i, j), c.get("at")))
        for j, t in _items(p, "texts"):
            timed.append(("people[%d].texts[%d].at" % (i, j), t.get("at")))
    if end is not None:
        for path, v in timed:
            ms = ms_of(v)
            if ms is not None and ms >= end and path not in bad:
                out.append((path, "%r is after the end of the run (duration_s %d = %s): it would never "
                                  "happen" % (v, dur, _hms(end))))

    prev = None
    for i, w in _items(sc, "route"):
        ms = ms_of(w.get("at"))
        if ms is None:
            continue
        if prev is not None and ms < prev[1]:
            out.append(("route[%d].at" % i, "%r comes before route[%d].at %r: waypoints go in time order"
                        % (w["at"], prev[0], prev[2])))
        prev = (i, ms, w["at"])

    for i, a in _items(sc, "aps"):
        if "follows" in a:
            t0, t1 = ms_of(a.get("from")), ms_of(a.get("to"))
            if t0 is not None and t1 is not None and t1 <= t0:
                out.append(("aps[%d].to" % i, "%r is not after from %r" % (a["to"], a["from"])))

    cfg = sc.get("config")
    if isinstance(cfg, dict):
        for k in sorted(cfg):
            path = "config." + k
            if any(b == path or b.startswith(path + ".") or b.startswith(path + "[") for b in bad):
                continue
            try:
                fw_config.check(k, cfg[k])
            except ValueError as e:
                msg = str(e)
                if msg.startswith(k + ": "):
                    msg = msg[len(k) + 2:]
                out.append((path, msg + " (firmware/config.py)"))

    for i, p in _items(sc, "people"):
        path = "people[%d]" % i
        if any(b == path or b.startswith(path + ".") or b.startswith(path + "[") for b in bad):
            continue
        try:
            phones.Person(p, path)
        except ValueError as e:
            msg = str(e)
            field, sep, rest = msg.partition(": ")
            out.append((field, rest) if sep and field.startswith(path) else (path, msg))
    return out


def _items(d, key):
    """[(index, item)] of the objects in list d[key] (nothing if it is not a list)."""
    v = d.get(key)
    return [(i, v[i]) for i in range(len(v)) if isinstance(v[i], dict)] if isinstance(v, list) else []


def problems(sc):
    """[(path, message)] of everything wrong with a scenario (after "extends"); [] if none."""
    if not isinstance(sc, dict):
        return [("", "a scenario is a JSON object")]
    out = _schema_problems(sc)
    out.extend(_semantic_problems(sc, set(p for p, _ in out)))
    return out


def check(sc, where=""):
    """Raise ScenarioError (a ValueError) naming each bad field, or return the scenario."""
    found = problems(sc)
    if found:
        raise ScenarioError(where, found)
    return sc


def check_file(path):
    """Load a scenario file ("extends" followed) and check it; ScenarioError if bad."""
    from host_sim import scenario

    return scenario.load(path, check=True)
