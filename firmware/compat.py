"""The small gaps between MicroPython's asyncio and CPython's, closed in one place.

Firmware modules import asyncio helpers from here so that the same code runs on the ESP32,
on the MicroPython unix port and on CPython (STYLE.md, "MicroPython and CPython, one code").
"""
import sys

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):
        return x


MICROPYTHON = sys.implementation.name == "micropython"

import asyncio  # noqa: E402  (after const: the simulator may have prepared asyncio first)

if hasattr(asyncio, "sleep_ms"):
    sleep_ms = asyncio.sleep_ms
    wait_for_ms = asyncio.wait_for_ms
else:

    def sleep_ms(ms):
        return asyncio.sleep(ms / 1000)

    def wait_for_ms(aw, ms):
        return asyncio.wait_for(aw, ms / 1000)


if hasattr(asyncio, "ThreadSafeFlag"):
    ThreadSafeFlag = asyncio.ThreadSafeFlag
else:

    class ThreadSafeFlag:
        """CPython stand-in: set() from the loop's own thread (the simulator's fake IRQs run
        there), wait() clears the flag like MicroPython's does. Create it inside a running loop."""

        def __init__(self):
            self._ev = asyncio.Event()

        def set(self):
            self._ev.set()

        def clear(self):
            self._ev.clear()

        async def wait(self):
            await self._ev.wait()
            self._ev.clear()


def print_exception(e, file=None):
    """sys.print_exception on MicroPython, traceback on CPython."""
    if hasattr(sys, "print_exception"):
        sys.print_exception(e, file or sys.stdout)
    else:
        import traceback

        traceback.print_exception(type(e), e, e.__traceback__, file=file or sys.stdout)
