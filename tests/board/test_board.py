"""QA over serial (issue 9): boot, modem up, a fix or a clear "no sky", a report at the server,
SOS, the console. Against the virtual board in CI, a real board with --port /dev/ttyUSB0."""
import json
import os
import re
import time

from conftest import BOOT_S


def test_the_console_answers_and_refuses_garbage(console):
    lines, end = console.ask("help")
    assert end == "ok"
    names = [x.split()[0] for x in lines]
    for c in ("status", "fix", "modem", "outbox", "config", "sos", "selftest"):
        assert c in names, names
    assert console.ask("frobnicate")[1] == "error: unknown command frobnicate"
    assert console.ask("x" * 200)[1].startswith("error: line too long")


def test_the_modem_comes_up_and_registers(console):
    f = console.wait_for("status", lambda f: f.get("modem") == "up" and f.get("registered") == "yes")
    assert re.match(r"^\d{15}$", f["device"]) or f["device"] != "-", f
    m = console.fields("modem")
    assert m["imei"] != "-" and m["sim"] == "READY" and m["reg"] in ("home", "roaming"), m


def test_config_shows_no_secret(console):
    lines, end = console.ask("config")
    assert end == "ok"
    pin = [x for x in lines if x.startswith("config pin=")]
    assert pin == ["config pin=***"], pin
    assert any(x.startswith("config server_host=") for x in lines)


def test_selftest_every_part_passes_or_says_no_sky(console):
    console.wait_for("status", lambda f: f.get("registered") == "yes")
    lines, end = console.ask("selftest", timeout=240)
    parts = dict(re.match(r"selftest (\w+): (pass|fail) ?(.*)", x).group(1, 2) for x in lines)
    assert list(parts) == ["modem", "sim", "network", "gnss", "server", "flash", "battery", "button",
                           "wifi", "steps"], lines
    assert end == "ok" and all(v == "pass" for v in parts.values()), lines
    gnss = [x for x in lines if x.startswith("selftest gnss:")][0]
    assert re.search(r"pass (fix lat=|no sky|absent)", gnss), gnss


def test_a_report_reaches_the_server(console):
    f = console.wait_for("outbox", lambda f: int(f.get("delivered", "0")) >= 1 and f.get("queued") == "0"
                         and f.get("server") == "connected")
    assert int(f["next_seq"]) >= 2
    wire = os.environ.get("TRYGG_BOARD_WIRE")
    if wire:  # the virtual board: the simulated server's own record
        device = console.fields("status")["device"]
        ups = [json.loads(x) for x in open(wire)]
        uds = [w for w in ups if w.get("dir") == "up" and w.get("channel") == "watch"
               and ("*%s*" % device) in w["data"] and "*UD," in w["data"]]
        assert uds, "no UD from %s at the server" % device


def test_sos_from_the_console_reaches_the_server(console):
    before = console.fields("outbox")
    lines, end = console.ask("sos")
    assert end == "ok" and lines == ["sos started"], lines
    assert console.fields("status")["sos"] == "active"
    # the alarm is queued at once and acked by the server (the alarm queue drains)
    f = console.wait_for("outbox", lambda f: int(f["alarms_next_seq"]) > int(before["alarms_next_seq"])
                         and f["alarms"] == "0", timeout_s=BOOT_S)
    assert f["server"] == "connected"
    wire = os.environ.get("TRYGG_BOARD_WIRE")
    if wire:
        time.sleep(1)
        assert any("*AL" in json.loads(x).get("data", "") for x in open(wire)), "no AL at the server"
