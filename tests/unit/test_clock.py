"""Clock: tick wraparound and the UTC wall clock (epoch 2000)."""
import support  # first: virtual time before asyncio

import asyncio  # noqa: E402
from firmware import clock
from firmware.compat import sleep_ms


def test_ticks_diff_across_wrap():
    near = clock.PERIOD - 10
    later = clock.ticks_add(near, 25)
    assert later == 15
    assert clock.ticks_diff(later, near) == 25
    assert clock.ticks_diff(near, later) == -25


def test_ticks_add_negative_and_half_period():
    assert clock.ticks_add(5, -10) == clock.PERIOD - 5
    half = 1 << 29
    assert clock.ticks_diff(clock.ticks_add(0, half - 1), 0) == half - 1
    # beyond half a period the difference is ambiguous and reads negative: callers must not go there
    assert clock.ticks_diff(clock.ticks_add(0, half + 1), 0) < 0


def test_civil_round_trip():
    for y, m, d in ((2000, 1, 1), (2024, 2, 29), (2026, 12, 31), (1999, 12, 31), (2100, 3, 1)):
        assert clock.civil_from_days(clock.days_from_civil(y, m, d)) == (y, m, d)
    assert clock.days_from_civil(1970, 1, 1) == 0
    assert clock.from_parts(2000, 1, 1) == 0
    assert clock.from_parts(1970, 1, 1) == -clock.UNIX_AT_2000


def test_iso8601_round_trip():
    t = clock.from_parts(2026, 9, 14, 6, 5, 7)
    assert clock.iso8601(t) == "2026-09-14T06:05:07Z"
    assert clock.parse_iso8601("2026-09-14T06:05:07Z") == t
    support.raises(ValueError, clock.parse_iso8601, "2026-09-14 06:05:07")
    support.raises(ValueError, clock.parse_iso8601, "2026-09-14T06:05:07+02:00")


def test_parse_cclk_converts_local_to_utc():
    # 08:00 local at +08 quarters (UTC+2) is 06:00 UTC
    assert clock.parse_cclk('+CCLK: "26/09/14,08:00:00+08"') == clock.from_parts(2026, 9, 14, 6, 0, 0)
    assert clock.parse_cclk('"26/01/01,00:30:00-04"') == clock.from_parts(2026, 1, 1, 1, 30, 0)
    support.raises(ValueError, clock.parse_cclk, '+CCLK: "garbage"')
    support.raises(ValueError, clock.parse_cclk, '"26/13/01,00:00:00+00"')


def test_wall_clock_runs_on_ticks_across_wrap():
    async def main():
        w = clock.WallClock()
        assert w.now() is None
        t0 = clock.from_parts(2026, 9, 14, 6, 0, 0)
        w.set(t0, "network")
        from firmware.compat import sleep_ms

        await sleep_ms(3600 * 1000)  # crosses the tick wrap (starts 10 min before it)
        assert w.now() == t0 + 3600
        await sleep_ms(2 * 86400 * 1000)  # long enough to re-anchor
        assert w.now() == t0 + 3600 + 2 * 86400
        assert w.source == "network"

    support.run(main())


def test_a_flag_set_by_a_task_is_seen_before_the_idle_sleep():
    # The SOS button's flag set just before the scheduler's idle wait (here by a task; on the
    # board by an IRQ between the scheduler's look and its sleep) must wake its waiter now,
    # not when the sleep ends. firmware/idle.py polls before it sleeps.
    from firmware.compat import ThreadSafeFlag
    from host_sim import vtime

    async def main():
        f = ThreadSafeFlag()
        seen = []

        async def waiter():
            await f.wait()
            seen.append(support.VT.ms)

        t = asyncio.create_task(waiter())
        await sleep_ms(100)
        f.set()
        await sleep_ms(5000)
        t.cancel()
        return seen

    support.VT.reset()
    assert vtime.run(main()) == [100]
