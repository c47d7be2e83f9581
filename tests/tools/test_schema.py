"""host_sim/scenario.schema.json and host_sim/schema.py: every scenario file validates (after
its "extends"), a bad one is refused before anything runs with the field's path and the
problem, the schema's lists match the code they mirror, and MicroPython (no jsonschema) still
loads scenarios unchecked."""
import copy
import glob
import json
import os
import subprocess
import sys

import jsonschema
import pytest

from host_sim import energy, phones, scenario, schema, traccar
from host_sim.modem_a76xx import GNSS_TTFF, MODELS

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCENARIOS = sorted(glob.glob(os.path.join(REPO, "host_sim", "scenarios", "*.json")))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def test_the_schema_is_a_valid_draft_2020_12_schema():
    s = schema.schema()
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(s)


@pytest.mark.parametrize("path", SCENARIOS, ids=[os.path.basename(p) for p in SCENARIOS])
def test_every_scenario_validates(path):
    sc = scenario.load(path, check=True)  # raises ScenarioError naming each bad field
    assert schema.problems(sc) == []


def test_the_checked_scenarios_include_variants_and_the_examples():
    raw = {os.path.basename(p): json.load(open(p)) for p in SCENARIOS}
    assert len([n for n, d in raw.items() if "extends" in d]) >= 5  # hostile_*, lase, weekend_no_signal
    for name in ("school_day.json", "weekend_no_signal.json", "sos_park.json", "week.json",
                 "guardian_day.json"):
        assert name in raw


def _school_day():
    return scenario.load(os.path.join(REPO, "host_sim", "scenarios", "school_day.json"))


def _bad(mutate):
    sc = _school_day()
    sc["events"] = [{"at": "01:00", "do": "press"}, {"at": "02:00", "do": "modem_reboot"},
                    {"at": "03:00", "do": "server_down", "for_s": 60}, {"at": "04:00", "do": "press"}]
    mutate(sc)
    return schema.problems(sc)


# (what is wrong, the change, the path named, words in the message)
BAD = [
    ("a time that is not HH:MM", lambda sc: sc["events"][3].update(at="25x00"),
     "events[3].at", "'25x00' is not HH:MM[:SS]"),
    ("a time after the run", lambda sc: sc["events"][3].update(at="25:00"),
     "events[3].at", "'25:00' is after the end of the run (duration_s 86400 = 24:00:00)"),
    ("minutes past 59", lambda sc: sc["events"][0].update(at="07:60"), "events[0].at", "is not HH:MM[:SS]"),
    ("an unknown event", lambda sc: sc["events"][1].update(do="explode"), "events[1].do",
     "'explode' is not an event the runner knows"),
    ("a key of another event", lambda sc: sc["events"][0].update(pct=5), "events[0].pct",
     'is not a key of a "press" event'),
    ("a battery event without its level", lambda sc: sc["events"].append({"at": "05:00", "do": "battery"}),
     "events[4].pct", "missing (required)"),
    ("an unknown server mode",
     lambda sc: sc["events"].append({"at": "05:00", "do": "server_mode", "mode": "evil"}),
     "events[4].mode", "is not a server mode"),
    ("a missing start", lambda sc: sc.pop("start"), "start", "missing (required)"),
    ("a start that is no date", lambda sc: sc.update(start="2026-13-01T00:00:00Z"), "start",
     "is not a real date and time"),
    ("a misspelt key", lambda sc: sc.update(duraton_s=5), "duraton_s", "not a key here"),
    ("a short IMEI", lambda sc: sc["device"].update(imei="12345"), "device.imei", "is not an IMEI"),
    ("one slow SMS in zero", lambda sc: sc["device"].update(sms_slow_one_in=0),
     "device.sms_slow_one_in", "less than the minimum of 1"),
    ("a string for a number", lambda sc: sc.update(duration_s="86400"), "duration_s",
     "is not of type 'integer'"),
    ("an unknown sky", lambda sc: sc["route"][2].update(sky="cloudy"), "route[2].sky",
     "'cloudy' is not \"open\", \"urban\" or \"indoor\""),
    ("waypoints out of order", lambda sc: sc["route"][3].update(at="07:00"), "route[3].at",
     "comes before route[2].at"),
    ("a circle without its radius", lambda sc: sc["config"]["zones"][0].pop("r"), "config.zones[0]",
     "is not a zone"),
    ("a polygon of two points", lambda sc: sc["config"]["zones"][1].update(poly=[[59915600, 10761400]] * 2),
     "config.zones[1].poly", "is too short"),
    ("a setting the watch refuses", lambda sc: sc["config"].update(sos_rounds=9), "config.sos_rounds",
     "must be 1..5, not 9 (firmware/config.py)"),
    ("a setting the watch does not have", lambda sc: sc["config"].update(volume=3), "config.volume",
     "unknown setting"),
    ("a bad BSSID", lambda sc: sc.update(aps=[{"ssid": "x", "bssid": "zz", "lat": 59.9, "lon": 10.7}]),
     "aps[0].bssid", "'zz' is not a BSSID"),
    ("a key pressed by voicemail",
     lambda sc: sc.update(people=[{"name": "M", "number": "+4791111111",
                                   "answers": {"mode": "voicemail", "key": "1"}}]),
     "people[0].answers.mode", "only a person who answers presses a key"),
    ("a call after the run", lambda sc: sc.update(people=[{"name": "M", "number": "+4791111111",
                                                           "calls": [{"at": "30:00"}]}]),
     "people[0].calls[0].at", "is after the end of the run"),
]


