"""The short mutation run on CPython (300 inputs per target, seed 1: the same inputs
`micropython tools/fuzz.py --n 300` runs), and proof that both interpreters make the same
inputs."""
import os
import subprocess
import sys

import pytest

import fuzzer

N = int(os.getenv("TRYGG_FUZZ_N", "300"))
SEED = int(os.getenv("TRYGG_FUZZ_SEED", "1"))
NAMES = [t.name for t in fuzzer.targets()]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Outcomes the mutations must reach in the short run: neither all harmless nor all fatal (the
# old test_parse_fuzz.py asserted the same of +CPSI and +CGNSSINFO).
REACHED = {
    "at_engine": ("urcs",), "at_cmd": ("reply", "error", "ATTimeout"), "a76xx_urc": ("events",),
    "cgnssinfo": ("fix", "none", "rejected"), "cpsi": ("cell", "none", "rejected"),
    "sms_urc": ("sms", "rejected", "no length"), "call_urc": ("clip", "clcc", "rejected"),
    "wifi_scan": ("aps", "empty"), "smscodec": ("gsm", "ucs2", "too long"),
    "sms_command": ("command", "wrong pin", "message"), "downlink": ("reply", "bad frame"),
    "config": ("good", "recovered"), "outbox": ("records",), "places": ("places", "none"),
    "zones": ("accepted", "rejected"), "zones_json": ("beliefs", "none"),
    "contacts": ("accepted", "rejected"), "phone_number": ("e164", "rejected"),
    "state_files": ("read", "empty"),
}


@pytest.mark.parametrize("name", NAMES)
def test_short_mutation_run(name):
    rep = fuzzer.fuzz(fuzzer.get(name), N, SEED)
    assert rep.failures == 0, "%s: %d of %d inputs failed (shrunk cases saved in tests/fuzz/corpus/%s)" % (
        name, rep.failures, rep.inputs, name)
    for label in REACHED[name]:
        assert rep.labels.get(label, 0) > 0, "%s: no input reached %r: %r" % (name, label, rep.labels)


def test_every_target_has_expectations():
    assert sorted(REACHED) == sorted(NAMES)


def test_same_inputs_on_micropython():
    mpy = os.path.join(os.path.dirname(sys.executable), "micropython")
    if not os.path.exists(mpy):
        pytest.skip("no MicroPython interpreter")
    env = dict(os.environ, MICROPYPATH=".frozen:.:tests/unit")
    r = subprocess.run([mpy, "tools/fuzz.py", "--digest", "--n", "200"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    want = "".join(["%-14s %08x\n" % (t.name, fuzzer.digest(t, 200, 1)) for t in fuzzer.targets()])
    assert r.stdout == want
