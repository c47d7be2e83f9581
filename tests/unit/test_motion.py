"""The step counter: the LSM6DSL driver against the emulated sensor, the count over its 16-bit
wrap and failed reads, and the reporter's use of it (no scan, no modem while the child has
not walked; a look as soon as it has)."""
import support
import test_positioning as tp
from firmware import clock, motion, reporter
from firmware.compat import sleep_ms
from firmware.drivers import lsm6dsl
from firmware.fix import Fix
from host_sim import accel
from host_sim.fakes import machine


class _Steps:
    """The child's steps, set by the test."""

    def __init__(self):
        self.n = 0

    def at(self, ms):
        return self.n


def _bus(dev=None, addr=accel.ADDR):
    machine.WIRING.reset()
    if dev is not None:
        machine.WIRING.i2c[(22, 21)] = {addr: dev}
    return machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21))


class _Meter:
    def __init__(self):
        self.states = []

    def set(self, part, state):
        self.states.append((part, state))


def test_the_driver_finds_the_sensor_and_sets_up_its_pedometer():
    steps = _Steps()
    meter = _Meter()
    dev = accel.Lsm6dsl(support.VT, steps, meter)
    s = lsm6dsl.probe(_bus(dev))
    assert s is not None and s.addr == 0x6A
    assert dev.regs[0x10] == 0x20  # 26 Hz, +-2 g: the pedometer's lowest rate (AN5040)
    assert dev.regs[0x11] == 0  # the gyroscope off
    assert dev.regs[0x15] & 0x10  # low-power accelerometer
    assert dev.regs[0x19] == 0x14  # FUNC_EN | PEDO_EN
    assert meter.states[-1] == ("accel", "on")
    steps.n = 37
    assert s.steps() == 37
    s.off()
    assert meter.states[-1] == ("accel", "off")
    steps.n = 80
    assert s.steps() == 37  # powered down: the counter holds


def test_no_sensor_or_another_part_is_no_step_counter():
    assert lsm6dsl.probe(_bus()) is None  # nobody acknowledges
    dev = accel.Lsm6dsl(support.VT, _Steps())
    dev.regs[0x0F] = 0x69  # an LSM6DS3's WHO_AM_I
    assert lsm6dsl.probe(_bus(dev)) is None
    dev = accel.Lsm6dsl(support.VT, _Steps())
    assert lsm6dsl.probe(_bus(dev, 0x6B)) is not None  # SA0 high: the other address


class _Flaky:
    """A counter that wraps, fails, and tears."""

    def __init__(self, values):
        self.values = list(values)

    def steps(self):
        v = self.values.pop(0)
        if isinstance(v, Exception):
            raise v
        return v


def test_the_count_survives_the_wrap_and_a_failed_read_says_cannot_tell():
    m = motion.Motion(_Flaky([65530, 65534, 4, OSError(5), 20]))
    assert m.steps() == 0
    m.mark()  # 65534
    assert m.total == 4
    assert m.walked() is False  # 65534 -> 4: 6 steps over the wrap
    with support.Events() as got:
        assert m.walked() is None  # the bus failed: nobody can tell
    assert [k for k, _ in got] == ["error"]
    assert m.walked() is True  # 65534 -> 20: 22 steps


def test_a_torn_counter_read_is_read_again_and_a_restless_one_is_an_error():
    class Bus:
        def __init__(self, reads):
            self.reads = list(reads)

        def readfrom_mem(self, addr, reg, n):
            return self.reads.pop(0)

    assert lsm6dsl.Lsm6dsl(Bus([b"\xff\x00", b"\x00\x01", b"\x00\x01"]), 0x6A).steps() == 256
    e = support.raises(OSError, lsm6dsl.Lsm6dsl(Bus([b"\x01\x00", b"\x02\x00", b"\x03\x00"]), 0x6A).steps)
    assert "unstable" in str(e)


def test_walked_is_a_dozen_steps():
    assert motion.walked(None, 5) is None and motion.walked(5, None) is None
    assert motion.walked(16, 5) is False
    assert motion.walked(17, 5) is True


class _Modem(tp.FakeModem):
    def __init__(self):
        super().__init__()
        self.cells = 0
        self.csqs = 0

    async def serving_cell(self):
        self.cells += 1
        return tp.CELL

    async def csq(self):
        self.csqs += 1
        return 20 if self.csqs == 1 else 10


