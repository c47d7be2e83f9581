"""Battery gauge from the board's ADC (LilyGO: GPIO35 behind a 100k/100k divider, so the
cell voltage is twice the pin voltage; hardware.md §4 ADC row, §5.1)."""

# Resting Li-ion voltage (mV) to percent, piecewise linear. A typical single-cell curve; the
# watch reports it to Traccar as batteryLevel. Replace with a measured curve per cell.
_CURVE = ((4200, 100), (4100, 90), (4000, 80), (3900, 65), (3800, 50), (3750, 40),
          (3700, 30), (3650, 20), (3600, 12), (3500, 5), (3300, 0))


class Battery:
    def __init__(self, adc, divider=2):
        self._adc = adc
        self._div = divider

    def millivolts(self):
        return self._adc.read_uv() * self._div // 1000

    def percent(self):
        return percent_from_mv(self.millivolts())


def percent_from_mv(mv):
    c = _CURVE
    if mv >= c[0][0]:
        return 100
    for i in range(1, len(c)):
        hi_mv, hi_p = c[i - 1]
        lo_mv, lo_p = c[i]
        if mv >= lo_mv:
            return lo_p + (mv - lo_mv) * (hi_p - lo_p) // (hi_mv - lo_mv)
    return 0