@pytest.mark.parametrize("what, mutate, path, words", BAD, ids=[b[0] for b in BAD])
def test_a_bad_scenario_names_the_field_and_the_problem(what, mutate, path, words):
    found = _bad(mutate)
    assert found, what
    mine = [m for p, m in found if p == path]
    assert mine, "%s: no problem at %s in %r" % (what, path, found)
    assert any(words in m for m in mine), (what, mine)


def test_the_error_reads_path_colon_problem():
    sc = _school_day()
    sc["events"] = [{"at": "01:00", "do": "press"}] * 3 + [{"at": "25x00", "do": "press"}]
    with pytest.raises(schema.ScenarioError) as e:
        schema.check(sc, "my.json")
    assert isinstance(e.value, ValueError)
    assert str(e.value).startswith("my.json: events[3].at: '25x00' is not HH:MM[:SS]")
    assert e.value.problems == [
        ("events[3].at", "'25x00' is not HH:MM[:SS] (a time after the start; hours may pass 24)")]


def test_a_bad_variant_is_checked_after_extends(tmp_path):
    base = os.path.join(REPO, "host_sim", "scenarios", "school_day.json")
    (tmp_path / "school_day.json").write_text(open(base).read())
    (tmp_path / "v.json").write_text(json.dumps({"extends": "school_day.json", "name": "v",
                                                 "config": {"batch_s": 5000}, "device": {"imei": "1"}}))
    with pytest.raises(schema.ScenarioError) as e:
        scenario.load(str(tmp_path / "v.json"), check=True)
    paths = [p for p, _ in e.value.problems]
    assert paths == ["device.imei", "config.batch_s"]
    assert scenario.load(str(tmp_path / "v.json"))["name"] == "v"  # unchecked: as before


def test_the_runner_refuses_a_bad_scenario_before_anything_runs(tmp_path):
    sc = _school_day()
    sc["events"] = [{"at": "25x00", "do": "press"}]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(sc))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "host_sim", "run", str(path), str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "events[0].at: '25x00' is not HH:MM[:SS]" in r.stderr
    assert not out.exists()  # nothing ran, nothing written


def test_check_command_accepts_every_scenario():
    r = subprocess.run([sys.executable, "-m", "host_sim", "check"] + SCENARIOS, cwd=REPO, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count(": ok") == len(SCENARIOS)


def test_micropython_loads_scenarios_unchecked():
    """No jsonschema there: load(check=True) follows "extends" and skips the check."""
    code = ("from host_sim import scenario; import sys\n"
            "sc = scenario.load('host_sim/scenarios/weekend_no_signal.json', check=True)\n"
            "print(sc['name'], len(sc['route']), 'jsonschema' in sys.modules)\n")
    r = subprocess.run([MICROPYTHON, "-c", code], cwd=REPO, env=dict(os.environ, MICROPYPATH=".frozen:."),
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == ["weekend_no_signal_oslo", "15", "False"]


def _enum(sch, path):
    node = sch
    for p in path:
        node = node[p]
    return node["enum"]


def test_the_schemas_lists_are_the_codes():
    """The check uses the code's lists (a model added to the emulator is valid at once); the
    file's copy (for editors and readers) may lag behind but never holds a value the code lacks."""
    live = schema.live_lists()
    assert live[("$defs", "model")] == list(MODELS)
    assert live[("$defs", "server_mode")] == list(traccar.MODES)
    assert live[("$defs", "gnss_ttff")] == list(GNSS_TTFF)
    assert live[("properties", "battery_end")] == list(energy.ENDS)
    assert phones.MODES == tuple(live[("$defs", "person", "properties", "answers", "properties", "mode")])
    for path, values in live.items():
        assert _enum(schema.schema(), path) == values
        stale = set(_enum(schema.schema(live=False), path)) - set(values)
        assert not stale, (path, stale)
    # every event the schema allows is one the runner's fault() (or its scenario loop) handles;
    # read as text: importing the runner would install the fake machine in this process
    with open(os.path.join(REPO, "host_sim", "runner.py")) as f:
        src = f.read()
    for do in _enum(schema.schema(), ("$defs", "event", "properties", "do")):
        assert '"%s"' % do in src, do


def test_a_model_the_code_knows_is_valid():
    sc = _school_day()
    for model in MODELS:
        sc["device"]["model"] = model
        assert schema.problems(sc) == []
    sc["device"]["model"] = "A9999"
    assert [p for p, _ in schema.problems(sc)] == ["device.model"]


def test_problems_do_not_change_the_scenario():
    sc = _school_day()
    before = copy.deepcopy(sc)
    schema.problems(sc)
    assert sc == before


def test_a_variant_follows_extends_and_is_written_whole(tmp_path):
    """scenario.variant (the scenario tests', make bench's and make sweep's changed days): a day
    that extends another keeps the base's route and device, gets the changes laid over, and the
    file written reads alone from another folder (no "extends" left to resolve there)."""
    path = os.path.join(REPO, "host_sim", "scenarios", "hostile_flood.json")
    out = str(tmp_path / "deep" / "flood.json")
    sc = scenario.variant(path, {"remote_end": "end"}, {"batch_s": 0}, out)
    base = scenario.load(os.path.join(REPO, "host_sim", "scenarios", "school_day.json"))
    assert sc["route"] == base["route"] and sc["device"]["imei"] == base["device"]["imei"]
    assert sc["device"]["remote_end"] == "end" and sc["device"]["sms_slow_one_in"] == 1000000
    assert sc["config"]["batch_s"] == 0 and sc["config"]["pin"] == "4711"
    written = scenario.load(out, check=True)
    assert "extends" not in written and written == sc
    assert scenario.load(path)["device"].get("remote_end") is None  # the file itself unchanged
