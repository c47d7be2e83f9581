"""The low-battery alarm and the critical mode (firmware/power.py): the pure decisions as
tables and traces (a crossing, jitter at the level, charging back, critical in and out), the
shell over a fake gauge, and the few lines other services read it with."""
import support  # first: virtual time before asyncio

import asyncio  # noqa: E402
from firmware import clock, commands, config, positioning, power, reporter
from firmware.config import Config, ConfigError
from firmware.contacts import Contacts
from firmware.fix import Cell, Fix
from firmware.telephony import Telephony

LOW, CRIT = 20, 5

# (low, critical, pct) before -> (low, critical) after, with the default levels 20 and 5
STEP = (
    ((False, False, 80), (False, False)),
    ((False, False, 21), (False, False)),
    ((False, False, 20), (True, False)),  # at the level: the crossing
    ((False, False, 19), (True, False)),
    ((True, False, 21), (True, False)),  # jitter back above: still low, no new alarm
    ((True, False, 24), (True, False)),  # below level + margin: kept
    ((True, False, 25), (False, False)),  # charged back to level + margin: armed again
    ((True, False, 90), (False, False)),
    ((True, False, 6), (True, False)),
    ((True, False, 5), (True, True)),  # at the critical level
    ((False, False, 3), (True, True)),  # both at once (switched on nearly empty, a fast drop)
    ((True, True, 6), (True, True)),  # jitter above critical: stays critical
    ((True, True, 9), (True, True)),
    ((True, True, 10), (True, False)),  # critical + margin: out of critical, still low
    ((True, True, 30), (False, False)),  # on the charger: both cleared
    ((False, False, 0), (True, True)),
)


def test_step_table():
    for (low, crit, pct), want in STEP:
        assert power.step(low, crit, pct, LOW, CRIT) == want, (low, crit, pct)


def test_step_other_levels_and_margin_overlap():
    # critical 18 just below low 20: out of critical at 23, armed again only at 25
    assert power.step(True, True, 22, 20, 18) == (True, True)
    assert power.step(True, True, 23, 20, 18) == (True, False)
    assert power.step(True, False, 24, 20, 18) == (True, False)
    assert power.step(True, False, 25, 20, 18) == (False, False)
    assert power.step(False, False, 50, 50, 1) == (True, False)
    assert power.step(False, False, 1, 50, 1) == (True, True)


def _trace(readings, low=False, crit=False, low_pct=LOW, crit_pct=CRIT):
    """Feed readings to step; -> (low alarms, critical entries, critical exits)."""
    alarms = enters = exits = 0
    for pct in readings:
        nlow, ncrit = power.step(low, crit, pct, low_pct, crit_pct)
        alarms += nlow and not low
        enters += ncrit and not crit
        exits += crit and not ncrit
        low, crit = nlow, ncrit
    return alarms, enters, exits


def test_traces_one_alarm_per_crossing():
    # a discharge that jitters around 20 (the gauge under load): one alarm
    assert _trace([23, 22, 21, 20, 21, 22, 20, 19, 21, 18, 24, 17]) == (1, 0, 0)
    # jitter at the critical level: entered once, not left
    assert _trace([8, 6, 5, 6, 7, 5, 9, 4, 8, 3]) == (1, 1, 0)
    # charged to 24 and down again: still one discharge
    assert _trace([21, 19, 22, 24, 23, 20, 18]) == (1, 0, 0)
    # charged to 25 and down again: a second crossing, a second alarm
    assert _trace([21, 19, 22, 25, 23, 20, 18]) == (2, 0, 0)
    # down to critical, charged to 12 (out), down again (in), then charged full
    assert _trace([7, 5, 3, 8, 12, 9, 5, 40, 100]) == (1, 2, 2)


REARM = (
    # (low, critical, pct, new low level, new critical level) -> after
    ((True, False, 18, 20, 5), (True, False)),  # unchanged levels: nothing
    ((True, False, 18, 15, 5), (False, False)),  # level lowered under the battery: armed again
    ((True, False, 18, 18, 5), (True, False)),  # at the new level: it was told
    ((False, False, 25, 30, 5), (False, False)),  # raised above it: step() then sends the alarm
    ((True, True, 4, 20, 3), (True, False)),  # critical lowered under the battery: out
    ((True, True, 4, 20, 5), (True, True)),
    ((True, True, None, 10, 1), (True, True)),  # no reading yet: kept
)


