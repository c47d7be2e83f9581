"""Runs each simulated day once per test session, in a subprocess, on the interpreter asked
for, and hands the tests its output files."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from host_sim import scenario as scenario_file

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
_cache = {}


class SimRun:
    def __init__(self, out):
        self.out = out
        with open(os.path.join(out, "summary.json")) as f:
            self.summary = json.load(f)
        self.events = [json.loads(line) for line in open(os.path.join(out, "events.jsonl"))]
        self.wire = [json.loads(line) for line in open(os.path.join(out, "wire.jsonl"))]
        # what the scenario's people experienced (host_sim/phones.py), e.g. "watch_busy"
        self.people = [json.loads(line) for line in open(os.path.join(out, "people.jsonl"))]

    def kinds(self, kind):
        return [e for e in self.events if e["kind"] == kind]

    def frames(self, direction, prefix=""):
        out = []
        for w in self.wire:
            if w["dir"] != direction or w["channel"] != "watch":
                continue
            content = w["data"].split("*", 3)[3][:-1]
            if content.startswith(prefix):
                out.append(content)
        return out


def simulate(scenario, interpreter, device=None):
    """device: changes to the scenario's "device" block (emulator options), for a variant of a
    day (its files go to a folder of their own)."""
    variant = "".join("-%s=%s" % kv for kv in sorted((device or {}).items()))
    key = (scenario + variant, interpreter)
    if key not in _cache:
        out = os.path.join(REPO, "out", "test-sim", "%s%s-%s" % (scenario, variant, interpreter))
        path = os.path.join("host_sim", "scenarios", scenario + ".json")
        if device:  # the day, its extends followed, with the changes: a file of its own
            changed = os.path.join(REPO, "out", "test-sim", "%s%s.json" % (scenario, variant))
            scenario_file.variant(os.path.join(REPO, path), device, out=changed)
            path = changed
        if interpreter == "micropython":
            cmd = [os.path.join(BIN, "micropython"), "-X", "heapsize=64M", "-m", "host_sim", "run", path, out]
            env = dict(os.environ, MICROPYPATH=".frozen:.")
        else:
            cmd = [sys.executable, "-W", "error::RuntimeWarning", "-m", "host_sim", "run", path, out]
            env = dict(os.environ)
        shutil.rmtree(out, ignore_errors=True)  # never read a previous run's files
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        if r.returncode or not os.path.exists(os.path.join(out, "summary.json")):
            pytest.fail("simulation %s on %s failed (exit %d):\n%s\n%s" % (
                scenario, interpreter, r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
        run = SimRun(out)
        run.returncode = r.returncode
        run.stdout = r.stdout
        run.stderr = r.stderr
        _cache[key] = run
    return _cache[key]


@pytest.fixture(scope="session")
def sim():
    return simulate
