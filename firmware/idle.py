"""The one place where the watch waits: an idle hook under the asyncio scheduler.

install(fn) makes MicroPython's asyncio call fn(dt_ms) whenever no task is ready: dt_ms is how
long (-1: no task has a deadline). fn returns True if it waited itself (on the board a light
sleep until that deadline or a wake pin, boards/*.py), False if it may not sleep now; then the
scheduler's own wait runs, asyncio's poll of the streams the tasks wait on, which a ThreadSafeFlag
set by an IRQ ends early. A light sleep is followed by that poll without waiting, so a flag set
by the wake IRQ is seen.

The simulator runs this very code: its asyncio wait is a jump of virtual time (host_sim/vtime.py)
in place of the poll, and the board's light sleep ends in the fake machine.lightsleep. On
CPython, which has no asyncio.core to hook, the simulator's event loop calls turn() itself.
"""
import asyncio

_hook = None  # fn(dt_ms) -> True if it waited (slept), or None: no hook (a plain wait)
_queue = None  # the asyncio I/O queue whose wait is wrapped


def turn(dt, poll):
    """One idle turn of dt ms: the hook's sleep, else poll(dt), the scheduler's own wait."""
    if dt != 0 and _hook is not None and _hook(dt):
        poll(0)
        return
    poll(dt)


def install(fn, poll=None, check=None):
    """Make fn the idle hook (None: none). poll(dt) is the wait it replaces, default asyncio's
    own; check(0) looks at the streams without waiting, default poll. Installing again (a new
    board after a reset) replaces the hook, not the wrapper."""
    global _hook, _queue
    _hook = fn
    core = getattr(asyncio, "core", None)
    if core is None:
        return False
    q = core._io_queue
    if q is _queue:
        return True
    _queue = q
    poll = poll or q.wait_io_event
    check = check or poll
    tasks = core._task_queue

    def wait_io_event(dt):
        if dt != 0:
            # A flag set since the scheduler computed dt (an IRQ, or a task that drove a pin)
            # has a task waiting to run: look first, and do not sleep past it. Without this
            # the board light-slept with the SOS button's flag set and missed the press.
            check(0)
            t = tasks.peek()
            if t is not None and core.ticks_diff(t.ph_key, core.ticks()) <= 0:
                return
        turn(dt, poll)

    q.wait_io_event = wait_io_event
    return True
