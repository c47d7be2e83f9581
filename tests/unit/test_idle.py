"""The idle hook (firmware/idle.py) and the board's light sleep decision (Board.idle): the one
path by which the watch waits, on the board and in the simulator alike."""
import support  # noqa: F401  first: virtual time before asyncio

from boards import lilygo_t_a7670 as board_module  # noqa: E402
from firmware import idle  # noqa: E402


class _Machine:
    def __init__(self):
        self.slept = []

    def lightsleep(self, ms):
        self.slept.append(ms)


class _At:
    busy = False
    expecting = None


class _Modem:
    def __init__(self):
        self.at = _At()
        self.in_call = False
        self.ri = None
        self.sleeps = 0


def _board():
    return board_module.Board(_Machine(), _Modem(), None, {})


def _turns(hook, dts):
    waits = []
    saved = idle._hook
    idle._hook = hook
    try:
        for dt in dts:
            idle.turn(dt, waits.append)
    finally:
        idle._hook = saved
    return waits


def test_a_hook_that_slept_is_followed_by_a_look_without_waiting():
    assert _turns(lambda dt: True, [500, -1]) == [0, 0]


def test_a_hook_that_may_not_sleep_leaves_the_wait_to_the_scheduler():
    assert _turns(lambda dt: False, [500, -1, 7]) == [500, -1, 7]


def test_no_hook_and_ready_tasks_never_sleep():
    called = []
    assert _turns(None, [300]) == [300]
    assert _turns(lambda dt: called.append(dt) or True, [0]) == [0] and called == []


def test_the_board_light_sleeps_only_when_nothing_is_in_flight():
    b = _board()
    assert b.idle(1000) is True and b._machine.slept == [1000] and b.modem.sleeps == 1
    assert b.idle(-1) is True and b._machine.slept[-1] == 3600000  # no deadline: an hour, or a pin
    assert b.idle(5) is False  # too short to pay for the wake-up
    b.modem.at.busy = True  # an AT command in flight: light sleep would drop its reply
    assert b.idle(1000) is False
    b.modem.at.busy, b.modem.at.expecting = False, "+CIPSEND"
    assert b.idle(1000) is False
    b.modem.at.expecting, b.modem.in_call = None, True
    assert b.idle(1000) is False
    b.modem.in_call = False
    awake = [True]
    b.keep_awake = lambda: awake[0]  # the console heard a byte: USB serial input would be lost
    assert b.idle(1000) is False
    awake[0] = False
    assert b.idle(1000) is True
    assert b._machine.slept == [1000, 3600000, 1000]
