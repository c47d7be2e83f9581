"""The one place where the watch waits: an idle hook under the asyncio scheduler.

install(fn) makes MicroPython's asyncio call fn(dt_ms) on every scheduler turn: dt_ms is how
long no task is ready (0: one is ready now, -1: none has a deadline). On the board fn is a
light sleep until that deadline or a wake pin (boards/*.py); in the simulator it is a jump of
virtual time (host_sim/vtime.py). Afterwards the stream poller runs once without waiting, so a
ThreadSafeFlag set by the wake IRQ is seen.

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

    def wait_io_event(dt):
        fn(dt)
        poll(0)

    q.wait_io_event = wait_io_event
    return True
