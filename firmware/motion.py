"""Motion from the wrist: has the child walked since the watch last knew where it was?

Where the board has a step counter (an accelerometer's pedometer, firmware/drivers/lsm6dsl.py)
the reporter asks it before anything that costs: a child who has not walked is where it was,
so a report re-sends that position without a Wi-Fi scan (1.7 s at ~105 mA) or a modem wake for
the cell (~15 s awake), and the looks near a zone edge become a step count read every 20 s
instead of a Wi-Fi scan every minute or two (docs/positioning.md, "With a step counter").

What steps cannot see: a ride (a tram, a car) without a step. So the count is never trusted
alone for long: a full look every VERIFY_S, and never while the last fix said the child moves
(the reporter's rules, firmware/reporter.py).

The count is kept as differences of the sensor's 16-bit counter (it wraps, and it keeps
counting across an ESP32 reset); a read that fails says "cannot tell" (None), and the caller
looks as if there were no sensor.
"""
from firmware import log
from firmware.compat import const

STEPS_MOVED = const(12)  # steps since the last look that may have taken the child elsewhere
VERIFY_S = const(900)  # a full look at least this often, steps or not (a ride has none)
STEP_CHECK_S = const(20)  # near a zone edge: the counter read this often between reports


def walked(steps_now, steps_mark):
    """Has the child walked away since the mark? True, False, or None (cannot tell). A pure
    policy: STEPS_MOVED steps is ~6 m, a child's walk across a room and back is ~20."""
    if steps_now is None or steps_mark is None:
        return None
    return steps_now - steps_mark >= STEPS_MOVED


class Motion:
    def __init__(self, sensor):
        self._s = sensor
        self._raw = None  # the counter's last raw value
        self.total = 0  # steps counted since boot
        self._mark = None  # self.total at the last look that fixed the position
        self.errors = 0

    def steps(self):
        """Steps since boot, or None if the sensor cannot be read now."""
        try:
            raw = self._s.steps()
        except OSError as e:
            self.errors += 1
            if self.errors == 1 or self.errors % 100 == 0:
                log.event("error", where="motion", err=repr(e), n=self.errors)
            return None
        if self._raw is not None:
            self.total += (raw - self._raw) & 0xFFFF
        self._raw = raw
        return self.total

    def mark(self):
        """A look has just fixed the position: steps count from here."""
        self._mark = self.steps()

    def walked(self):
        """Steps since the mark say the child walked (True), did not (False), or None."""
        return walked(self.steps(), self._mark)