def test_rearm_table():
    for (low, crit, pct, lp, cp), want in REARM:
        assert power.rearm(low, crit, pct, lp, cp) == want, (low, crit, pct, lp, cp)


# ---- the shell ------------------------------------------------------------------------------------


class Gauge:
    """The battery driver: percent() returns the scripted readings in turn (the last repeats)."""

    def __init__(self, readings):
        self.readings = list(readings)

    def percent(self):
        if len(self.readings) > 1:
            return self.readings.pop(0)
        return self.readings[0]


class Alarms:
    def __init__(self, fail=False):
        self.sent = []
        self.fail = fail

    async def __call__(self, status):
        if self.fail:
            raise OSError(28, "no space")
        self.sent.append(status)
        return len(self.sent)


def _power(name, readings, root=None, **cfg):
    values = dict(config.DEFAULTS)
    values.update(cfg)
    al = Alarms()
    changes = []
    p = power.Power(values, Gauge(readings), al, root or support.tmpdir(name), lambda: changes.append(1))
    return p, al, values, changes


def _checks(p, n):
    async def main():
        out = []
        for _ in range(n):
            out.append(await p.check())
        return out
    return support.run(main())


def test_first_reading_decides_nothing_and_a_sag_alone_never_does():
    p, al, _, _ = _power("pw1", [19, 25, 18, 30, 30])
    with support.Events() as got:
        assert _checks(p, 5) == [None, 25, 25, 30, 30]  # the higher of the last two
    assert al.sent == [] and not p.low and got == []


def test_one_alarm_per_crossing_logged_and_kept_over_a_reboot():
    root = support.tmpdir("pw2")
    p, al, _, changes = _power("pw2", [22, 21, 20, 20, 21, 19, 19, 22, 19], root)
    with support.Events() as got:
        _checks(p, 9)
    assert al.sent == [power.LOW_BATTERY] == [0x20000]  # bit 17 and nothing else
    assert p.low and not p.critical and changes == []
    assert [k for k, _ in got] == ["battery_low"]
    assert got[0][1] == {"pct": 20, "level": 20, "seq": 1}
    # a reboot at 19%: the state comes back from flash, no second alarm
    p2, al2, _, _ = _power("pw2", [19, 19, 18, 18], root)
    assert p2.low
    _checks(p2, 4)
    assert al2.sent == []


def test_charged_back_above_the_margin_arms_it_again():
    p, al, _, _ = _power("pw3", [20, 20, 24, 24, 19, 19, 25, 25, 20, 20])
    with support.Events() as got:
        _checks(p, 10)
    assert len(al.sent) == 2
    assert [k for k, _ in got] == ["battery_low", "battery_ok", "battery_low"]


def test_critical_in_and_out_calls_on_change():
    values = dict(config.DEFAULTS)
    al = Alarms()
    changes = []
    p = power.Power(values, Gauge([6, 5, 5, 7, 9, 10, 10]), al, support.tmpdir("pw4"),
                    lambda: changes.append(p.critical))
    with support.Events() as got:
        _checks(p, 3)
        assert p.critical and changes == [True]
        _checks(p, 4)
    assert not p.critical and p.low and changes == [True, False]
    assert [k for k, _ in got] == ["battery_low", "battery_critical", "battery_ok"]
    assert got[2][1] == {"pct": 10, "low": True, "critical": False}
    assert al.sent == [0x20000]  # critical has no alarm bit of its own


def test_no_alarm_when_lowbat_alarm_is_off_but_the_state_is_kept():
    p, al, _, _ = _power("pw5", [15, 15, 3, 3], lowbat_alarm=False)
    with support.Events() as got:
        _checks(p, 4)
    assert al.sent == [] and p.low and p.critical
    assert [(k, f.get("seq", "-")) for k, f in got] == [("battery_low", None), ("battery_critical", "-")]


