"""The emulator sweep (`make sweep`): the scenario days again under the modem's and the network's
other behaviours the manual allows (a slow SMS centre, a far end's hang-up reported one way or
the other, a slow PDP activation or TCP connect, the modem's idle timer at either end, GNSS
firmware without READY, no network time, a variant without GNSS, voice or SMS), each checked
for what must hold whatever the modem does:

lost        reports made and neither delivered nor still queued at the end (must be 0)
alerts      zone crossings never alerted, more than on the same day unswept
sos         an SOS that did not text every SOS contact (on a modem with SMS), or, on a modem
            with voice, neither reached a guardian nor ran its chain out
resets      watchdog resets beyond the day's own (a fault day schedules one)

    python tools/sweep.py [--only NAME ...] [--out out/sweep]

Each line: the day, what was changed, the figures, and FLAG with the reasons when a check fails
(exit 1). CPython only (a day takes seconds here, a minute on MicroPython; the interpreters give
the same wire, tests/scenario/test_every_day.py). Found so far: an SOS that took a rejected
caller's call end for its own (all-slow SMS), a network slower than 20 s at every connect that
was never reached, a module refusing every GNSS command that was asked all day.
"""
import json
import os
import sys

REPO = __file__.rsplit("/", 2)[0] if __file__.count("/") >= 2 else "."
sys.path.insert(0, REPO)

# (day, changes to its "device": the emulator's options, docs/scenarios.md)
VARIANTS = [
    ("sos_park", {"sms_slow_one_in": 1}),
    ("sos_park", {"sms_slow_one_in": 1, "remote_end": "end"}),
    ("sos_park", {"remote_end": "no_carrier"}),
    ("sos_park", {"sleep_idle_ms": 10000}),
    ("sos_park", {"sleep_idle_ms": 20000}),
    ("sos_park", {"cipopen_ms": 45000}),
    ("sos_park", {"voice": False}),
    ("sos_park", {"sms": False}),
    ("calls_day", {"remote_end": "end"}),
    ("calls_day", {"sms_capacity": 2, "remote_end": "no_carrier"}),
    ("boot_sos", {"sms_slow_one_in": 1, "remote_end": "no_carrier"}),
    ("guardian_day", {"sms_slow_one_in": 1, "remote_end": "end"}),
    ("school_day", {"netopen_ms": 110000}),
    ("school_day", {"cipopen_ms": 60000}),
    ("school_day", {"gnss_firmware": "old"}),
    ("school_day", {"nitz": "never"}),
    ("school_day", {"sleep_idle_ms": 20000}),
    ("school_day_osmand", {"netopen_ms": 60000}),
    ("school_day_tls", {"netopen_ms": 50000}),
    ("school_day_sim7000", {"netopen_ms": 60000}),
    ("faults_day", {"sms_slow_one_in": 1}),
    ("low_battery", {"sms_slow_one_in": 1}),
]


def run(name, device, out):
    """One day (the scenario file with `device` laid over its "device"): (scenario, summary,
    events). The simulator is imported here, not with this module: it installs the fake
    machine and virtual time in the process (the checks alone are imported by the tests)."""
    from host_sim import runner  # first: virtual time before asyncio
    from host_sim.scenario import variant
    from firmware import clock

    sc = variant(os.path.join(REPO, "host_sim", "scenarios", name + ".json"), device)
    clock.wall = clock.WallClock()  # a new watch: no time from an earlier run in this process
    s = runner.Sim(sc, out, echo=False).run()
    with open(os.path.join(out, "events.jsonl")) as f:
        events = [json.loads(line) for line in f]
    return sc, s, events


def problems(sc, s, events, base=None):
    """What fails the checks (the module docstring) for a day's summary s and its events; base:
    the same day's summary unswept (missed alerts and resets are counted beyond its own)."""
    out = []
    lost = s["reports_queued"] - s["reports_delivered"] - s["outbox_left"]
    if lost > 0:
        out.append("%d reports lost" % lost)
    missed = s["zone_alerts_missed"] - (base["zone_alerts_missed"] if base else 0)
    if missed > 0:
        out.append("%d crossings never alerted" % missed)
    resets = s.get("watchdog_resets", 0) - (base.get("watchdog_resets", 0) if base else 0)
    if resets > 0:
        out.append("%d watchdog resets" % resets)
    dev = sc.get("device", {})
    contacts = [c["name"] for c in sc.get("config", {}).get("contacts", []) if "sos" in c.get("roles", ())]
    sos = [i for i, e in enumerate(events) if e["kind"] == "sos"] + [len(events)]
    for a, b in zip(sos, sos[1:]):
        inside = events[a:b]
        kinds = [e["kind"] for e in inside]
        texted = set(e["to"] for e in inside if e["kind"] == "sos_sms")
        if dev.get("sms", True) and "sos_no_sms" not in kinds and contacts and texted != set(contacts):
            out.append("an SOS texted %s of %s" % (sorted(texted), sorted(contacts)))
        if dev.get("voice", True) and "sos_no_calls" not in kinds and \
                "sos_accepted" not in kinds and "sos_unanswered" not in kinds:
            out.append("an SOS neither reached a guardian nor ran its chain out")
    return out


def main(argv):
    only = []
    out = os.path.join(REPO, "out", "sweep")
    i = 0
    while i < len(argv):
        if argv[i] == "--only":
            only.append(argv[i + 1])
            i += 2
        elif argv[i] == "--out":
            out = argv[i + 1]
            i += 2
        else:
            print(__doc__)
            return 2
    bases = {}
    flagged = 0
    for name, device in VARIANTS:
        if only and name not in only:
            continue
        if name not in bases:
            bases[name] = run(name, {}, os.path.join(out, name))[1]
        what = json.dumps(device)
        sc, s, events = run(name, device, os.path.join(out, name + "-variant"))
        bad = problems(sc, s, events, bases[name])
        flagged += bool(bad)
        print("%-18s %-52s made %4d, at the server %4d, queued %d, alerts after %s, %.2f mA%s" % (
            name, what, s["reports_queued"], s["reports_delivered"], s["outbox_left"],
            s["zone_alert_latencies_s"], s["avg_current_ua"] / 1000,
            ("  FLAG: " + "; ".join(bad)) if bad else ""))
    print("sweep: %d flagged" % flagged)
    return 1 if flagged else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
