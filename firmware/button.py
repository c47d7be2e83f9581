"""The SOS button: IRQ -> flag -> task (STYLE.md habit 3), debounced, long or short press.

The IRQ handler only records that the pin changed and sets a ThreadSafeFlag. The task then
looks at the pin itself (contacts bounce for a few ms; a level read twice _DEBOUNCE_MS apart
is believed). A press held for `long_ms` is a long press the moment it gets there (the child
feels the vibration and may let go; a panicking child who keeps holding gets the SOS all the
same). A shorter press is a short one on release. Presses under _DEBOUNCE_MS are noise.

    classify(held_ms, released, long_ms) -> "long" | "short" | None   (pure, table-tested)
"""
from firmware import clock
from firmware.compat import ThreadSafeFlag, const, sleep_ms

_DEBOUNCE_MS = const(30)
_STEP_MS = const(50)


def classify(held_ms, released, long_ms):
    """What a press is so far: "long" once held long_ms, "short" if released before that
    after at least the debounce time, None while undecided (or for a bounce)."""
    if held_ms >= long_ms:
        return "long"
    if released:
        return "short" if held_ms >= _DEBOUNCE_MS else None
    return None


class Button:
    def __init__(self, pin, active_low=True):
        self.pin = pin
        self._down = 0 if active_low else 1
        self.flag = None
        self._edge = 0  # ticks of the last edge, written by the IRQ (a small int: no allocation)

    def start(self):
        """Inside the running loop: the flag, then the IRQ on both edges."""
        if self.flag is None:
            self.flag = ThreadSafeFlag()
        self.pin.irq(self._irq, self.pin.IRQ_FALLING | self.pin.IRQ_RISING)
        if self.pressed():
            # held already: the press that woke a switched-off watch (deep sleep, ext1). It
            # counts from now, so holding on makes it an SOS.
            self._edge = clock.ticks_ms()
            self.flag.set()

    def _irq(self, pin):
        self._edge = clock.ticks_ms()
        self.flag.set()

    def pressed(self):
        return self.pin.value() == self._down

    async def _until(self, t):
        d = clock.ticks_diff(t, clock.ticks_ms())
        if d > 0:
            await sleep_ms(d)

    async def run(self, long_ms_fn, on_long, on_short):
        """Never returns. long_ms_fn() -> the configured long-press time (read at each press).

        Every time is counted from the edge the IRQ recorded, not from when this task got to
        run: a press is timed the same however late the scheduler wakes the task."""
        while True:
            await self.flag.wait()
            # settle: no edge for _DEBOUNCE_MS
            while True:
                edge = self._edge
                await self._until(clock.ticks_add(edge, _DEBOUNCE_MS))
                if self._edge == edge:
                    break
            if not self.pressed():
                continue  # a bounce, or the release of a press already handled
            t0 = edge
            long_ms = long_ms_fn()
            k = 1
            while True:
                nxt = clock.ticks_add(t0, k * _STEP_MS)
                if clock.ticks_diff(nxt, clock.ticks_add(t0, long_ms)) > 0:
                    nxt = clock.ticks_add(t0, long_ms)
                await self._until(nxt)
                k += 1
                held = clock.ticks_diff(clock.ticks_ms(), t0)
                released = not self.pressed()
                kind = classify(held, released, long_ms)
                if kind == "long":
                    on_long()
                    while self.pressed():  # wait for the release; a long hold is one SOS
                        await sleep_ms(_STEP_MS)
                    break
                if released:
                    if kind == "short":
                        on_short()
                    break