def test_a_new_level_arms_the_alarm_when_the_battery_is_above_it():
    p, al, values, _ = _power("pw6", [18, 18, 18, 17, 15, 15])
    _checks(p, 2)
    assert len(al.sent) == 1
    values["lowbat_pct"] = 15  # LOWBATLEVEL,15 at 18%: reaching 15 is a crossing of its own
    _checks(p, 4)
    assert len(al.sent) == 2
    values["lowbat_pct"] = 30  # raised above the battery: it is low already, told already
    _checks(p, 2)
    assert len(al.sent) == 2


def test_an_alarm_that_cannot_be_queued_changes_nothing_and_is_tried_again():
    p, al, _, _ = _power("pw7", [19, 19, 19])
    al.fail = True
    support.run(_catch(p))
    assert not p.low
    al.fail = False
    _checks(p, 1)
    assert p.low and al.sent == [0x20000]


async def _catch(p):
    await p.check()
    await support.araises(OSError, p.check())


def test_unreadable_state_file_is_a_fresh_start():
    root = support.tmpdir("pw8")
    from firmware import fsutil

    fsutil.atomic_write(root + "/power.json", b"{not json")
    with support.Events() as got:
        p, _, _, _ = _power("pw8", [50], root)
    assert not p.low and not p.critical and got[0][0] == "error"
    # found by tests/fuzz (state_files): deep nesting raised RecursionError on CPython, out of
    # the app's start; a file far bigger than we write is not read whole either
    for data in (b"[" * 3000 + b"]" * 3000, b'{"low": true, "critical": true' + b" " * 300 + b"}"):
        fsutil.atomic_write(root + "/power.json", data)
        with support.Events() as got:
            p, _, _, _ = _power("pw8", [50], root)
        assert not p.low and not p.critical and got[0][0] == "error"


