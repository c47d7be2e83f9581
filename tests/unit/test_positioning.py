"""The fix strategy: motion gating, the fallbacks (GNSS, learned place, last position with an
honest accuracy), tracking near a zone edge, and the reporter's look policies."""
import support
from firmware import clock, fsutil, positioning, reporter
from firmware.compat import sleep_ms
from firmware.fix import Cell, Fix

T0 = 843000000  # epoch-2000 seconds (September 2026)
HOME = (59923600, 10759200)
CELL = Cell(242, 1, 2010, 26383617, -90)
OTHER_CELL = Cell(242, 1, 2010, 26383618, -95)


def _aps(first, n=5, base=-50):
    """n APs with globally administered MACs, strongest first."""
    return [("0012%08x" % (first + i), base - 4 * i, "ap%d" % (first + i)) for i in range(n)]


class FakeModem:
    """GNSS as the positioning code sees it: gnss_power(on) -> True once READY (the 9 s load
    is the driver's and the emulator's business), gnss_fix() -> the sky's answer."""

    gnss_ready_urc = None  # not asked yet (the driver learns it at the first power-on)
    net_up = True  # the data link (AT+NETOPEN) is up

    def __init__(self, sky=None):
        self.sky = sky  # fn() -> Fix or None
        self.powered = False
        self.power_ons = 0
        self.assists = 0
        self.polls = 0

    async def gnss_power(self, on, keep=True):
        if on and not self.powered:
            self.power_ons += 1
        self.powered = on
        return True

    async def gnss_fix(self):
        self.polls += 1
        assert self.powered, "asked for a fix with the receiver off"
        return self.sky() if self.sky else None

    async def gnss_assist(self):
        self.assists += 1
        return True


def _at(lat, lon, acc=8, speed=0):
    return lambda: Fix(clock.wall.now(), lat, lon, True, 20, speed, 0, 9, acc, "gnss")


def _pos(modem, name):
    return positioning.Positioning(modem, support.tmpdir(name))


def test_motion_from_wifi_first_then_cells():
    a = _aps(0)
    assert positioning.motion(a, a, CELL, CELL) is False
    # a handover between two cells with the same Wi-Fi around: still (reselection)
    assert positioning.motion(a, a, OTHER_CELL, CELL) is False
    assert positioning.motion(_aps(100), a, CELL, CELL) is True
    assert positioning.motion(a, None, CELL, CELL) is None  # nothing to compare with yet
    # no Wi-Fi heard: the cell decides if it changed, else nobody can tell
    assert positioning.motion([], [], OTHER_CELL, CELL) is True
    assert positioning.motion([], [], CELL, CELL) is None


def test_a_resent_position_grows_by_a_walk_unless_still():
    assert positioning.grown_acc(10, 60, False) == 10 + 90  # 1.5 m/s for a minute
    assert positioning.grown_acc(10, 3600, True) == 10  # Wi-Fi and cell say: not moved
    assert positioning.grown_acc(10, 10 ** 9, False) == positioning.ACC_MAX_M


def test_still_looks_are_planned_from_the_distance_to_the_edge():
    sc = reporter.still_check_s
    assert sc(None, 300) is None  # no zones
    assert sc(2000, 300) is None  # far from every edge
    assert sc(60, 300) == 60  # right by the edge: as often as a scan is worth
    # 250 m: 200 m to walk at 1.5 m/s (133 s) + 60 s allowed - 45 s for the fix and the alarm
    assert sc(250, 300) == 148
    assert sc(600, 300) is None  # the 5-minute reports are often enough
    assert sc(600, 600) == 381


def test_the_time_to_an_edge_is_at_least_a_brisk_walks():
    assert reporter.approach_s(460, 0, 10) == 300  # standing still: as if walking 1.5 m/s
    assert reporter.approach_s(460, 360, 10) == 45  # 36 km/h (a bus): 10 m/s
    assert reporter.approach_s(20, 40, 30) == 0  # within the accuracy: at the edge now