class _Wlan:
    def __init__(self):
        self.scans = 0

    def active(self, on=None):
        return False

    def scan(self):
        self.scans += 1
        return [(b"home", bytes((0, 0x12, 0, 0, 0, i)), 1, -50 - i, 3, False) for i in range(4)]


class _Counter:
    def __init__(self):
        self.n = 0

    def steps(self):
        return self.n


def _stepping_reporter(name, zones):
    from firmware import config, positioning

    cfg = dict(config.DEFAULTS)
    cfg["zones"] = zones
    cfg["batch_s"] = 900
    d = support.tmpdir(name)
    m = _Modem()
    wlan = _Wlan()
    p = positioning.Positioning(m, d, wlan)
    rep = reporter.Reporter(m, cfg, tp._Box(), p, _Up(), tp._Batt(), tp._Box(), None, d)
    sensor = _Counter()
    rep.motion = motion.Motion(sensor)
    return rep, m, wlan, sensor


class _Up:
    connected = True

    def __init__(self):
        self.holds = []

    def kick(self, hold_ms=None):
        self.holds.append(hold_ms)


def test_a_child_who_has_not_walked_is_reported_without_a_scan_or_the_modem():
    async def main():
        clock.wall.set(tp.T0, "network")
        rep, m, wlan, sensor = _stepping_reporter("mot1", [])
        p = rep._pos
        p.places.learn(tp.HOME[0], tp.HOME[1], 20, wifi_aps(wlan), tp.T0 - 60)
        await rep.report_once()  # the first report: a full look
        assert wlan.scans == 1 and m.cells == 1 and p.here.source == "place"
        sensor.n = 11  # a few steps about the room
        await sleep_ms(300000)
        seq = await rep.report_once()
        assert wlan.scans == 1 and m.cells == 1  # nothing woken
        f = p.here
        assert f.source == "place" and f.t >= tp.T0 + 300 and (f.lat, f.lon) == tp.HOME
        assert len(rep._ob.items) == seq == 2 and rep._up.holds[-1] == 960000  # it starts a batch
        sensor.n = 12  # one more: a dozen since the look, the child may be elsewhere
        await sleep_ms(300000)
        await rep.report_once()
        assert wlan.scans == 2 and m.cells == 1  # the scan says the same room: the cell holds
        assert m.csqs == 1  # held reports wake nothing, not even for the signal
        # no steps at all, but the last look is VERIFY_S old: a ride has no steps
        for _ in range(motion.VERIFY_S // 300):
            await sleep_ms(300000)
            await rep.report_once()
        assert wlan.scans == 3
        assert m.csqs == 2 and rep._up.holds.count(None) == 2  # the batch's last read the signal

    support.run(main())


def wifi_aps(wlan):
    from firmware import wifi

    aps = wifi.select(wlan.scan(), 8)
    wlan.scans -= 1
    return aps


def test_looks_near_an_edge_read_the_counter_and_scan_only_after_a_walk():
    zone = {"name": "home", "lat": tp.HOME[0], "lon": tp.HOME[1], "r": 250}

    async def main():
        clock.wall.set(tp.T0, "network")
        rep, m, wlan, sensor = _stepping_reporter("mot2", [zone])
        p = rep._pos
        p.places.learn(tp.HOME[0], tp.HOME[1], 20, wifi_aps(wlan), tp.T0 - 60)
        await rep.report_once()
        due = clock.ticks_diff(rep.check_due, clock.ticks_ms()) // 1000
        assert due == motion.STEP_CHECK_S  # not the 148 s of Wi-Fi looks: a counter read is cheap
        for _ in range(30):  # ten minutes of sitting still: no scan
            await rep.check_once()
        assert wlan.scans == 1 and rep.check_due is not None
        sensor.n = 40  # up and walking
        await rep.check_once()
        assert wlan.scans == 2
        # the same room after all (a walk to the window): steps count from this look
        for _ in range(3):
            await rep.check_once()
        assert wlan.scans == 2

    support.run(main())


def test_no_shortcut_while_an_sos_or_a_crossing_wants_fresh_positions():
    async def main():
        clock.wall.set(tp.T0, "network")
        rep, m, wlan, sensor = _stepping_reporter("mot3", [])
        rep._pos.places.learn(tp.HOME[0], tp.HOME[1], 20, wifi_aps(wlan), tp.T0 - 60)
        await rep.report_once()
        rep._fast = lambda: 30000  # SOS tracking
        await rep.report_once()
        assert wlan.scans == 2
        rep._fast = None
        rep.walking = True  # the last fix said the child walks
        await rep.report_once()
        assert wlan.scans == 3
        rep.walking = False
        await rep.report_once()
        assert wlan.scans == 3

    support.run(main())


def test_a_scan_that_says_the_same_place_keeps_the_cell_and_leaves_the_modem_asleep():
    async def main():
        clock.wall.set(tp.T0, "network")
        rep, m, wlan, sensor = _stepping_reporter("mot5", [])
        rep.motion = None  # no step counter: every report scans
        p = rep._pos
        p.places.learn(tp.HOME[0], tp.HOME[1], 20, wifi_aps(wlan), tp.T0 - 60)
        await rep.report_once()
        assert m.cells == 1 and m.csqs == 1  # nothing to compare with yet: the cell is read
        gsm = rep._gsm
        for _ in range(3):  # the first went at once (a first position); these start a batch
            await sleep_ms(300000)
            await rep.report_once()  # held for the batch: nothing woken
        assert wlan.scans == 4 and m.cells == 1 and m.csqs == 1 and rep._gsm == gsm
        assert rep._up.holds[-1] is not None
        await sleep_ms(300000)
        await rep.report_once()  # it closes the batch: the send wakes the modem, so the signal is read
        assert rep._up.holds[-1] is None
        assert wlan.scans == 5 and m.cells == 1 and m.csqs == 2 and rep._gsm != gsm
        assert ",%d,%d," % (tp.CELL.lac, tp.CELL.cid) in rep._ob.items[-1]  # the cell goes along
        rep._fast = lambda: 30000  # an SOS: fresh everything
        await rep.report_once()
        assert m.cells == 2
        rep._fast = None
        wlan.scan = lambda: [(b"school", bytes((0, 0x34, 0, 0, 0, i)), 6, -60, 3, False) for i in range(4)]
        await rep.report_once()  # elsewhere: the cell is read again
        assert m.cells == 3

    support.run(main())


def test_reports_carry_the_step_count():
    from host_sim import traccar

    rep, m, wlan, sensor = _stepping_reporter("mot4", [])
    sensor.n = 1234
    rep.motion.steps()  # the first read: steps count from here (the sensor's count is older)
    sensor.n = 1334
    rep.motion.steps()
    f = Fix(tp.T0, tp.HOME[0], tp.HOME[1], False, 0, 0, 0, 0, 30, "place")
    assert traccar.decode_position(rep._content("UD", f, 0, (), ()))["steps"] == 100


def test_the_board_finds_its_step_counter_and_powers_it_down_when_switched_off():
    from boards import lilygo_t_a7670 as board_module
    from host_sim import world as W
    from host_sim.modem_a76xx import A76xxEmulator

    VT = support.VT
    pins = board_module.PINS
    meter = _Meter()
    dev = accel.Lsm6dsl(VT, _Steps(), meter)
    for with_sensor in (False, True):
        machine.WIRING.reset()
        sc = {"start": "2026-09-13T22:00:00Z", "route": [{"at": "00:00", "lat": 59.9, "lon": 10.7}]}
        emu = A76xxEmulator(VT, W.World(sc, VT), "862000012345674", "8947080000001234567")
        machine.WIRING.attach_uart(pins["modem_tx"], pins["modem_rx"], emu)
        machine.WIRING.adc_source[pins["battery_adc"]] = lambda: 1900000
        if with_sensor:
            machine.WIRING.i2c[(pins["i2c_scl"], pins["i2c_sda"])] = {accel.ADDR: dev}
        slept = []
        machine.WIRING.on_deepsleep = slept.append
        board = board_module.build(machine)
        assert (board.steps is not None) == with_sensor
        board.power_off()
        assert slept == [None]
    assert meter.states[-1] == ("accel", "off") and dev.regs[0x10] == 0
    machine.WIRING.reset()
