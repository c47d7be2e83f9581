"""The energy meter at its three ends, the cell's discharge curve and brown-out, and a run that a
flat cell ends (host_sim/energy.py, host_sim/runner.py; docs/energy.md)."""
import json
import sys

import support
from firmware import log
from host_sim import energy
from host_sim.energy import BROWNOUT_MV, CURRENT_UA, R_INT_MOHM, EnergyMeter, ocv_mv

H = 3600000


class Clock:
    def __init__(self):
        self.ms = 0


# what the cell gives for each part's state: the meter's table (the boost included, rows())
CELL = energy.rows()


def _draw(states, i):
    return sum(CELL[(c, s)][i] for c, s in states.items())


def test_every_row_is_low_central_high_in_whole_microamps():
    for key, row in CURRENT_UA.items():
        assert len(row) == 3 and all(isinstance(x, int) and x >= 0 for x in row), key
        assert row[0] <= row[1] <= row[2], key
    for part in energy.PARTS:
        assert (part, "off") in CURRENT_UA
    # the rows issue 8 names (hardware.md §3.2 list)
    assert CURRENT_UA[("modem", "idle")] == (9000, 15000, 23000)
    assert CURRENT_UA[("esp32", "active")] == (27000, 35000, 44000)
    assert CURRENT_UA[("modem", "tail")][0] > CURRENT_UA[("modem", "idle")][2]
    assert energy.BATTERY_MAH == 800