def test_gnss_fix_is_a_valid_report_and_learns_the_place():
    async def main():
        clock.wall.set(T0, "network")
        m = FakeModem(_at(*HOME))
        p = _pos(m, "pos1")
        f = await p.locate(45, CELL, _aps(0))
        assert f.source == "gnss" and f.valid and (f.lat, f.lon) == HOME
        assert not m.powered  # off again after the look
        assert len(p.places) == 1
        # indoors later (no sky), the same Wi-Fi: no search at all, the place is reported
        m.sky = None
        polls = m.polls
        clock.wall.set(T0 + 600, "network")
        g = await p.locate(45, CELL, _aps(0))
        assert m.polls == polls and m.power_ons == 1  # motion gating: the receiver stayed off
        assert g.source == "place" and not g.valid and (g.lat, g.lon) == HOME
        assert 25 <= g.acc <= 100

    support.run(main())


def test_a_new_room_without_sky_searches_then_falls_back_honestly():
    async def main():
        clock.wall.set(T0, "network")
        m = FakeModem(_at(*HOME, acc=8))
        p = _pos(m, "pos2")
        await p.locate(45, CELL, _aps(0))
        m.sky = None
        clock.wall.set(T0 + 300, "network")
        f = await p.locate(45, CELL, _aps(500))  # another building, nothing learned there
        assert m.power_ons == 2  # moved: it searched
        assert f.source == "last" and not f.valid and (f.lat, f.lon) == HOME
        # stamped after the search (22 s), grown by a brisk walk since the fix
        assert f.t > T0 + 300 and f.acc == 8 + (f.t - T0) * 3 // 2
        # it stays there (same Wi-Fi): the accuracy is kept, not grown, and no search
        clock.wall.set(T0 + 3600, "network")
        g = await p.locate(45, CELL, _aps(500))
        assert m.power_ons == 2 and g.source == "last" and g.acc == f.acc

    support.run(main())


def test_failing_searches_without_wifi_are_thinned_until_the_cell_changes():
    async def main():
        clock.wall.set(T0, "network")
        m = FakeModem(None)
        p = _pos(m, "pos3")
        p.last = Fix(T0 - 6 * 3600, HOME[0], HOME[1], True, 20, 0, 0, 9, 8, "gnss")  # cold
        tries = []
        for i in range(9):
            clock.wall.set(T0 + 300 * i, "network")
            before = m.power_ons
            f = await p.locate(45, CELL, [])
            tries.append(m.power_ons - before)
            assert f.source == "last" and not f.valid
        assert tries == [1, 1, 1, 0, 0, 1, 0, 0, 1]
        before = m.power_ons
        await p.locate(45, OTHER_CELL, [])  # the serving cell changed: at once
        assert m.power_ons == before + 1

    support.run(main())


def test_a_cold_start_asks_for_assistance_when_the_link_is_up():
    async def main():
        clock.wall.set(T0, "network")
        m = FakeModem(_at(*HOME))
        p = _pos(m, "pos4")
        await p.locate(45, CELL, _aps(0), assist_ok=True)
        assert m.assists == 1  # never had a fix: cold
        clock.wall.set(T0 + 600, "network")
        await p.locate(45, CELL, _aps(300), assist_ok=True)
        assert m.assists == 1  # a fix 10 minutes ago: a hot start needs none
        clock.wall.set(T0 + 3 * 3600, "network")
        await p.locate(45, CELL, _aps(600), assist_ok=False)
        assert m.assists == 1  # no data link: no assistance
        m.sky = None  # indoors: searches fail, the start stays cold ...
        for i in range(4):
            clock.wall.set(T0 + 6 * 3600 + 300 * i, "network")
            await p.locate(45, CELL, _aps(900 + 100 * i), assist_ok=True)
        assert m.assists == 2  # ... but the assistance is fetched once an hour, not every look

    support.run(main())


def test_tracking_keeps_the_receiver_on_between_looks():
    async def main():
        clock.wall.set(T0, "network")
        m = FakeModem(_at(*HOME, speed=40))
        p = _pos(m, "pos5")
        await p.track(True)
        for i in range(5):
            clock.wall.set(T0 + 10 * i, "network")
            f = await p.locate(45, CELL, [])
            assert f.source == "gnss"
            assert m.powered
        assert m.power_ons == 1  # one 9 s firmware load, not five
        await p.track(False)
        assert not m.powered

    support.run(main())


