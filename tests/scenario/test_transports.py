"""Transports (issue 10; docs/transports.md) on both interpreters: the school day over TLS (a
TLS front before Traccar's watch port) and over OsmAnd (HTTP, one GET per report) with every
report delivered; a proxy presenting a certificate the watch's CA does not sign is refused and
reported while the reports wait (never in clear), and they go once the proxy is fixed; no
secret (the PIN, the CA) in any output of a TLS day."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from conftest import BIN, REPO, SimRun
from days import every_report_accounted_for, held_at_end, timeline
from firmware import clock
from host_sim import traccar
from host_sim.scenario import load

INTERPS = ["python", "micropython"]
CA = "Trygg Test Root CA"
PIN = "73914682"  # 8 digits: a 4-digit PIN could turn up in any number
_runs = {}


def _start(run):
    return clock.parse_iso8601("2026-09-13T22:00:00Z")


def _custom(name, interp, change):
    """school_day_tls.json changed by change(sc), written out whole and run in a subprocess on
    interp (as conftest.simulate runs the scenario files)."""
    key = (name, interp)
    if key in _runs:
        return _runs[key]
    base = os.path.join(REPO, "out", "test-transports")
    os.makedirs(base, exist_ok=True)
    sc = load(os.path.join(REPO, "host_sim", "scenarios", "school_day_tls.json"))
    change(sc)
    path = os.path.join(base, name + ".json")
    with open(path, "w") as f:
        json.dump(sc, f)
    out = os.path.join(base, "%s-%s" % (name, interp))
    shutil.rmtree(out, ignore_errors=True)
    if interp == "micropython":
        cmd = [os.path.join(BIN, "micropython"), "-X", "heapsize=64M", "-m", "host_sim", "run", path, out]
        env = dict(os.environ, MICROPYPATH=".frozen:.")
    else:
        cmd = [sys.executable, "-W", "error::RuntimeWarning", "-m", "host_sim", "run", path, out]
        env = dict(os.environ)
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    if r.returncode or not os.path.exists(os.path.join(out, "summary.json")):
        pytest.fail("%s on %s failed:\n%s\n%s" % (name, interp, r.stdout[-3000:], r.stderr[-3000:]))
    run = SimRun(out)
    run.stdout = r.stdout
    _runs[key] = run
    return run


def _wrong_then_fixed(sc):
    # the proxy presents a chain from another CA until 02:00, when its certificate is fixed
    sc["server"] = dict(sc["server"], ca="Old Proxy CA")
    sc["events"] = [{"at": "02:00", "do": "server_ca", "ca": CA}]
    sc["duration_s"] = 4 * 3600


def _with_secrets(sc):
    # a guardian's SMS command with the PIN at 03:00 of a 6-hour TLS night
    sc["duration_s"] = 6 * 3600
    sc["config"] = dict(sc["config"], pin=PIN, country_code="47",
                        contacts=[{"name": "Mamma", "number": "+4791111111", "roles": ["guardian", "sos"]}])
    sc["people"] = [{"name": "Mamma", "number": "+4791111111", "answers": {"mode": "answer", "rings": 2},
                     "texts": [{"at": "03:00", "text": "pw,%s,where#" % PIN}]}]


# ==================================================================== the school day over TLS


@pytest.mark.parametrize("interp", INTERPS)
def test_the_school_day_over_tls_delivers_every_report(sim, interp):
    run = sim("school_day_tls", interp)
    t_ms, _ = timeline(_start(run))
    n = every_report_accounted_for(run, t_ms)  # at the server, or in the last batch still held
    assert n > 280 and run.summary["reports_delivered"] + run.summary["outbox_left"] == n
    # every session went through the front's handshake, none in clear, none refused
    tls = [w["data"] for w in run.wire if w["channel"] == "tls"]
    connects = run.kinds("connect")
    assert connects and all(c["tls"] is True and c["port"] == 5094 for c in connects)
    assert tls == ["handshake done"] * len(connects)
    assert not run.kinds("tls_refused") and run.summary["firmware_errors"] == 0
    assert [e["stored"] for e in run.kinds("tls_ca")] == ["trygg9863a90e.pem"]  # once, by its CRC
    assert run.summary["zone_alerts_missed"] == 0


def test_tls_costs_a_handshake_and_29_bytes_a_record(sim):
    run = sim("school_day_tls", "python")
    tls, plain = run.summary, sim("school_day", "python").summary
    extra = tls["air_bytes_per_day"] - plain["air_bytes_per_day"]
    # one handshake (~4.2 KB with the front's two-certificate chain) and a record per send and
    # per ack (29 bytes each, RFC 5288 §3): ~+8 % on the plain day's ~142 KB. A send ends in an
    # LK: ~130 on the day, three or four reports each while the watch stands still (batch_s),
    # give or take the few transfers the two days' timings split differently
    sends = len(run.frames("up", "LK"))
    assert 4000 + 29 * 2 * (sends - 30) < extra < 6000 + 29 * 2 * (sends + 30), (extra, sends)
    assert abs(tls["avg_current_ua"] - plain["avg_current_ua"]) < plain["avg_current_ua"] // 100


# ==================================================================== the school day over OsmAnd


@pytest.mark.parametrize("interp", INTERPS)
def test_the_school_day_over_osmand_delivers_every_report(sim, interp):
    run = sim("school_day_osmand", interp)
    t_ms, _ = timeline(_start(run))
    n = every_report_accounted_for(run, t_ms)  # at the server, or in the last batch still held
    left = run.summary["outbox_left"]
    assert n > 280 and run.summary["reports_delivered"] + left == n
    ups = [w["data"] for w in run.wire if w["channel"] == "osmand" and w["dir"] == "up"]
    downs = [w["data"] for w in run.wire if w["channel"] == "osmand" and w["dir"] == "down"]
    assert not [w for w in run.wire if w["channel"] == "watch"]
    assert len(ups) == len(downs) == n - left + len(run.kinds("alarm_delivered"))
    assert all(d.startswith("200 OK") for d in downs)
    # each report is a GET with Traccar's OsmAnd parameters, in knots and Unix seconds
    q = ups[0]
    assert q.startswith("GET /?id=862000012345674&timestamp=17893") and q.endswith(" HTTP/1.1")
    for p in ("&lat=59.", "&lon=10.", "&valid=", "&speed=", "&bearing=", "&altitude=", "&accuracy=",
              "&batt=", "&cell=242,1,"):
        assert p in q, p
    # the zone alarms by OsmAnd's alarm=, alerted as fast as over the watch protocol
    alarms = [re.search("&alarm=([a-zA-Z]+)", u).group(1) for u in ups if "&alarm=" in u]
    assert alarms == ["geofenceExit", "geofenceEnter"] * 3
    s = run.summary
    assert s["zone_alerts_missed"] == 0 and s["zone_alert_latency_s"]["worst"] <= 60
    # the guardian's command at 12:00 came back in the body of the next answer and was applied
    assert "200 OK FLOWER,3" in downs
    cmd = [e for e in run.kinds("downlink") if e.get("via") == "osmand"]
    assert [e["content"] for e in cmd] == ["FLOWER,3"] and run.kinds("command_applied")
    assert s["firmware_errors"] == 0


def test_osmand_bytes_and_current_against_the_watch_protocol(sim):
    osm, plain = sim("school_day_osmand", "python").summary, sim("school_day", "python").summary
    # longer requests than UD frames and an answer to each (no heartbeat), where the watch
    # protocol's batch of three or four reports (batch_s) shares one LK and its ack: ~30 % more
    # bytes; each request of a batch is an AT exchange of its own (URL, action, answer), one
    # after another, so the modem stays awake a little longer: ~2 % more current
    assert plain["air_bytes_per_day"] < osm["air_bytes_per_day"] < plain["air_bytes_per_day"] * 140 // 100
    assert abs(osm["avg_current_ua"] - plain["avg_current_ua"]) < plain["avg_current_ua"] * 3 // 100


# ==================================================================== a wrong CA, then fixed


@pytest.mark.parametrize("interp", INTERPS)
def test_a_wrong_certificate_is_refused_and_the_reports_wait(interp):
    run = _custom("wrong_ca", interp, _wrong_then_fixed)
    t_ms, _ = timeline(_start(run))
    fixed = 2 * 3600 * 1000
    refused = run.kinds("tls_refused")
    assert len(refused) >= 4 and all(e["err"] == 15 and t_ms(e["t"]) < fixed for e in refused)
    assert "not signed by the CA" in refused[0]["why"]
    # the tries thin out: a refused handshake costs ~4 KB (bad_backoff: 1, 2, 4 ... 30 min)
    assert [e["retry_s"] for e in refused[:5]] == [60, 120, 240, 480, 960][:len(refused[:5])]
    alerts = [w for w in run.wire if w["channel"] == "tls" and w["data"].startswith("alert")]
    assert len(alerts) == len(refused)
    # nothing in clear: no plain bytes to the front, no frame at the server before the fix
    assert not [w for w in run.wire if w["channel"] == "tls" and w["data"].startswith("not TLS")]
    watch = [w for w in run.wire if w["channel"] == "watch"]
    assert watch and min(t_ms(w["t"]) for w in watch) > fixed
    # then the queued reports go: every one made while refused is at the server by the end,
    # none lost; only the last batch, made long after the fix, may still be held (batch_s)
    n = every_report_accounted_for(run, t_ms)
    waited = [e["seq"] for e in run.kinds("report") if t_ms(e["t"]) < fixed]
    held = [seq for seq, _ in held_at_end(run)]
    assert n > 40 and len(waited) >= 20 and not set(waited) & set(held), held


def test_the_wrong_certificate_day_is_the_same_on_both_interpreters():
    a = _custom("wrong_ca", "python", _wrong_then_fixed).wire
    b = _custom("wrong_ca", "micropython", _wrong_then_fixed).wire
    assert len(a) > 50 and a == b


# ==================================================================== secrets


def test_no_secret_in_any_output_of_a_tls_day():
    run = _custom("secrets", "python", _with_secrets)
    assert [e for e in run.kinds("command") if e["source"] == "sms"]  # the PIN was right
    pem = traccar.ca_pem(CA)
    needles = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    assert len(needles) > 10
    pin = re.compile("(?<![0-9])%s(?![0-9])" % PIN)
    seen = 0
    for root, dirs, files in os.walk(run.out):
        if os.path.basename(root) == "flash" or "/flash/" in root + "/":
            continue  # the watch's own storage: config.json holds the PIN, ca.pem the CA
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            seen += 1
            if name in ("wire.jsonl", "people.jsonl"):
                # the guardian's own SMS as the network carried it is hers, not the watch's output
                text = "\n".join(line for line in text.splitlines() if "pw," not in line)
            assert not pin.search(text), name
            assert "BEGIN CERTIFICATE" not in text, name
            for n in needles:
                assert n not in text, name
    assert seen >= 4
    # the timeline the simulator prints (it shows the guardian's SMS as the network carried it)
    out = "\n".join(line for line in run.stdout.splitlines() if " sms " not in line or "pw," not in line)
    assert not pin.search(out) and not [n for n in needles if n in out] and "BEGIN CERT" not in out
