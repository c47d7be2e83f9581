"""tools/deploy.py: every watch gets a PIN of its own (no shared default)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))

import deploy  # noqa: E402

from firmware import config  # noqa: E402


def test_a_config_without_a_pin_gets_a_fresh_valid_one():
    pins = set()
    for _ in range(20):
        values, pin = deploy.provision({"server_host": "t.example"})
        config.check("pin", pin)
        assert values["pin"] == pin and values["server_host"] == "t.example"
        pins.add(pin)
    assert len(pins) > 15  # random, not a default
    assert deploy.provision({"pin": "4711"}) == ({"pin": "4711"}, None)  # kept
    assert deploy.provision({"pin": "4711"}, "123456") == ({"pin": "123456"}, "123456")


def test_dry_run_installs_the_provisioned_config(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "my.json"
    cfg.write_text('{"server_host": "t.example"}')
    monkeypatch.setattr(sys, "argv", ["deploy", "--config", str(cfg), "--dry-run"])
    deploy.main()
    out = capsys.readouterr().out
    assert "PIN for SMS commands on this watch: " in out and ":data/config.json" in out
