"""The simulated world's clocks across daylight saving: "tz_rule": "EU" moves the local offset at
01:00 UTC on the last Sundays of March and October, and the emulated modem's AT+CCLK (NITZ)
gives the new zone from that instant."""
import support
from firmware import clock, school
from host_sim import modem_a76xx as emu
from host_sim import world as W
from host_sim.fakes import machine as fm

VT = support.VT
H = 3600000
S = 1000


def world(start, tz, rule=None):
    sc = {
        "start": start,
        "duration_s": 4 * 86400,
        "tz_offset_min": tz,
        "server": {"host": "tracker.trygg.test", "ip": "192.0.2.10", "port": 5093},
        "route": [{"at": "00:00", "place": "home", "lat": 59.9236, "lon": 10.7592, "sky": "indoor"}],
    }
    if rule is not None:
        sc["tz_rule"] = rule
    fm.WIRING.reset()
    VT.reset()
    return W.World(sc, VT)


class _Emu:
    """What _h_cclk reads of the emulator: the network time is in, the answer is collected."""

    def __init__(self, w):
        self.world = w
        self.vt = VT
        self.nitz = True
        self.boot_ms = 0
        self.lines = []

    def _info(self, line):
        self.lines.append(line)


def cclk_at(w, ms):
    e = _Emu(w)
    VT.ms = ms
    assert emu._h_cclk(e, "read", "") is None
    return e.lines[-1]


# Oslo: Friday 23 Oct 2026 00:00 CEST; the clocks go back on Sunday 25 Oct at 01:00 UTC = 51 h
AUTUMN = 51 * H


def test_autumn_change_in_oslo():
    w = world("2026-10-22T22:00:00Z", 120, "EU")
    assert w.tz_offset_min == 120  # the start's offset, for old callers
    rows = (
        # VT ms, offset, local parts, AT+CCLK
        (0, 120, (2026, 10, 23, 0, 0, 0), '+CCLK: "26/10/23,00:00:00+08"'),
        (AUTUMN - S, 120, (2026, 10, 25, 2, 59, 59), '+CCLK: "26/10/25,02:59:59+08"'),
        (AUTUMN, 60, (2026, 10, 25, 2, 0, 0), '+CCLK: "26/10/25,02:00:00+04"'),
        (AUTUMN + H, 60, (2026, 10, 25, 3, 0, 0), '+CCLK: "26/10/25,03:00:00+04"'),
        (73 * H, 60, (2026, 10, 26, 0, 0, 0), '+CCLK: "26/10/26,00:00:00+04"'),  # Monday
        (81 * H, 60, (2026, 10, 26, 8, 0, 0), '+CCLK: "26/10/26,08:00:00+04"'),
    )
    for ms, tz, parts, line in rows:
        assert w.tz_offset_at(ms) == tz, ms
        assert w.local_parts(ms) == parts, ms
        assert cclk_at(w, ms) == line, ms
        VT.ms = ms
        assert w.tz_offset_at() == tz and w.local_parts() == parts
        # the firmware reads the same instant and zone back from the modem's text
        body = line[7:]
        assert clock.parse_cclk(body) == w.utc(ms)
        assert clock.cclk_offset_min(body) == tz


def test_spring_change_and_a_start_in_winter():
    # Thursday 26 Mar 2026 00:00 CET; the clocks go forward on Sunday 29 Mar at 01:00 UTC = 74 h
    w = world("2026-03-25T23:00:00Z", 60, "EU")
    spring = 74 * H
    assert w.tz_offset_at(spring - S) == 60 and w.local_parts(spring - S)[3:] == (1, 59, 59)
    assert w.tz_offset_at(spring) == 120 and w.local_parts(spring)[3:] == (3, 0, 0)
    assert cclk_at(w, spring) == '+CCLK: "26/03/29,03:00:00+08"'


def test_world_agrees_with_the_firmware_rule():
    # two independent implementations of the EU rule, hour by hour over a year from 1 Jan
    w = world("2026-01-01T00:00:00Z", 60, "EU")
    t0 = w.utc(0)
    for h in range(0, 366 * 24, 5):
        assert w.tz_offset_at(h * H) == school.local_offset_min(t0 + h * 3600, None, 60, "EU"), h


def test_without_a_rule_the_offset_stays():
    for rule in (None, ""):
        w = world("2026-10-22T22:00:00Z", 120, rule)
        for ms in (0, AUTUMN - S, AUTUMN, 73 * H):
            assert w.tz_offset_at(ms) == 120
        assert cclk_at(w, 73 * H) == '+CCLK: "26/10/26,01:00:00+08"'
    support.raises(ValueError, world, "2026-10-22T22:00:00Z", 120, "US")
