"""Scenario files: JSON, optionally built on another one.

`"extends": "school_day.json"` (a file in the same folder) starts from that scenario: every
other key replaces the base's, except "config" and "device", whose keys are merged into the
base's (so a variant of the school day says only what differs: a server's misbehaviour, a
contact, a setting). A chain of extends is followed; a loop is an error.

load(path, check=True) also checks the result against host_sim/scenario.schema.json on CPython
(docs/scenarios.md); the runner loads that way. variant() is a day with other emulator options
or settings (the scenario tests', make bench's and make sweep's variants).
"""
import json
import sys

_MERGED = ("config", "device")


def _folder(path):
    i = path.rfind("/")
    return path[:i + 1] if i >= 0 else ""


def load(path, _seen=None, check=False):
    """The scenario in a file, its "extends" followed. check: also check it against
    host_sim/scenario.schema.json (host_sim/schema.py) and raise its ScenarioError (a
    ValueError naming each bad field) before anything runs; on CPython only (jsonschema is
    CPython's: on MicroPython the simulator runs unchecked, the tests check every scenario)."""
    with open(path) as f:
        sc = json.load(f)
    base = sc.pop("extends", None)
    if base is not None:
        seen = _seen or []
        if path in seen:
            raise ValueError("extends: a loop through %s" % path)
        out = load(_folder(path) + base, seen + [path])
        for k, v in sc.items():
            if k in _MERGED and isinstance(v, dict) and isinstance(out.get(k), dict):
                merged = dict(out[k])
                merged.update(v)
                out[k] = merged
            else:
                out[k] = v
        sc = out
    if check and sys.implementation.name == "cpython":
        from host_sim import schema

        schema.check(sc, path)
    return sc


def variant(path, device=None, config=None, out=None):
    """The scenario in a file (its "extends" followed) with `device` laid over its "device"
    block and `config` over its "config". out: also written whole there, a file a run in
    another process reads from any folder (CPython: the tools and the tests call this)."""
    sc = load(path)
    for k, changes in (("device", device), ("config", config)):
        if changes:
            block = dict(sc.get(k) or {})
            block.update(changes)
            sc[k] = block
    if out is not None:
        import os

        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump(sc, f)
    return sc
