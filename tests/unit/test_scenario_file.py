"""Scenario files that extend another: the base's keys, the variant's on top, config merged."""
import support
from firmware import fsutil
from host_sim import scenario


def _write(d, name, text):
    fsutil.atomic_write(d + "/" + name, text.encode())


def test_a_variant_says_only_what_differs():
    d = support.tmpdir("scfile")
    _write(d, "base.json", '{"name": "base", "route": [1], "config": {"a": 1, "b": 2}, "events": [1]}')
    _write(d, "v.json", '{"extends": "base.json", "name": "v", "config": {"b": 3}, "events": [2]}')
    sc = scenario.load(d + "/v.json")
    assert sc == {"name": "v", "route": [1], "config": {"a": 1, "b": 3}, "events": [2]}
    assert scenario.load(d + "/base.json")["config"] == {"a": 1, "b": 2}  # the base untouched


def test_a_loop_of_extends_is_an_error():
    d = support.tmpdir("scloop")
    _write(d, "a.json", '{"extends": "b.json"}')
    _write(d, "b.json", '{"extends": "a.json"}')
    assert "loop" in str(support.raises(ValueError, scenario.load, d + "/a.json"))
