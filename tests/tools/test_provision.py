"""tools/provision.py: a person's settings file checked by the firmware's own validator, every
problem named (key, value, why), secrets never shown, config.json written as the firmware
writes it."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import provision  # noqa: E402

from firmware import config  # noqa: E402

EXAMPLE = os.path.join(REPO, "docs", "provision.example.json")
BAD = {
    "server_host": "bad host",
    "server_port": 70000,
    "pin": "12ab",
    "colour": "red",
    "contacts": [{"name": "Mamma", "number": "911 11 111", "roles": ["guardian", "sos"]},
                 {"name": "X", "number": "abc", "roles": ["sos"]}],
    "zones": [{"name": "home", "lat": 59923600, "lon": 10759200, "r": 5}],
    "school_windows": ["Mo-Fr 08:00-25:00"],
    "lowbat_pct": 10,
    "critical_pct": 15,
    "password": "hunter2",
}


def _run(*args):
    return subprocess.run([sys.executable, os.path.join(REPO, "tools", "provision.py")] + list(args),
                          capture_output=True, text=True, timeout=30)


def test_the_example_file_passes_the_firmwares_validator():
    r = _run("check", EXAMPLE)
    assert r.returncode == 0, r.stderr
    assert "ok (" in r.stdout
    values = provision.load(EXAMPLE)
    assert not any(k.startswith("_") for k in values)  # the notes are dropped
    config.check_all(values)  # the firmware's own verdict, as the watch will load it


def test_every_problem_is_listed_with_key_value_and_why():
    p = {where: (shown, why) for where, shown, why in provision.problems(BAD)}
    assert p["server_host"] == ('"bad host"', "printable ASCII without spaces, quotes or commas")
    assert p["server_port"][0] == "70000" and "1..65535" in p["server_port"][1]
    assert p["colour"] == ('"red"', "unknown setting")
    assert p["contacts[1].number"][0] == '"abc"'
    assert p["zones[0]"][1] == "r: 20..50000 metres" and '"home"' in p["zones[0]"][0]
    assert p["school_windows[0]"][0] == '"Mo-Fr 08:00-25:00"'
    assert "critical_pct" in p["lowbat_pct"][1]
    assert p["pin"][0] == "***" and p["password"] == ("***", "unknown setting")


def test_the_cli_prints_every_problem_and_no_secret(tmp_path):
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(BAD))
    r = _run("check", str(f))
    assert r.returncode == 1
    for key in ("server_host", "server_port", "colour", "contacts[1].number", "zones[0]",
                "school_windows[0]", "lowbat_pct", "pin = ***", "password = ***"):
        assert key in r.stderr, key
    assert "12ab" not in r.stdout + r.stderr and "hunter2" not in r.stdout + r.stderr
    r = _run("write", str(f), str(tmp_path / "out"))
    assert r.returncode == 1 and not (tmp_path / "out").exists()  # nothing written
    f.write_text('{"server_port": 5093,')
    r = _run("check", str(f))
    assert r.returncode == 1 and "not JSON" in r.stderr


def test_contacts_the_watch_would_skip_are_problems_too():
    p = provision.problems({"contacts": [
        {"name": "A", "number": "911 11 111", "roles": ["sos"]},  # national, no country code
        {"name": "B", "number": "+47 922 22 222", "roles": ["guardian"]},
        {"name": "C", "number": "0047 922 22 222", "roles": ["friend"]}]})  # B again
    assert [w for w, _, _ in p] == ["contacts[0].number", "contacts[2].number"]
    assert "country code" in p[0][2] and "skip" in p[0][2]


def test_write_makes_the_firmwares_own_config_json_with_a_fresh_pin(tmp_path):
    r = _run("write", EXAMPLE, str(tmp_path))
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("PIN for SMS commands on this watch: ")]
    assert len(line) == 1
    pin = line[0].split(": ")[1].split()[0]
    loaded = config.Config.load(str(tmp_path))  # as the watch loads it at boot
    assert loaded.recovered is None
    assert loaded["pin"] == pin and loaded["server_host"] == "traccar.example.org"
    assert loaded["contacts"] == provision.load(EXAMPLE)["contacts"]
    with open(tmp_path / "config.json") as f:
        assert sorted(json.load(f)) == sorted(config.DEFAULTS)  # every key, as Config.save writes
    # a PIN of the person's own is kept and never printed
    r = _run("write", EXAMPLE, str(tmp_path), "--pin", "246813")
    assert r.returncode == 0 and "246813" not in r.stdout + r.stderr
    assert config.Config.load(str(tmp_path))["pin"] == "246813"
    r = _run("write", EXAMPLE, str(tmp_path), "--pin", "12")
    assert r.returncode == 1 and "--pin = ***" in r.stderr and "12:" not in r.stderr