def test_the_cell_gives_each_part_its_current_through_the_boost():
    """The T-A7670 feeds the modem and the ESP32's LDO from a boost (its V1.4 schematic): a row
    from a part's own source costs the cell SUPPLY_PERMILLE of it; a figure measured at the
    board's battery (AT_CELL) has a factor of its own."""
    k = energy.SUPPLY_PERMILLE
    assert 1000 < k[0] < k[1] < k[2]
    for key, row in CURRENT_UA.items():
        at = energy.AT_CELL.get(key, (None, None, None))
        for i in range(3):
            want = row[i] * (k[i] if at[i] is None else at[i]) // 1000
            assert CELL[key][i] == want, key
    assert CELL[("modem", "sleep")] == (1149, 1875, 3112)  # 1.0/1.5/2.0 mA at the module
    assert CELL[("board", "on")] == CURRENT_UA[("board", "on")]  # measured on the battery
    assert CELL[("modem", "idle")][0] == 9000  # measured on the board: the kind end as the cell's
    # ... the others in doubt through the boost (where #336 was measured is not said)
    assert CELL[("modem", "idle")][1:] == (15000 * k[1] // 1000, 23000 * k[2] // 1000)
    assert CELL[("gnss", "on")][2] == 56000 * 1194 // 1000  # a 4.3 V bench figure at a 3.6 V cell (4.3 / 3.6)
    assert EnergyMeter(Clock()).rows == CELL
    # the SIM7000's rows are its datasheet's: its idle is scaled, its measured board is not
    s7 = energy.rows("sim7000")
    idle = energy.PROFILES["sim7000"][("modem", "idle")]
    assert s7[("modem", "idle")] == tuple(x * k[i] // 1000 for i, x in enumerate(idle))
    assert s7[("board", "on")] == energy.PROFILES["sim7000"][("board", "on")]


def test_meter_integrates_the_three_ends_at_once():
    c = Clock()
    m = EnergyMeter(c)
    states = {"esp32": "active", "board": "on", "modem": "off", "gnss": "off", "wifi": "off",
              "led": "off"}
    c.ms = H  # an hour awake, modem off
    m.set("modem", "idle")
    m.set("led", "on")
    states.update(modem="idle", led="on")
    c.ms = 2 * H  # an hour with the modem idle and its LED lit
    first = {"esp32": "active", "board": "on", "modem": "off", "gnss": "off", "wifi": "off", "led": "off"}
    for i in range(3):
        end = energy.ENDS[i]
        want = (_draw(first, i) + _draw(states, i)) // 2
        assert m.average_ua_at(end) == want, end
        assert m.average_ua_of_at("modem", end) == CELL[("modem", "idle")][i] // 2
        assert m.average_ua_of_at("esp32", end) == CELL[("esp32", "active")][i]
        # beside it, the parts' own currents: what a cell feeding them directly would give
        assert m.average_own_ua_of_at("esp32", end) == CURRENT_UA[("esp32", "active")][i]
        assert m.average_own_ua_of_at("modem", end) == CURRENT_UA[("modem", "idle")][i] // 2
        assert m.used_uah(end) == _draw(first, i) + _draw(states, i)
    # the old getters answer for the central end
    assert m.average_ua() == m.average_ua_at("central")
    assert m.average_ua_of("led") == CELL[("led", "on")][1] // 2 and m.average_ua_of("gnss") == 0
    assert m.used_uah() == m.used_uah("central")
    assert m.seconds_in("modem", "idle") == 3600 and m.seconds_in("modem", "off") == 3600
    assert m.average_ua_at("low") < m.average_ua_at("central") < m.average_ua_at("high")
    assert m.current_ua("high") == _draw(states, 2)
    support.raises(ValueError, m.set, "modem", "dozing")
    support.raises(KeyError, m.average_ua_at, "typical")


def test_light_sleeps_are_tallied_and_each_wake_costs_the_esp32():
    vt = Clock()
    m = EnergyMeter(vt)
    active = CELL[("esp32", "active")]
    for gap in (5000, 70000, 400000):  # asleep, then awake 1 s
        m.set("esp32", "sleep")
        vt.ms += gap
        m.set("esp32", "active")
        vt.ms += 1000
    m.set("esp32", "sleep")
    vt.ms += 1000
    m.set("esp32", "off")  # a power cut ends a sleep: no wake
    assert m.wakes == 3 and m.longest_sleep_ms == 400000
    k = energy.SLEEP_OVER_MS.index
    assert m.sleeps_over[k(0)] == 3 and m.sleeps_over[k(60000)] == 2 and m.sleeps_over[k(300000)] == 1
    assert m.sleep_ms_over[k(60000)] == 470000
    sleep = CELL[("esp32", "sleep")]
    for i, end in enumerate(("low", "central", "high")):
        want = (475000 + 1000) * sleep[i] + (3000 + 3 * energy.WAKE_MS[i]) * active[i]
        assert m.uas["esp32"][i] == want, end
    # deep instead of light for the two long ones: their length at the deep row, a boot each
    deep = CELL[("esp32", "deep")]
    for i, end in enumerate(("low", "central", "high")):
        boots = 2 * (energy.BOOT_MS[i] - energy.WAKE_MS[i]) * active[i]
        want = (470000 * (sleep[i] - deep[i]) - boots) // vt.ms
        assert m.deep_saving_ua(60000, end) == want
    for end in ("low", "central", "high"):  # the 5 s sleep made deep costs more than it saves
        assert m.deep_saving_ua(60000, end) > m.deep_saving_ua(0, end) and m.deep_saving_ua(60000, end) > 0


def test_the_esp32_awake_draws_its_clocks_row():
    """machine.freq(80 MHz) (the boards' CPU_HZ): awake, the ESP32 draws the 80 MHz row, and a
    wake's CPU-bound lump takes twice as long; a clock without a row is refused."""
    c = Clock()
    m = EnergyMeter(c)
    assert m.mhz == 160 and m.current_ua() == CELL[("esp32", "active")][1] + CELL[("board", "on")][1]
    c.ms = H
    m.set_clock(80)
    assert m.current_ua() == CELL[("esp32", "active80")][1] + CELL[("board", "on")][1]
    c.ms = 2 * H
    for i, end in enumerate(energy.ENDS):  # an hour at each clock
        want = (CELL[("esp32", "active")][i] + CELL[("esp32", "active80")][i]) // 2
        assert m.average_ua_of_at("esp32", end) == want
        assert m.wake_uams(i) == 2 * energy.WAKE_MS[i] * CELL[("esp32", "active80")][i]
    assert m.seconds_in("esp32", "active") == 7200  # the state is "active" at either clock
    assert CELL[("esp32", "active80")][1] < CELL[("esp32", "active")][1]
    support.raises(ValueError, m.set_clock, 240)


def test_totals_at_a_past_moment_are_the_meters_own_integration():
    """energy.jsonl's minutes (host_sim/runner.py) read the meter's totals at each minute's edge:
    now's totals less the rate that has held since the last change, wake lumps included."""
    c = Clock()
    m = EnergyMeter(c)
    m.set("esp32", "sleep")
    c.ms = 30000
    m.set("esp32", "active")  # a wake: a lump at 30 s, at 160 MHz
    lump = m.wake_uams(1)
    m.set_clock(80)
    m.set("modem", "idle")
    c.ms = 90000
    tot, used = m.totals_at(60000)  # half a minute at 80 MHz with the modem up, before it a sleep
    esp = 30000 * CELL[("esp32", "sleep")][1] + lump + 30000 * CELL[("esp32", "active80")][1]
    assert tot["esp32"] == esp
    assert tot["modem"] == 30000 * CELL[("modem", "idle")][1]
    assert used == sum(tot.values())  # the battery's end is the central one here
    assert m.totals_at(90000)[0]["esp32"] == esp + 30000 * CELL[("esp32", "active80")][1]


def test_the_fake_machine_sets_the_clock_as_the_esp32_port():
    from host_sim.fakes import machine

    told = []
    machine.WIRING.freq_hz = machine.DEFAULT_HZ
    machine.WIRING.on_freq = told.append
    try:
        assert machine.freq() == 160000000
        machine.freq(80000000)
        assert machine.freq() == 80000000 and told == [80000000]
        support.raises(ValueError, machine.freq, 100000000)
        assert machine.freq() == 80000000 and told == [80000000]
    finally:
        machine.WIRING.on_freq = None
        machine.WIRING.freq_hz = machine.DEFAULT_HZ


def test_discharge_curve_is_monotonic_from_full_to_empty():
    assert ocv_mv(1000) == 4200 and ocv_mv(0) == 3300
    assert ocv_mv(2000) == 4200 and ocv_mv(-5) == 3300  # clamped
    prev = ocv_mv(0)
    for p in range(1, 1001):
        v = ocv_mv(p)
        assert v >= prev, p
        prev = v
    assert ocv_mv(50) > ocv_mv(0) + 200  # the knee below ~10 %
    assert 3700 <= ocv_mv(500) <= 3900  # the flat middle
    assert BROWNOUT_MV == 3400 and ocv_mv(0) < BROWNOUT_MV < ocv_mv(50)


def test_battery_voltage_is_ocv_less_the_ir_drop_of_the_present_current():
    c = Clock()
    m = EnergyMeter(c)
    m.set("esp32", "sleep")
    rest = m.current_ua()
    assert R_INT_MOHM == 150  # ASSUMED internal resistance (docs/energy.md)
    assert m.battery_mv() == 4200 - rest * 150 // 1000000
    m.set("modem", "call")
    m.set("esp32", "active")
    load = m.current_ua()
    assert load > 300000
    # ~53 mV under a call (the ESP32's wake from its sleep took a little charge: the curve's top)
    assert m.battery_mv() == ocv_mv(m.charge_permille()) - load * 150 // 1000000
    assert 4200 - m.battery_mv() >= 50
    # half a cell: the curve's middle; from a start at 50 % the same
    m2 = EnergyMeter(Clock(), 800, 50)
    m2.set("esp32", "deep")
    m2.set("board", "off")
    assert m2.charge_permille() == 500 and m2.battery_mv() == ocv_mv(500)
    m2.drained_uah = 400000 - 40000  # the scenario drains it to 5 %
    assert m2.charge_permille() == 50 and m2.battery_mv() == ocv_mv(50)
    m2.drained_uah = -400000  # ... or charges it full
    assert m2.battery_mv() == 4200
    support.raises(ValueError, EnergyMeter, c, 0)
    support.raises(ValueError, EnergyMeter, c, 800, 0)
    support.raises(ValueError, EnergyMeter, c, 800, 100, "typical")


def test_each_end_runs_out_at_its_own_exact_time():
    c = Clock()
    m = EnergyMeter(c, 10)  # 10 mAh
    m.set("modem", "idle")
    dead = []
    m.on_dead = dead.append
    c.ms = 48 * H
    assert m.check() is not None and dead  # long flat by now
    for i in range(3):
        want = 10 * 1000 * H // _draw({"esp32": "active", "board": "on", "modem": "idle", "gnss": "off",
                                        "wifi": "off", "led": "off"}, i)
        assert abs(m.empty_ms[i] - want) <= 1, (i, m.empty_ms[i], want)
    assert m.empty_ms[2] < m.empty_ms[1] < m.empty_ms[0]  # the harsh end first
    assert m.charge_permille() == 0
    assert dead == ["empty"] and m.dead[1] == "empty"
    m.check()
    assert dead == ["empty"]  # once


