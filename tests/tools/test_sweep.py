"""tools/sweep.py: its checks flag what must not happen whatever the modem does (a report lost,
a crossing never alerted, an SOS that did not text every SOS contact or neither reached a
guardian nor ran its chain out, a watchdog reset) and nothing else; and one sweep line runs."""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import sweep  # noqa: E402

SC = {"device": {}, "config": {"contacts": [{"name": "Mamma", "roles": ["guardian", "sos"]},
                                            {"name": "Pappa", "roles": ["guardian", "sos"]},
                                            {"name": "Bestemor", "roles": ["friend"]}]}}


def _summary(**kw):
    s = {"reports_queued": 300, "reports_delivered": 297, "outbox_left": 3, "zone_alerts_missed": 0,
         "watchdog_resets": 0}
    s.update(kw)
    return s


def _sos(*rest):
    return [{"kind": "sos"}] + [dict(kind=k, **a) for k, a in rest]


TEXTED = (("sos_sms", {"to": "Mamma"}), ("sos_sms", {"to": "Pappa"}))


def test_a_day_that_keeps_its_promises_is_not_flagged():
    events = _sos(*TEXTED, ("sos_accepted", {"by": "Pappa"})) + _sos(*TEXTED, ("sos_unanswered", {}))
    assert sweep.problems(SC, _summary(reports_delivered=305, outbox_left=0), events) == []  # duplicates


def test_each_broken_promise_is_named():
    assert sweep.problems(SC, _summary(outbox_left=1), []) == ["2 reports lost"]
    assert sweep.problems(SC, _summary(zone_alerts_missed=2), [], _summary(zone_alerts_missed=1)) == \
        ["1 crossings never alerted"]
    assert sweep.problems(SC, _summary(watchdog_resets=1), []) == ["1 watchdog resets"]
    assert sweep.problems(SC, _summary(watchdog_resets=1), [], _summary(watchdog_resets=1)) == []
    # the all-slow-SMS SOS before its fix: one guardian texted, nobody reached, no chain run out
    events = _sos(("sos_sms", {"to": "Mamma"}), ("sos_call_failed", {}))
    assert sweep.problems(SC, _summary(), events) == [
        "an SOS texted ['Mamma'] of ['Mamma', 'Pappa']",
        "an SOS neither reached a guardian nor ran its chain out"]


def test_a_modem_without_voice_or_sms_is_held_to_what_it_can():
    novoice = dict(SC, device={"voice": False})
    assert sweep.problems(novoice, _summary(), _sos(*TEXTED, ("sos_no_calls", {}))) == []
    nosms = dict(SC, device={"sms": False})
    events = _sos(("sos_no_sms", {}), ("sos_accepted", {"by": "Mamma"}))
    assert sweep.problems(nosms, _summary(), events) == []


def test_one_sweep_line_runs():
    # the one-hour SOS-at-boot day, every SMS slow and the far end's hang-up as NO CARRIER: a
    # few seconds, in a process of its own (the simulator installs fakes where it runs)
    r = subprocess.run([sys.executable, "tools/sweep.py", "--only", "boot_sos", "--out",
                        os.path.join(REPO, "out", "test-sweep")], cwd=REPO, capture_output=True,
                       text=True, timeout=300)
    lines = [x for x in r.stdout.splitlines() if x.startswith("boot_sos") or x.startswith("sweep:")]
    assert r.returncode == 0 and len(lines) == 2 and "FLAG" not in lines[0], r.stdout[-2000:]
    assert lines[1] == "sweep: 0 flagged"
