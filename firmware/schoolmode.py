"""School mode, the service: tells the others whether the watch is "only a watch" now.

The policy is firmware/school.py (pure: the windows, the local time across daylight saving, the
decisions). This shell keeps the answer current: it sleeps until the next window boundary (or
a settings change), logs each change, and tells telephony when a window ends, so the messages
held during it are announced then. The local time: the network's offset when the modem gave one
(AT+CCLK carries it in quarter hours, daylight saving included), else the configured standard
offset and daylight-saving rule. The child cannot end school mode: nothing on the watch changes
it; guardians do, with commands (firmware/commands.py).
"""
import asyncio

from firmware import clock, log, school
from firmware.compat import const, wait_for_ms

_RECHECK_MS = const(3600000)  # at least this often (a clock set late, a lost change)


class SchoolMode:
    def __init__(self, cfg, net_offset_fn, on_end=None, refresh=None):
        """net_offset_fn() -> the network's UTC offset in minutes, or None; on_end() when a
        window ends (telephony announces what it held); refresh() -> awaitable that asks the
        network for the time again (its zone changes with daylight saving), run before each
        decision of the task."""
        self._cfg = cfg
        self._net = net_offset_fn
        self._on_end = on_end
        self._refresh = refresh
        self._changed = asyncio.Event()
        self._sched = school.Schedule(cfg.as_dict())  # the windows parsed once, again on changes
        self.now_quiet = False
        self._until = None  # ticks when the answer may change

    def changed(self):
        """Settings changed (a command): decide again now."""
        self._sched = school.Schedule(self._cfg.as_dict())
        self._until = None
        self._changed.set()

    def _decide(self):
        q, secs = self._sched.quiet(clock.wall.now(), self._net())
        self._until = clock.ticks_add(clock.ticks_ms(), (secs if 0 < secs < 3600 else 3600) * 1000)
        return q

    def quiet(self):
        """Is the watch in school mode now?"""
        if self._until is None or clock.ticks_diff(clock.ticks_ms(), self._until) >= 0:
            self._update(self._decide())
        return self.now_quiet

    def _update(self, q):
        if q != self.now_quiet:
            self.now_quiet = q
            log.event("school_mode", quiet=q)
            if not q and self._on_end is not None:
                self._on_end()

    async def run(self):
        """Never returns."""
        while True:
            if self._refresh is not None:
                try:
                    await self._refresh()
                except OSError as e:
                    log.event("error", where="school_clock", err=repr(e))
            self._update(self._decide())
            wait = clock.ticks_diff(self._until, clock.ticks_ms())
            self._changed.clear()
            try:
                await wait_for_ms(self._changed.wait(), wait if 0 < wait < _RECHECK_MS else _RECHECK_MS)
            except asyncio.TimeoutError:
                pass