def test_a_rise_in_current_browns_out_a_nearly_empty_cell():
    c = Clock()
    m = EnergyMeter(c, 800, 2)  # 2 %: OCV ~3.42 V
    m.set("esp32", "sleep")
    m.set("modem", "sleep")
    dead = []
    m.on_dead = dead.append
    m.check()
    assert dead == [] and m.battery_mv() > BROWNOUT_MV
    m.set("modem", "tail")  # 70 mA: still above 3.4 V
    assert dead == [] and m.battery_mv() > BROWNOUT_MV
    c.ms = 1000
    m.set("esp32", "active")
    m.set("modem", "call")  # 320 mA and the ESP32: more than 50 mV down
    assert dead == ["voltage"] and m.dead[2] < BROWNOUT_MV and m.dead[0] == 1000


def test_a_flat_cell_ends_the_run_and_stops_the_firmware():
    # a 2 mAh cell: the watch boots, the modem starts, and a minute or two later it browns out
    from host_sim import runner

    with open("host_sim/scenarios/school_day.json") as f:
        sc = json.load(f)
    sc["duration_s"] = 3600
    sc["battery_mah"] = 2
    saved = dict((k, sys.modules.get(k)) for k in ("machine", "network", "esp32"))
    sink = log._sink
    try:
        sim = runner.Sim(sc, support.tmpdir("flat"), echo=False)
        s = sim.run()
    finally:
        log.set_sink(sink)
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    died, board, tasks, emu_state = sim.died, sim.board, sim.last_app.tasks + [sim.app_task], sim.emu.state
    esp32, modem = sim.meter.state("esp32"), sim.meter.state("modem")
    _release()
    assert died is not None and s["died_why"] in ("voltage", "empty")  # whichever the 10 s checks see first
    assert s["died_at"] is not None and s["died_at"].startswith("2026-09-13T22:0")
    assert s["died_after_h_x10"] <= 1 and s["died_mv"] < BROWNOUT_MV
    assert 15 < s["sim_seconds"] < 600  # the run ended there, not at the scenario's hour
    assert board is None and all(t.done() for t in tasks)
    assert emu_state == "off" and s["boots"] == 1
    assert esp32 == "off" and modem == "off"
    assert s["battery_left_permille"] < 30


def _release():
    """Drop what still points at the finished run (the world's events, the fake pins and radio),
    so the MicroPython unit run's later tests have their heap back."""
    import gc

    from host_sim.fakes import machine, network

    support.VT.reset()
    machine.WIRING.reset()
    network.WIRING_SCAN = None
    network.METER = None
    network.power_off()
    gc.collect()
