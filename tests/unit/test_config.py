"""Config: defaults, validation naming the field, atomic save, recovery at boot."""
import json
import os

import support
from firmware import fsutil
from firmware.config import DEFAULTS, Config, ConfigError, check


def _write(path, data):
    f = open(path, "wb")
    f.write(data)
    f.close()


def test_defaults_when_missing():
    d = support.tmpdir("cfg")
    cfg = Config.load(d)
    assert cfg.as_dict() == DEFAULTS
    assert cfg.recovered is None
    assert cfg["server_host"] == ""  # privacy by default: no server until the parent sets one
    assert cfg.get("server_port") == 5093
    assert cfg["heartbeat_s"] < 1800  # Traccar closes idle sockets at 1800 s
    assert os.listdir(d) == []  # loading writes nothing
    support.raises(KeyError, cfg.get, "no_such_key")


def test_round_trip_save_load():
    d = support.tmpdir("cfg")
    cfg = Config.load(d)
    changed = cfg.update({"server_host": "track.example.org", "device_id": "9705141740", "heartbeat_s": 300})
    assert changed == ["device_id", "heartbeat_s", "server_host"]
    cfg.save()
    assert sorted(os.listdir(d)) == ["config.json"]  # no .tmp left behind
    again = Config.load(d)
    assert again.as_dict() == cfg.as_dict()
    assert again["server_host"] == "track.example.org"
    assert again.recovered is None
    # the full dict is written, not only the changed values
    assert sorted(json.loads(fsutil.read_bytes(d + "/config.json"))) == sorted(DEFAULTS)


def test_missing_keys_get_defaults():
    d = support.tmpdir("cfg")
    _write(d + "/config.json", b'{"server_port": 5055, "protocol": "watch"}')
    cfg = Config.load(d)
    assert cfg.recovered is None
    assert cfg["server_port"] == 5055 and cfg["protocol"] == "watch"
    assert cfg["report_interval_s"] == DEFAULTS["report_interval_s"]


def test_validation_names_the_field():
    cases = (
        ("heartbeat_s", "600"),  # wrong type
        ("heartbeat_s", 600.0),
        ("server_port", True),  # bool is not int
        ("heartbeat_s", 1741),  # out of range
        ("heartbeat_s", 59),
        ("report_interval_s", 9),
        ("report_interval_s", 86401),
        ("gnss_timeout_s", 4),
        ("tz_offset_min", 841),
        ("tz_offset_min", -721),
        ("server_port", 0),
        ("device_id", "abc-123"),  # bad device_id
        ("device_id", "1" * 21),
        ("device_id", "12*34"),
        ("server_host", "a b.example"),
        ("server_host", 'x"y'),
        ("server_host", "a,b"),
        ("server_host", "h" * 65),
        ("server_host", "caf\u00e9.example"),
        ("protocol", "http"),
        ("maker", "S"),
        ("maker", "S*"),
        ("apn", "internet,x"),
        ("protocol", "OsmAnd"),  # the names are exact
        ("tls", 1),  # a bool, not an int
        ("bogus", 1),  # unknown key
        ("country_code", "047"),
        ("country_code", "+47"),
        ("country_code", "1234"),
        ("country_code", "4a"),
        ("country_code", "\u0664\u0667"),  # Arabic-Indic digits: isdigit() on CPython only
        ("pin", "123"),
        ("pin", "123456789"),
        ("pin", "12a4"),
        ("pin", "\u0664\u0667\u0661\u0661"),
        ("reminders", ["\u0660\u0668:10-1-1"]),
        ("work_windows", ["\u0666-9"]),
        ("school_windows", ["Mo \u0660\u0668:00-09:00"]),
    )
    for key, value in cases:
        e = support.raises(ConfigError, check, key, value)
        assert e.field == key, (key, value, e.field)
        assert key in str(e), str(e)
        assert isinstance(e, ValueError)
    for key, value in (("device_id", ""), ("device_id", "A" * 20), ("tz_offset_min", -720),
                       ("tz_offset_min", 840), ("heartbeat_s", 1740), ("server_host", "10.0.0.2"),
                       ("apn", "internet.telenor.se"), ("protocol", "watch"), ("protocol", "osmand"),
                       ("tls", True), ("maker", "3G"),
                       ("country_code", ""), ("country_code", "47"), ("country_code", "358"), ("pin", ""),
                       ("pin", "4711"), ("pin", "12345678"), ("reminders", ["08:10-1-3-0111110"]),
                       ("work_windows", ["22-6", "6-24"]), ("school_windows", ["Mo-Fr 08:00-14:00"])):
        check(key, value)


