"""An LSM6DSL on the board's I2C, counting the steps the simulated child takes.

The scenario's device says whether the watch has one, and how restless the child is:

  "device": {"accel": {"walks_per_h": 6, "night_walks_per_h": 0, "steps_per_walk": [10, 40]}}

(no "accel" key: no sensor, the bus answers nobody, as on a bare T-A7670). Steps come from:

* the route: on a stretch walked at 0.5-12 km/h the child takes STEPS_PER_S steps a second
  (a child's cadence, ~120 a minute, ASSUMED); faster is a ride (a tram, a car, a bike) and
  counts none, the harsh side: a ride shows the firmware no motion at all;
* walks that go nowhere while it stands still: across a classroom, to the kitchen and back.
  `walks_per_h` of them an hour between 07:00 and 21:00 local, `night_walks_per_h` outside
  those hours, each of `steps_per_walk` steps (ASSUMED: no figure found; a child at school
  stands up and walks about a few times an hour. `make bench` runs both ends: 2 and 20 an
  hour by day, 0 and 2 at night). Each is a walk the watch must not take for leaving.

The register file answers what firmware/drivers/lsm6dsl.py asks (WHO_AM_I, the control
registers it writes, the 16-bit step counter, which wraps); the pedometer counts only while
the accelerometer runs at >= 26 Hz with FUNC_EN and PEDO_EN set (AN5040), and the energy
meter's "accel" part is "on" while the accelerometer's ODR is not zero. Everything is integer
and a pure function of virtual time, so both interpreters count the same steps.
"""
ADDR = 0x6A
STEPS_PER_S = 2  # ASSUMED: a child walks at ~120 steps a minute
WALK_MIN_KMH10 = 5  # slower than 0.5 km/h is standing
WALK_MAX_KMH10 = 120  # faster than 12 km/h is a ride: no steps
DAY_FROM_H = 7
DAY_TO_H = 21
DEFAULTS = {"walks_per_h": 6, "night_walks_per_h": 0, "steps_per_walk": [10, 40]}

_WHO_AM_I = 0x0F
_CTRL1_XL = 0x10
_CTRL10_C = 0x19
_STEP_L = 0x4B
_FUNC_EN = 0x04
_PEDO_EN = 0x10
_PEDO_RST = 0x02
_WALK_MS = 500  # one step per this at STEPS_PER_S


class Steps:
    """The child's step count as a function of virtual time (ms since the start)."""

    def __init__(self, world, opts=None):
        o = dict(DEFAULTS)
        o.update(opts or {})
        self.w = world
        self.walks_per_h = int(o["walks_per_h"])
        self.night_walks_per_h = int(o["night_walks_per_h"])
        lo, hi = o["steps_per_walk"]
        self.steps_lo, self.steps_hi = int(lo), int(hi)
        if not (0 <= self.walks_per_h <= 60 and 0 <= self.night_walks_per_h <= 60 and
                1 <= self.steps_lo <= self.steps_hi <= 600):
            raise ValueError("accel: walks_per_h/night_walks_per_h 0..60, steps_per_walk [lo, hi] 1..600")
        self._t = 0  # counted up to this ms ...
        self._n = 0  # ... this many steps

    def _route(self, a, b):
        """Steps walked along the route in [a, b): a step every _WALK_MS from the start of each
        stretch walked at a walking speed."""
        n = 0
        for s in self.w._segs:
            if s.t1 <= s.t0 or not WALK_MIN_KMH10 <= s.speed <= WALK_MAX_KMH10:
                continue  # standing (or the open end), or a ride
            lo = a if a > s.t0 else s.t0
            hi = b if b < s.t1 else s.t1
            if hi > lo:
                n += (hi - s.t0) // _WALK_MS - (lo - s.t0) // _WALK_MS
        return n

    def _walks(self, t0, t1):
        """Steps of the walks that go nowhere, taken in [t0, t1) while standing: each minute
        holds at most one, at its start."""
        n = 0
        k = (t0 + 59999) // 60000
        while k * 60000 < t1:
            at = k * 60000
            if self.w.position_at(at)[2] == 0:
                h = self.w.local_parts(at)[3]
                per_h = self.walks_per_h if DAY_FROM_H <= h < DAY_TO_H else self.night_walks_per_h
                r = self.w._rand(k, 7)
                if per_h and r % 60 < per_h:  # per_h of every 60 minutes, spread by the seed
                    n += self.steps_lo + (r // 60) % (self.steps_hi - self.steps_lo + 1)
            k += 1
        return n

    def at(self, ms):
        """Steps taken from the start to ms (ms never goes back: counted incrementally; a
        walk that goes nowhere is counted whole at its minute's start)."""
        if ms <= self._t:
            return self._n
        self._n += self._route(self._t, ms) + self._walks(self._t, ms)
        self._t = ms
        return self._n


class Lsm6dsl:
    """The sensor's registers, as the driver uses them; steps from Steps, the time from vt."""

    def __init__(self, vt, steps, meter=None):
        self.vt = vt
        self.steps = steps
        self.meter = meter
        self.regs = bytearray(128)
        self.regs[_WHO_AM_I] = 0x6A
        self.regs[0x12] = 0x04  # CTRL3_C reset value: IF_INC
        self._base = 0  # the counter's value when the pedometer last started or was reset
        self._from = None  # the child's step count then (None: the pedometer is off)
        self.reads = 0

    def _counting(self):
        r = self.regs
        return (r[_CTRL1_XL] >> 4) >= 2 and r[_CTRL10_C] & (_FUNC_EN | _PEDO_EN) == _FUNC_EN | _PEDO_EN

    def _count(self):
        if self._from is None:
            return self._base
        return (self._base + self.steps.at(self.vt.ms) - self._from) & 0xFFFF

    def read(self, reg, n):
        self.reads += 1
        c = self._count()
        out = bytearray()
        for i in range(n):
            a = reg + i
            if a == _STEP_L:
                out.append(c & 0xFF)
            elif a == _STEP_L + 1:
                out.append(c >> 8)
            else:
                out.append(self.regs[a & 0x7F])
        return bytes(out)

    def write(self, reg, data):
        for i in range(len(data)):
            a = (reg + i) & 0x7F
            if a in (_WHO_AM_I, _STEP_L, _STEP_L + 1):
                continue  # read-only
            before = self._count()
            self.regs[a] = data[i]
            if a == _CTRL10_C and data[i] & _PEDO_RST:
                before = 0
            self._base = before
            self._from = self.steps.at(self.vt.ms) if self._counting() else None
        if self.meter is not None:
            self.meter.set("accel", "on" if self.regs[_CTRL1_XL] >> 4 else "off")
