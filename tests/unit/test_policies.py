"""Pure policies: report grid, reconnect backoff, GNSS timeout, battery gauge."""
import support  # noqa: F401  (virtual time first)
from firmware import clock, positioning, reporter, uplink
from firmware.drivers import battery


def test_report_grid_does_not_drift_with_slow_fixes():
    interval = 300000
    due = clock.PERIOD - 1000  # next to the tick wrap
    now = clock.ticks_add(due, 45000)  # the fix took 45 s
    nxt = reporter.next_due(now, due, interval)
    assert clock.ticks_diff(nxt, due) == interval  # still on the grid


def test_report_grid_skips_ahead_after_a_long_stall():
    interval = 300000
    due = 1000
    now = clock.ticks_add(due, 3 * interval + 5000)  # stalled for three intervals
    nxt = reporter.next_due(now, due, interval)
    # one overdue report now, not three in a burst; still on the grid
    assert 0 <= clock.ticks_diff(now, nxt) < interval
    assert clock.ticks_diff(nxt, due) % interval == 0
    after = reporter.next_due(now, nxt, interval)
    assert clock.ticks_diff(after, now) > 0


def test_backoff_doubles_to_a_ceiling_and_restarts():
    seq = []
    b = 0
    for _ in range(10):
        b = uplink.next_backoff(b)
        seq.append(b)
    assert seq[:4] == [5, 10, 20, 40]
    assert max(seq) == 300 and seq[-1] == 300
    assert uplink.next_backoff(0) == 5


def test_gnss_timeout_policy():
    t = 1000000
    assert positioning.fix_timeout_s(t, None, False, 60) == 60  # never had a fix: cold
    assert positioning.fix_timeout_s(t, t - 5 * 3600, False, 60) == 60  # ephemeris too old
    assert positioning.fix_timeout_s(t, t - 300, False, 60) == 30  # hot
    assert positioning.fix_timeout_s(t, t - 300, True, 60) == 20  # hot but indoors last time
    assert positioning.fix_timeout_s(t, t - 300, True, 15) == 10  # never below 10 s


def test_battery_curve():
    assert battery.percent_from_mv(4250) == 100
    assert battery.percent_from_mv(3800) == 50
    assert battery.percent_from_mv(3775) == 45
    assert battery.percent_from_mv(3200) == 0

    class ADC:
        def read_uv(self):
            return 1900000  # 1.9 V at the pin, 3.8 V at the cell

    assert battery.Battery(ADC()).percent() == 50


def test_watchdog_is_fed_only_while_the_reporter_makes_progress():
    from firmware.app import watchdog_ok

    interval, gnss = 300000, 45000
    start = clock.PERIOD - 5000  # across the tick wrap
    at = clock.ticks_add
    # before the first report cycle: measured from when the services started
    assert watchdog_ok(at(start, 60000), start, None, interval, gnss)
    assert not watchdog_ok(at(start, 20 * 60000), start, None, interval, gnss)
    # a cycle a little over one interval ago (a slow fix, a few modem timeouts): still fed
    last = at(start, 1000)
    assert watchdog_ok(at(last, interval + gnss + 60000), start, last, interval, gnss)
    # no cycle for the interval plus the GNSS window plus five minutes: starve it, reset
    assert not watchdog_ok(at(last, interval + gnss + 300000), start, last, interval, gnss)


def test_watchdog_is_starved_by_an_uplink_pass_that_never_ends():
    from firmware.app import uplink_ok

    start = clock.PERIOD - 5000  # across the tick wrap
    at = clock.ticks_add
    assert uplink_ok(at(start, 10 * 3600000), None)  # between passes: waiting is no fault
    assert uplink_ok(at(start, 9 * 60000), start)  # a slow pass (connect, acks, an SOS's texts)
    assert not uplink_ok(at(start, 10 * 60000), start)  # hung on the AT channel: reset


def test_cold_searches_are_thinned_indoors_but_not_when_going_out():
    from firmware.fix import Cell

    ca = positioning.cold_attempt
    # hot searches (fresh ephemeris) and the first cold failures: always search
    assert ca(False, 10, 0, False)
    assert ca(True, 2, 0, False)
    # three cold failures in a row: one search in three reports...
    pattern = []
    skipped = 0
    for _ in range(6):
        go = ca(True, 3, skipped, False)
        pattern.append(go)
        skipped = 0 if go else skipped + 1
    assert pattern == [False, False, True, False, False, True]
    # ...unless the watch went out: at once
    assert ca(True, 9, 0, True)
    indoor = Cell(242, 1, 2010, 26383617, -98)
    assert not positioning.moved_since(Cell(242, 1, 2010, 26383617, -95), indoor)  # fading
    assert positioning.moved_since(Cell(242, 1, 2010, 26383617, -88), indoor)  # +10 dB: outside
    assert positioning.moved_since(Cell(242, 1, 2010, 26383618, -99), indoor)  # another cell
    assert not positioning.moved_since(None, indoor)