def test_update_is_all_or_nothing():
    cfg = Config(support.tmpdir("cfg"))
    before = cfg.as_dict()
    e = support.raises(ConfigError, cfg.update, {"server_host": "ok.example", "heartbeat_s": 5000})
    assert e.field == "heartbeat_s"
    assert cfg.as_dict() == before  # server_host, valid on its own, was not applied
    e = support.raises(ConfigError, cfg.update, {"server_host": "ok.example", "colour": "red"})
    assert e.field == "colour"
    assert cfg.as_dict() == before
    assert cfg.update({"server_port": 5093}) == []  # same value: nothing changed
    assert cfg.update({"server_port": 5094, "apn": ""}) == ["server_port"]


def test_stale_tmp_discarded_at_load():
    d = support.tmpdir("cfg")
    cfg = Config.load(d)
    cfg.update({"server_host": "good.example"})
    cfg.save()
    # power cut during the next save: the .tmp is half written, the rename never happened
    _write(d + "/config.json.tmp", b'{"server_host": "new.exa')
    again = Config.load(d)
    assert again["server_host"] == "good.example"
    assert again.recovered is None
    assert sorted(os.listdir(d)) == ["config.json"]


def _check_recovers(data, why):
    d = support.tmpdir("cfg")
    _write(d + "/config.json", data)
    cfg = Config.load(d)
    assert cfg.as_dict() == DEFAULTS
    assert cfg.recovered and why in cfg.recovered, cfg.recovered
    assert sorted(os.listdir(d)) == ["config.json", "config.json.bad"]
    # kept for a post-mortem (its head only: a huge file is not read whole)
    assert fsutil.read_bytes(d + "/config.json.bad") == data[:24576]
    # the next boot starts clean
    assert Config.load(d).recovered is None


def test_half_written_config_kept_as_bad():
    _check_recovers(b'{"server_host": "track.exa', "config.json")


def test_corrupt_configs_recover_to_defaults():
    _check_recovers(b"[1, 2, 3]", "object")
    _check_recovers(b'{"heartbeat_s": 5}', "heartbeat_s")
    _check_recovers(b'{"old_key": 5}', "old_key")
    _check_recovers(b"\xff\xfe\x00garbage", "config.json")
    _check_recovers(b" " * 30000, "bytes")  # over the 24 KiB bound: not read at all


def test_one_bad_setting_keeps_the_good_ones():
    # a flipped bit or a downgrade must not also wipe the server and stop the reports
    d = support.tmpdir("cfg")
    _write(d + "/config.json", b'{"server_host": "track.example", "heartbeat_s": 5, "gone": 1}')
    cfg = Config.load(d)
    assert cfg["server_host"] == "track.example"
    assert cfg["heartbeat_s"] == DEFAULTS["heartbeat_s"]
    assert "heartbeat_s" in cfg.recovered and "gone" in cfg.recovered
    again = Config.load(d)  # the repair was saved
    assert again.recovered is None and again["server_host"] == "track.example"


def test_bad_file_replaced_by_newer_bad_file():
    d = support.tmpdir("cfg")
    _write(d + "/config.json", b"first")
    Config.load(d)
    _write(d + "/config.json", b"second")
    assert Config.load(d).recovered
    assert fsutil.read_bytes(d + "/config.json.bad") == b"second"


class _Cut(Exception):
    pass


class _CutFS:
    """Stands in for fsutil's `open` and `os`: every byte written and every rename is one
    flash operation; the n-th one does not happen (the power went)."""

    def __init__(self, n):
        self.n = n
        self.ops = 0

    def _op(self):
        self.ops += 1
        if self.ops == self.n:
            raise _Cut()

    def open(self, path, mode="r"):
        import builtins

        f = builtins.open(path, mode)
        if "w" not in mode:
            return f
        cut = self

        class W:
            def write(self, data):
                for i in range(len(data)):
                    cut._op()  # bytes before the cut reach the file (atomic_write closes it)
                    f.write(data[i:i + 1])
                return len(data)

            def flush(self):
                f.flush()

            def close(self):
                f.close()

        return W()

    def rename(self, a, b):
        self._op()
        os.rename(a, b)

    def __getattr__(self, name):  # every other os function as it is
        return getattr(os, name)