def test_a_corrupt_last_fix_file_is_ignored():
    d = support.tmpdir("pos6")
    from firmware import fsutil

    fsutil.atomic_write(d + "/lastfix.csv", b"12,34,x")
    with support.Events() as got:
        p = positioning.Positioning(FakeModem(), d)
    assert p.last is None
    assert [k for k, _ in got] == ["error"]


class _Box:
    def __init__(self):
        self.items = []

    def put(self, content):
        self.items.append(content)
        return len(self.items)

    def __len__(self):
        return len(self.items)


class _Up:
    connected = True

    def kick(self):
        pass


class _Batt:
    def percent(self):
        return 80


def _reporter(name, zones):
    from firmware import config

    cfg = dict(config.DEFAULTS)
    cfg["zones"] = zones
    d = support.tmpdir(name)
    p = positioning.Positioning(FakeModem(), d)
    return reporter.Reporter(FakeModem(), cfg, _Box(), p, _Up(), _Batt(), _Box(), None, d), d


def _fix(lat, lon, t, acc=8, src="gnss"):
    return Fix(t, lat, lon, src == "gnss", 20, 40, 0, 9, acc, src)


def test_a_crossing_queues_one_al_with_exactly_one_bit_and_is_kept_over_a_reboot():
    from host_sim import traccar

    zone = {"name": "home", "lat": HOME[0], "lon": HOME[1], "r": 100}
    rep, d = _reporter("rep1", [zone])
    north = 1800  # micro-degrees of latitude: ~200 m
    clock.wall.set(T0, "network")
    assert not rep._check_zones(_fix(HOME[0], HOME[1], T0))  # first belief: silent
    assert not rep._check_zones(_fix(HOME[0] + north, HOME[1], T0 + 30, src="last"))  # no evidence
    with support.Events() as got:
        assert rep._check_zones(_fix(HOME[0] + north, HOME[1], T0 + 60))  # 100 m out: far
    assert [f["event"] for k, f in got if k == "zone"] == ["exit"]
    al = traccar.decode_position(rep._al.items[-1])
    assert al["status"] == 0x40000 and al["alarm"] == "geofenceExit"
    assert rep.interval_ms() == 60000  # faster reports after a crossing
    rep2, _ = _reporter("rep1b", [zone])
    rep2._zpath = d + "/zones.json"
    rep2._load_zones()  # after a reboot the watch still knows it is out
    assert rep2._check_zones(_fix(HOME[0], HOME[1], T0 + 120))
    al = traccar.decode_position(rep2._al.items[-1])
    assert al["status"] == 0x80000 and al["alarm"] == "geofenceEnter"


def test_a_damaged_zones_json_is_no_beliefs_not_a_failed_start():
    # found by tests/fuzz (zones_json): deep nesting raised RecursionError on CPython out of
    # Reporter(); a file far bigger than the beliefs ever are is not read whole
    zone = {"name": "home", "lat": HOME[0], "lon": HOME[1], "r": 100}
    d = support.tmpdir("rep2")
    for data in (b"[" * 3000 + b"]" * 3000, b'{"home": "out"' + b" " * 1100 + b"}", b'{"home": 7}'):
        fsutil.atomic_write(d + "/zones.json", data)
        with support.Events() as got:
            rep, _ = _reporter("rep2b", [zone])
            rep._zpath = d + "/zones.json"
            rep._load_zones()
        assert rep.zones.snapshot() == {}
        assert [k for k, f in got if k == "error"] == ([] if data == b'{"home": 7}' else ["error"])


def test_old_gnss_firmware_keeps_nothing_so_every_start_is_cold():
    async def main():
        clock.wall.set(T0, "network")
        m = FakeModem(_at(*HOME))
        m.gnss_ready_urc = False
        p = _pos(m, "pos7")
        await p.locate(45, CELL, _aps(0), assist_ok=True)
        clock.wall.set(T0 + 600, "network")
        await p.locate(45, CELL, _aps(300), assist_ok=True)
        assert m.assists == 2  # a fix 10 minutes ago, but no AP_Flash: assisted again

    support.run(main())


