"""Virtual time for the simulator, on CPython and on the MicroPython unix port.

One VirtualTime per process (VT). It owns:
* the virtual millisecond counter and the ESP32-like ticks (period 2**30, started close to the
  wrap so wraparound bugs show up: ARCHITECTURE.md §4);
* the world's event queue: emulators schedule callbacks with at()/after();
* idle(dt): asyncio's wait in simulation (below the firmware's idle hook, firmware/idle.py, which
  the firmware installs itself). Instead of waiting, virtual time jumps to the next deadline or
  to the next world event, whichever comes first.

run(coro) runs a coroutine with asyncio on virtual time:
* MicroPython: our _asyncio stand-in (vasyncio.py) is installed before asyncio is imported,
  asyncio.core's ticks functions are replaced, and the firmware's own idle-hook installer
  (firmware.idle) wraps the poll wait, exactly as on the board.
* CPython: a small event loop whose clock is virtual and whose selector runs one turn of the
  firmware's idle hook (firmware.idle.turn) with VT.idle as the wait.

Import this module before anything imports asyncio.
"""
import sys

_MP = sys.implementation.name == "micropython"

if _MP:
    import host_sim.vasyncio as _vas

    if "asyncio" in sys.modules and sys.modules["asyncio"].core.Task is not _vas.Task:
        raise ImportError("host_sim.vtime must be imported before asyncio")
    sys.modules["_asyncio"] = _vas

import asyncio  # noqa: E402

from firmware import clock  # noqa: E402

START_TICKS = clock.PERIOD - 600000  # ten virtual minutes before the first wrap
_MAX_SPINS = 200000


class SimStalled(Exception):
    """Nothing can ever run again: no task deadline and no world event."""


class VirtualTime:
    def __init__(self, start_ticks=START_TICKS):
        self.reset(start_ticks)

    def reset(self, start_ticks=START_TICKS):
        self.ms = 0  # virtual ms since the start of the run, unbounded
        self.start_ticks = start_ticks
        self._events = []  # sorted [due_ms, seq, fn]
        self._seq = 0
        self._spins = 0  # idle(0) calls in a row without time moving
        # fn() called before every jump of virtual time: a real server's replies are awaited
        # there (host_sim/realserver.py)
        self.waiters = []

    def ticks_ms(self):
        return (self.start_ticks + self.ms) & (clock.PERIOD - 1)

    # ---- world events ----
    def at(self, due_ms, fn):
        """Run fn() when virtual time reaches due_ms (absolute). Returns a handle for cancel()."""
        if due_ms < self.ms:
            due_ms = self.ms
        self._seq += 1
        ev = [due_ms, self._seq, fn]
        q = self._events
        i = len(q)
        while i and (q[i - 1][0], q[i - 1][1]) > (due_ms, ev[1]):
            i -= 1
        q.insert(i, ev)
        return ev

    def after(self, delay_ms, fn):
        return self.at(self.ms + max(0, int(delay_ms)), fn)

    def cancel(self, ev):
        if ev in self._events:
            self._events.remove(ev)

    def next_event_ms(self):
        return self._events[0][0] if self._events else None

    def run_due(self):
        """Run every event due now (events may schedule more)."""
        q = self._events
        n = 0
        while q and q[0][0] <= self.ms:
            ev = q.pop(0)
            ev[2]()
            n += 1
        return n

    def idle(self, dt_ms):
        """The scheduler has nothing to run for dt_ms (-1: no deadline). Jump virtual time.

        dt_ms == 0 means tasks are ready now; a long run of those without time ever moving is a
        busy loop in the firmware (on the board: a flat battery), reported instead of hanging."""
        if dt_ms == 0:
            self._spins += 1
            if self._spins > _MAX_SPINS:
                raise SimStalled("busy loop: %d scheduler turns at virtual ms %d" % (self._spins, self.ms))
            self.run_due()
            return
        self._spins = 0
        for w in self.waiters:
            w()
        if self.run_due():
            return  # something happened now (a flag set, bytes arrived): let the tasks see it
        nxt = self.next_event_ms()
        if dt_ms is None or dt_ms < 0:
            if nxt is None:
                raise SimStalled("no task deadline and no world event")
            target = nxt
        else:
            target = self.ms + dt_ms
            if nxt is not None and nxt < target:
                target = nxt
        if target > self.ms:
            self.ms = target
        self.run_due()


