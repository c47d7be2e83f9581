"""The power-cut suite's short run (tools/soak.py; `make soak` is the week with 1,000 cuts): a
day with 100 power cuts, a third of them inside flash operations, on both interpreters. Every
report and alarm the firmware queued is delivered, still queued, or dropped by the outbox's
bound: none lost."""
import json
import os
import subprocess
import sys

import pytest

from conftest import BIN, REPO

_runs = {}


def _soak(interp):
    if interp not in _runs:
        out = os.path.join(REPO, "out", "test-soak", interp)
        args = ["tools/soak.py", "--days", "1", "--cuts", "100", "--seed", "3", "--out", out, "--json"]
        if interp == "micropython":
            cmd = [os.path.join(BIN, "micropython"), "-X", "heapsize=64M"] + args
            env = dict(os.environ, MICROPYPATH=".frozen:.")
        else:
            cmd = [sys.executable] + args
            env = dict(os.environ)
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        lines = [x for x in r.stdout.splitlines() if x.startswith("{")]
        assert lines, (r.returncode, r.stdout[-2000:], r.stderr[-2000:])
        _runs[interp] = (r.returncode, json.loads(lines[-1]))
    return _runs[interp]


@pytest.mark.parametrize("interp", ["python", "micropython"])
def test_a_day_of_power_cuts_loses_nothing(interp):
    rc, r = _soak(interp)
    assert r["lost"] == 0 and rc == 0, r["lost_items"]
    assert r["cuts"] == 100 and r["boots"] == 101
    # the cuts reached every kind of flash operation the firmware makes
    inside = r["cuts_inside_flash"]
    assert all(inside[k] >= 1 for k in ("create", "write", "rename", "remove")), inside
    assert sum(inside.values()) >= 25
    # a day without an outage: all of it at the server by the evening, some more than once
    # (a cut between a send and the write of its ack: the same frame again, never a wrong one),
    # but for the last batch, which may still wait on flash for its companions (batch_s 900
    # at a 300 s interval: at most three reports)
    assert r["created"] > 300 and r["delivered"] + r["pending"] == r["created"] and r["pending"] <= 3
    assert r["dropped_by_bound"] == 0 and r["duplicated"] >= 1


def test_the_same_cuts_give_the_same_day_on_both_interpreters():
    a, b = _soak("python")[1], _soak("micropython")[1]
    for k in ("created", "delivered", "duplicated", "cuts_inside_flash", "boots"):
        assert a[k] == b[k], k