def test_looks_between_reports_near_a_zone_edge():
    zone = {"name": "home", "lat": HOME[0], "lon": HOME[1], "r": 250}

    async def main():
        rep, _ = _reporter("rep2", [zone])
        clock.wall.set(T0, "network")
        p = rep._pos
        due = lambda: clock.ticks_diff(rep.check_due, clock.ticks_ms()) // 1000  # noqa: E731
        # standing at home (a place): Wi-Fi looks for a walk that starts, every 148 s
        await rep._plan_looks(Fix(T0, HOME[0], HOME[1], False, 0, 0, 0, 0, 30, "place"))
        assert not p.tracking and due() == 148
        # walking out, 30 m from the edge: GNSS stays on, a look every 5 s
        north = 2000  # ~222 m
        f = _fix(HOME[0] + north, HOME[1], T0, acc=10)
        rep._check_zones(f)  # 4 km/h: walking
        await rep._plan_looks(f)
        assert p.tracking and due() == 5
        # walking 1 km away from the edge: GNSS off, one look when the edge is a minute away
        far = 11500  # ~1279 m north of the centre: ~1029 m from the edge
        f = _fix(HOME[0] + far, HOME[1], T0 + 1, acc=10)
        rep._check_zones(f)
        await rep._plan_looks(f)
        assert not p.tracking
        assert 600 <= due() <= 630  # (1029 - 10) m at 1.5 m/s = 679 s, less the minute
        # standing far from every edge: nothing until the next report
        f = Fix(T0 + 2, HOME[0] + far, HOME[1], False, 0, 0, 0, 0, 30, "place")
        rep._check_zones(f)
        await rep._plan_looks(f)
        assert rep.check_due is None

    support.run(main())


def test_reports_wait_for_their_batch_only_while_the_watch_stands():
    rep, _ = _reporter("rep3", [])
    place = Fix(T0, HOME[0], HOME[1], False, 0, 0, 0, 0, 30, "place")
    rep._pos.moved = False
    assert rep._cfg["batch_s"] == 900  # the default: reports at a known place wait 15 minutes
    assert rep.hold_ms(place) == 960000  # the uplink's deadline: batch_s and a grace
    rep._cfg["batch_s"] = 0  # off: every report at once
    assert rep.hold_ms(place) is None
    rep._cfg["batch_s"] = 900
    assert rep.hold_ms(_fix(HOME[0], HOME[1], T0)) is None  # a fresh fix: the child moves
    rep._pos.moved = None  # cannot tell
    assert rep.hold_ms(place) is None
    rep._pos.moved = False
    rep._zone_fast_until = clock.ticks_add(clock.ticks_ms(), 60000)  # just crossed a zone edge
    assert rep.hold_ms(place) is None


def test_a_batch_is_the_reports_due_within_batch_s_of_its_first():
    async def main():
        rep, _ = _reporter("rep4", [])
        place = Fix(T0, HOME[0], HOME[1], False, 0, 0, 0, 0, 30, "place")
        rep._pos.moved = False
        rep.due = clock.ticks_ms()
        holds = []
        for i in range(9):
            rep._ob.put("UD,%d" % i) if i else None
            holds.append(rep.hold_ms(place))
            if holds[-1] is None:
                rep._ob.items = []  # the uplink sent the batch
            await sleep_ms(1700)  # a scan's seconds: the batch counts on the report grid
            rep.due = clock.ticks_add(rep.due, 300000)
        # four reports per transfer: three held, the fourth sends them (the oldest 15 min old)
        assert [h is None for h in holds] == [False, False, False, True] * 2 + [False]
        # the uplink's deadline for the held ones: the batch's end and a grace
        assert holds[:3] == [960000, 660000, 360000]
        rep._cfg["report_interval_s"] = 3600  # critical battery: reports an hour apart
        rep._ob.items = []
        assert rep.hold_ms(place) is None  # the next would be later than batch_s: no wait

    support.run(main())
