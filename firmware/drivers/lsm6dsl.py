"""ST LSM6DSL accelerometer as a step counter (its embedded pedometer), on I2C.

The watch asks one thing of it: how many steps has the wearer taken? The pedometer runs in
the sensor on the accelerometer alone (gyroscope off), at 26 Hz in low-power mode, the lowest
rate its pedometer works at (ST AN5040, "Pedometer functions"), so the ESP32 sleeps through
the walking and only reads a 16-bit counter when it wakes for something else
(firmware/motion.py). Registers and bits: LSM6DSL datasheet, register map; AN5040.

Bad input loses nothing: a sensor that is absent, answers with another WHO_AM_I or fails a
transfer raises OSError (probe() returns None), and the caller goes on without steps.
"""
from firmware.compat import const

ADDRS = (0x6A, 0x6B)  # SA0 low / high
WHO_AM_I = const(0x0F)
WHO_AM_I_VALUE = const(0x6A)
CTRL1_XL = const(0x10)  # ODR_XL[7:4] FS_XL[3:2]
CTRL2_G = const(0x11)  # ODR_G[7:4]: 0 = gyroscope powered down
CTRL3_C = const(0x12)  # BOOT(7) BDU(6) H_LACTIVE(5) PP_OD(4) SIM(3) IF_INC(2) BLE(1) SW_RESET(0)
CTRL6_C = const(0x15)  # XL_HM_MODE(4): 1 = accelerometer high-performance mode off (low power)
CTRL10_C = const(0x19)  # WRIST_TILT_EN(7) TIMER_EN(5) PEDO_EN(4) TILT_EN(3) FUNC_EN(2)
#                         PEDO_RST_STEP(1) SIGN_MOTION_EN(0)
STEP_COUNTER_L = const(0x4B)  # and _H at 0x4C: steps since the counter was reset, wrapping at 2**16

ODR_26HZ = const(0x20)  # ODR_XL = 0010: 26 Hz, FS_XL = 00: +-2 g
_IF_INC_BDU = const(0x44)  # register auto-increment, block data update
_XL_LOW_POWER = const(0x10)
_PEDO = const(0x14)  # FUNC_EN | PEDO_EN
_READS = const(3)  # a counter read torn by a step between its two bytes is read again


def probe(i2c):
    """The sensor on this bus (an Lsm6dsl, set up and counting), or None: no sensor, or a part
    that is not an LSM6DSL. Never raises: a board without one is an ordinary board."""
    for addr in ADDRS:
        try:
            if i2c.readfrom_mem(addr, WHO_AM_I, 1)[0] != WHO_AM_I_VALUE:
                continue
            s = Lsm6dsl(i2c, addr)
            s.setup()
            return s
        except OSError:  # no device acknowledged at this address
            continue
    return None


class Lsm6dsl:
    def __init__(self, i2c, addr):
        self._i2c = i2c
        self.addr = addr

    def _w(self, reg, value):
        self._i2c.writeto_mem(self.addr, reg, bytes((value,)))

    def setup(self):
        """Gyroscope off, accelerometer at 26 Hz in low power, the pedometer on. Keeps the
        count across an ESP32 reset (the sensor keeps its power): the firmware counts
        differences, never the absolute value."""
        self._w(CTRL3_C, _IF_INC_BDU)
        self._w(CTRL2_G, 0)
        self._w(CTRL6_C, _XL_LOW_POWER)
        self._w(CTRL1_XL, ODR_26HZ)
        self._w(CTRL10_C, _PEDO)

    def steps(self):
        """The raw 16-bit step counter. OSError if the bus fails or the value will not hold
        still (two reads in a row that differ, _READS times)."""
        last = None
        for _ in range(_READS):
            b = self._i2c.readfrom_mem(self.addr, STEP_COUNTER_L, 2)
            v = b[0] | (b[1] << 8)
            if v == last:
                return v
            last = v
        raise OSError("lsm6dsl: step counter unstable")

    def off(self):
        """Everything powered down (the watch switched off)."""
        self._w(CTRL10_C, 0)
        self._w(CTRL1_XL, 0)
