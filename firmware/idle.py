"""The one place where the watch waits: an idle hook under the asyncio scheduler.

install(fn) makes MicroPython's asyncio call fn(dt_ms) on every scheduler turn: dt_ms is how
long no task is ready (0: one is ready now, -1: none has a deadline). On the board fn is a
light sleep until that deadline or a wake pin (boards/*.py); in the simulator it is a jump of
virtual time (host_sim/vtime.py). The stream poller runs once without waiting before (a flag
already set means a task is ready: no sleep) and after (a ThreadSafeFlag set by the wake IRQ
is seen).

On CPython there is no device and nothing to install: the simulator's loop calls the hook.
"""
import asyncio


def install(fn, poll=None):
    """poll(0) checks the streams tasks wait on; default: asyncio's own poller."""
    core = getattr(asyncio, "core", None)
    if core is None:
        return False
    q = core._io_queue
    poll = poll or q.wait_io_event
    tasks = core._task_queue

    def wait_io_event(dt):
        if dt != 0:
            # A flag set since the scheduler computed dt (an IRQ, or a task that drove a pin)
            # has a task waiting to run: look first, and do not sleep past it. Without this
            # the board light-slept with the SOS button's flag set and missed the press.
            poll(0)
            t = tasks.peek()
            if t is not None and core.ticks_diff(t.ph_key, core.ticks()) <= 0:
                return
        fn(dt)
        poll(0)

    q.wait_io_event = wait_io_event
    return True