def test_a_change_cut_at_every_flash_operation_is_old_or_new_never_a_mix():
    from firmware import fsutil

    d = support.tmpdir("cfgcut")
    cfg = Config.load(d)
    cfg.update({"server_host": "old.example", "contacts": [{"name": "Mamma", "number": "+4791111111",
                                                            "roles": ["guardian", "sos"]}]})
    cfg.save()
    old = cfg.as_dict()
    change = {"report_interval_s": 60, "school_windows": ["Mo-Fr 08:00-14:00"], "pin": "4711",
              "contacts": [{"name": "Mamma", "number": "+4791111111", "roles": ["guardian", "sos"]},
                           {"name": "Bestemor 🌷", "number": "+4793333333", "roles": ["friend"]}]}
    n = 1
    seen = set()
    while True:
        fs = _CutFS(n)
        saved_open, saved_os = getattr(fsutil, "open", None), fsutil.os
        fsutil.open, fsutil.os = fs.open, fs
        try:
            c = Config.load(d)
            c.update(change)
            c.save()
            done = True
        except _Cut:
            done = False
        finally:
            fsutil.os = saved_os
            if saved_open is None:
                del fsutil.open
            else:
                fsutil.open = saved_open
        after = Config.load(d).as_dict()  # the next boot
        new = dict(old)
        new.update(change)
        assert after == old or after == new, n
        seen.add("new" if after == new else "old")
        if done:
            break
        # the cut one left the old settings: put them back for the next cut point
        if after != old:
            break
        n += 1
    assert n > 100 and seen == set(["old", "new"])  # every byte of the file was a cut point


def test_zones_are_checked_by_zones_check():
    home = {"name": "home", "lat": 59923600, "lon": 10759200, "r": 150}
    school = {"name": "school", "poly": [[59917000, 10764000], [59918000, 10764000], [59917000, 10766000]]}
    check("zones", [])
    check("zones", [home, school])
    for bad, why in (([dict(home, r=5)], "[0] (home): r"), ([home, dict(home, name="HOME")], "twice"),
                     ([{"name": "school", "poly": school["poly"][:2]}], "[0] (school): poly"),
                     ({"home": home}, "zones: must be list")):
        e = support.raises(ConfigError, check, "zones", bad)
        assert e.field == "zones" and str(e).startswith("zones: ") and why in str(e), str(e)


def test_eight_big_polygons_fit_the_file_bound():
    poly = [[-59917000 - k * 1000, -179999000] for k in range(16)] + \
        [[-59917000 - (15 - k) * 1000, -179989000] for k in range(16)]
    zs = [{"name": "zone-%02d-xxxxxxxxxxx" % i, "poly": poly} for i in range(8)]
    d = support.tmpdir("cfg")
    cfg = Config(d, {"zones": zs})
    cfg.save()
    assert 6000 < fsutil.size(d + "/config.json") < 24576 - 8000
    again = Config.load(d)
    assert again.recovered is None and again["zones"] == zs


def test_a_setting_name_that_is_not_a_string_is_set_aside_not_a_reboot_loop():
    # issue 10 #3: MicroPython's json turns {"apn"8 "telenor.smart", ...} (a ':' flipped to '8')
    # into a dict with a non-string key; sorted() raised TypeError at every boot
    from firmware import config as config_mod

    d = support.tmpdir("cfg")
    _write(d + "/config.json", b'{"server_host": "track.example"}')
    real = config_mod.json

    class _Json:
        @staticmethod
        def loads(data):
            return {8: "telenor.smart", "server_host": "track.example"}

        dumps = staticmethod(real.dumps)

    config_mod.json = _Json
    try:
        cfg = Config.load(d)
    finally:
        config_mod.json = real
    assert cfg["server_host"] == "track.example"
    assert "8" in cfg.recovered and "not a setting name" in cfg.recovered
    assert Config.load(d).recovered is None  # the repair was saved


def test_a_huge_config_is_kept_as_bad_without_reading_it_whole():
    # issue 10 #4: a 1 MB config.json was read whole to keep its .bad copy (MemoryError on the
    # board); the copy keeps its head only
    d = support.tmpdir("cfg")
    f = open(d + "/config.json", "wb")
    f.write(b"{")
    for _ in range(256):
        f.write(b" " * 4096)
    f.close()
    from firmware import config as config_mod

    reads = []
    real = fsutil.read_bytes

    def counting(path, limit=-1):
        reads.append(limit)
        return real(path, limit)

    config_mod.fsutil.read_bytes = counting
    try:
        cfg = Config.load(d)
    finally:
        config_mod.fsutil.read_bytes = real
    assert "bytes" in cfg.recovered and cfg.as_dict() == DEFAULTS
    assert reads and all(0 < n <= config_mod._MAX_BYTES for n in reads), reads
    assert fsutil.size(d + "/config.json.bad") == config_mod._MAX_BYTES