def test_run_reads_once_a_minute():
    p, al, _, _ = _power("pw9", [30, 30, 19, 19, 19])

    async def main():
        t = asyncio.create_task(p.run())
        await asyncio.sleep(power.READ_MS * 3 // 1000 + 1)
        t.cancel()

    support.run(main())
    assert al.sent == [0x20000] and p.pct == 19


# ---- the settings and commands --------------------------------------------------------------------


def test_levels_are_checked_as_a_pair():
    assert config.DEFAULTS["lowbat_pct"] == 20 and config.DEFAULTS["critical_pct"] == 5
    for k, bad in (("lowbat_pct", 4), ("lowbat_pct", 51), ("critical_pct", 0), ("critical_pct", 21),
                   ("critical_report_s", 599)):
        assert support.raises(ConfigError, config.check, k, bad).field == k
    e = support.raises(ConfigError, config.check_all, {"lowbat_pct": 10, "critical_pct": 10})
    assert e.field == "lowbat_pct"
    config.check_all({"lowbat_pct": 10, "critical_pct": 9})
    cfg = Config.load(support.tmpdir("pw10"))
    # one of the pair changed alone must agree with the other's stored value
    support.raises(ConfigError, cfg.update, {"lowbat_pct": 5})
    assert cfg["lowbat_pct"] == 20
    cfg.update({"critical_pct": 15})
    support.raises(ConfigError, cfg.update, {"lowbat_pct": 15})


def test_a_file_whose_pair_disagrees_is_repaired_to_the_defaults():
    import json

    from firmware import fsutil

    root = support.tmpdir("pw11")
    fsutil.atomic_write(root + "/config.json", json.dumps({"lowbat_pct": 10, "critical_pct": 12,
                                                           "report_interval_s": 60}))
    cfg = Config.load(root)
    assert cfg.recovered and "lowbat_pct" in cfg.recovered
    assert (cfg["lowbat_pct"], cfg["critical_pct"], cfg["report_interval_s"]) == (20, 5, 60)


def test_lowbatlevel_command_and_status():
    v = dict(config.DEFAULTS)
    res = commands.apply_server(v, "LOWBATLEVEL,15")
    assert res.error is None and res.reply == "LOWBATLEVEL" and res.values["lowbat_pct"] == 15
    for arg in ("51", "4", "-1", "", "1.5", "ten"):
        res = commands.apply_server(v, "LOWBATLEVEL," + arg)
        assert res.values is None and res.reply.startswith("LOWBATLEVEL,refused,"), arg
    res = commands.apply_server(v, "LOWBATLEVEL,5")  # not above critical_pct (5)
    assert res.reply == "LOWBATLEVEL,refused,lowbat_pct: must be above critical_pct (5); not 5"
    assert "lowbatpct=20" in commands.apply_server(v, "STATUS").reply.split(",")
    v["pin"] = "4711"
    res = commands.apply_sms(v, "lowbat,30")
    assert res.values["lowbat_pct"] == 30 and res.reply == "OK: low battery alarm at 30%"
    assert commands.apply_sms(v, "lowbat,80").values is None


# ---- what the other services do with it -------------------------------------------------------------

CONTACTS = [
    {"name": "Mamma", "number": "+4791111111", "roles": ["guardian", "sos"]},
    {"name": "Bestemor", "number": "+4793333333", "roles": ["friend"]},
]


class _Flag:
    def __init__(self, v):
        self.v = v

    def quiet(self):
        return self.v


class _Crit:
    def __init__(self, critical):
        self.critical = critical


class _Phone:
    def __init__(self):
        self.log = []

    async def hangup(self, urgent=False):
        self.log.append("hangup")


# (school window, critical, school_guardian_rings) -> (guardian's call, friend's call)
CALLS = (
    ((False, False, False), ("ring", "ring")),
    ((False, True, False), ("ring", "reject")),  # critical: friends rejected, guardians ring
    ((True, False, False), ("reject", "reject")),  # school mode as ever
    ((True, False, True), ("ring", "reject")),
    ((True, True, False), ("reject", "reject")),  # a window's rule still holds when critical
    ((True, True, True), ("ring", "reject")),
)


def test_calls_while_critical():
    for (quiet, crit, rings), want in CALLS:
        cfg = dict(config.DEFAULTS)
        cfg["school_guardian_rings"] = rings
        got = []
        for number in ("+4791111111", "+4793333333"):
            ring = []
            tel = Telephony(_Phone(), lambda: Contacts(CONTACTS, "47"), ring.append,
                            support.tmpdir("pwtel"), None, cfg)
            tel.school = _Flag(quiet)
            tel.power = _Crit(crit)
            with support.Events() as ev:
                tel.on_ring(number, 145)
            got.append("ring" if ring == [True] else "reject")
            if got[-1] == "reject":
                assert ev == [("call_rejected", {"caller": ev[0][1]["caller"],
                                                 "why": "school" if quiet else "critical"})]
        assert tuple(got) == want, ((quiet, crit, rings), got)


class _NoRadio:
    """A modem and a WLAN that must not be used while the battery is critical."""

    gnss_ready_urc = True

    async def gnss_power(self, on, keep=True):
        raise AssertionError("GNSS powered while critical")

    def scan(self):
        raise AssertionError("Wi-Fi scanned while critical")

    def active(self, on=None):
        raise AssertionError("Wi-Fi switched on while critical")


def test_positioning_neither_scans_nor_searches_while_critical():
    radio = _NoRadio()
    p = positioning.Positioning(radio, support.tmpdir("pwpos"), radio)
    p.here = Fix(843000000 - 600, 59923600, 10759200, True, 20, 0, 0, 9, 8, "gnss")
    p.power = _Crit(True)
    assert p.scan() == []

    async def main():
        clock.wall.set(843000000, "network")  # on this run's virtual time
        return await p.locate(45, Cell(242, 1, 2010, 26383618, -90), None, True)

    f = support.run(main())
    # the last position re-sent, marked V, its accuracy grown by the walk since (600 s)
    assert f.source == "last" and not f.valid and f.acc == 8 + 600 * 3 // 2


def test_reporter_thins_reports_but_an_sos_keeps_its_schedule():
    cfg = dict(config.DEFAULTS)
    fast = [None]
    r = reporter.Reporter(None, cfg, None, None, None, None, None, lambda: fast[0])
    assert r.interval_ms() == 300000
    r.power = _Crit(True)
    assert r.interval_ms() == 3600000
    cfg["report_interval_s"] = 7200
    assert r.interval_ms() == 7200000  # already rarer: kept
    fast[0] = 30000
    assert r.interval_ms() == 30000