VT = VirtualTime()
clock.set_source(VT.ticks_ms)

if _MP:
    import asyncio.core as _core

    _vas.core = _core
    _core.ticks = VT.ticks_ms
    _core.ticks_add = clock.ticks_add
    _core.ticks_diff = clock.ticks_diff

    import select as _select

    _IN = _select.POLLIN
    _OUT = _select.POLLOUT

    def _poll_streams(dt):
        """asyncio's poll, for a world without file descriptors. The unix port's poll() of a
        Python stream (a ThreadSafeFlag) costs ~1 ms per call even with timeout 0, which made a
        simulated day take minutes; here every waited-on stream is a Python object whose
        ioctl says whether it is ready, so ask it directly (same outcome as IOQueue's poll)."""
        q = _core._io_queue
        ready = None
        for key in q.map:
            sm = q.map[key]
            ev = sm[-1].ioctl(3, _IN | _OUT)
            if ev:
                if ready is None:
                    ready = []
                ready.append((sm, ev))
        if ready is None:
            return
        push = _core._task_queue.push
        for sm, ev in ready:
            # map entries are [reader, writer, stream], or [reader, pri, writer, stream] in
            # newer MicroPython releases
            w = len(sm) - 2
            if ev & _IN and sm[0] is not None:
                push(sm[0])
                sm[0] = None
            if ev & _OUT and sm[w] is not None:
                push(sm[w])
                sm[w] = None
            if all(x is None for x in sm[:-1]):
                q._dequeue(sm[-1])
            else:
                mask = (_IN if sm[0] is not None else 0) | (_OUT if sm[w] is not None else 0)
                q.poller.modify(sm[-1], mask)

    def _wait(dt):
        """asyncio's wait for dt ms in the simulated world: virtual time jumps (world events
        run meanwhile), then the streams are looked at."""
        VT.idle(dt)
        _poll_streams(0)

    def run(coro):
        """Run coro to completion on virtual time. The firmware's idle hook wraps the wait as
        on the board (firmware/idle.py); the board's light sleep is installed by the firmware
        itself (firmware/main.py start())."""
        from firmware import idle as fw_idle

        asyncio.new_event_loop()
        fw_idle.install(None, _wait, _poll_streams)
        return asyncio.run(coro)

else:
    import asyncio.base_events as _be

    class _Selector:
        def __init__(self, idle):
            self._idle = idle

        def select(self, timeout):
            if timeout is None:
                self._idle(-1)
            else:
                # Timers are float seconds: sleep(0.3) comes back as 0.30000000000000004. Round
                # to the nearest ms (rounding up would drift 1 ms per sleep against MicroPython,
                # whose timers are integer ms); a genuinely sub-ms wait still advances 1 ms.
                ms = int(timeout * 1000 + 0.5)
                if ms == 0 and timeout > 1e-6:
                    ms = 1
                self._idle(ms)
            return []

        def close(self):
            pass

    class VirtualLoop(_be.BaseEventLoop):
        """An asyncio loop whose clock is VT and whose only wait is the idle hook."""

        def __init__(self, idle):
            super().__init__()
            self._selector = _Selector(idle)
            # timers within 10 us of now are due (the FIFO offsets below stay under 1 us)
            self._clock_resolution = 1e-5
            self._seq = 0

        def call_at(self, when, callback, *args, context=None):
            """Timers on whole milliseconds, first-in first-out among equal deadlines, as on
            MicroPython (CPython's heap does not keep insertion order for equal times, and
            float deadlines like 0.7 + 0.1 vs 0.8 would order differently)."""
            self._seq += 1
            when = int(when * 1000 + 0.5) / 1000 + (self._seq % 1000000) * 1e-12
            return super().call_at(when, callback, *args, context=context)

        def time(self):
            return VT.ms / 1000

        def _process_events(self, event_list):
            pass

        def _write_to_self(self):
            pass

    def run(coro):
        """Run coro to completion on virtual time; each wait is one turn of the firmware's idle
        hook (firmware/idle.py: the board's light sleep once the firmware installed it, else a
        jump of virtual time)."""
        from firmware import idle as fw_idle

        fw_idle.install(None)
        loop = VirtualLoop(lambda dt: fw_idle.turn(dt, VT.idle))
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(coro)
        finally:
            asyncio.set_event_loop(None)
            loop.close()
