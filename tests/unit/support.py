"""Helpers for unit tests that run on CPython (pytest) and on MicroPython (tools/mptest.py).

Test modules are plain functions named test_* with assert statements; no pytest fixtures, so
the same file runs under both runners. Import this module first: it brings in virtual time.
"""
import os

from host_sim import vtime  # noqa: F401  (must precede asyncio; sets virtual ticks)
from firmware import fsutil, log  # noqa: E402

VT = vtime.VT


def run(coro, start_ticks=vtime.START_TICKS):
    """Run a coroutine to completion on fresh virtual time; returns its result."""
    VT.reset(start_ticks)
    return vtime.run(coro)


def raises(exc_type, fn, *args, **kw):
    """Call fn and return the exception it raised; fail unless it is an exc_type."""
    try:
        fn(*args, **kw)
    except exc_type as e:
        return e
    raise AssertionError("%s not raised by %r" % (getattr(exc_type, "__name__", exc_type), fn))


async def araises(exc_type, aw):
    """Await aw and return the exception it raised; fail unless it is an exc_type."""
    try:
        await aw
    except exc_type as e:
        return e
    raise AssertionError("%s not raised" % getattr(exc_type, "__name__", exc_type))


_counter = [0]


def tmpdir(name="t"):
    """A fresh empty directory under out/tmp (relative to the repository root)."""
    base = os.getenv("TRYGG_TMP") or "out/tmp"
    _counter[0] += 1
    path = "%s/%s-%d-%d" % (base, name, os.getpid() if hasattr(os, "getpid") else 0, _counter[0])
    fsutil.rmtree(path)
    fsutil.makedirs(path)
    return path


class Events:
    """with Events() as got: ... -> the firmware's events as (kind, fields) while inside; the
    previous sink (the MicroPython runner's capture) is put back afterwards."""

    def __enter__(self):
        self.prev = log._sink
        self.got = []
        log.set_sink(lambda kind, fields: self.got.append((kind, fields)))
        return self.got

    def __exit__(self, *exc):
        log.set_sink(self.prev)
        return False
