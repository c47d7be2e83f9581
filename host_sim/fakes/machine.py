"""Fake `machine` module (ESP32 port subset): Pin, UART, ADC, RTC, WDT, sleep and reset calls.

Wiring: the simulator registers what is on the other side of each pin before the board runs:
  WIRING.attach_uart(tx, rx, peer)   peer.on_host_write(bytes) receives what the ESP32 sends;
                                     the peer calls uart.feed(bytes) to make bytes readable.
  WIRING.pin(n)                      the shared state of GPIO n: the emulator drives inputs with
                                     drive(level) and watches outputs with watch(fn(level)).
  WIRING.adc_source[n] = fn          fn() -> microvolts on that pin.
  WIRING.sleep = fn(ms) -> None      what lightsleep does (the simulator jumps virtual time).
  WIRING.on_edge = fn(pin, level)    told of every externally driven edge (wake sources).
  WIRING.asleep                      True during light sleep: UART input is dropped then.
  WIRING.freq_hz, WIRING.on_freq     the CPU clock (a boot starts at DEFAULT_HZ, MicroPython's on
                                     the ESP32) and fn(hz) told when machine.freq sets it.
  WIRING.i2c[(scl, sda)] = {addr: dev}   the devices on an I2C bus: dev.read(reg, n) -> bytes,
                                     dev.write(reg, data); an address with no device answers
                                     OSError(ENODEV) as the ESP32 port does (no ACK).
"""

PWRON_RESET = 1
DEFAULT_HZ = 160000000  # MicroPython's ESP32 clock until the firmware sets another
_CLOCKS = (20000000, 40000000, 80000000, 160000000, 240000000)  # what machine.freq takes there
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
PIN_WAKE = 2
EXT0_WAKE = 2
EXT1_WAKE = 3
TIMER_WAKE = 4
SLEEP = 2
DEEPSLEEP = 4


class _PinState:
    def __init__(self, n):
        self.n = n
        self.mode = None
        self.level = 1  # inputs float high through pull-ups on the LilyGO boards
        self.irq_handler = None
        self.irq_trigger = 0
        self.watchers = []
        self.hold = False

    def drive(self, level):
        """The outside world sets an input level; fires the IRQ on a matching edge."""
        level = 1 if level else 0
        old, self.level = self.level, level
        if old != level and WIRING.on_edge is not None:
            WIRING.on_edge(self.n, level)
        h = self.irq_handler
        if h and old != level:
            edge = Pin.IRQ_FALLING if level == 0 else Pin.IRQ_RISING
            if self.irq_trigger & edge:
                h(Pin(self.n))

    def watch(self, fn):
        self.watchers.append(fn)

    def _set_output(self, level):
        level = 1 if level else 0
        if level != self.level:
            self.level = level
            for fn in self.watchers:
                fn(level)
        else:
            self.level = level


class _Wiring:
    def __init__(self):
        self.reset()

    def reset(self):
        self.pins = {}
        self.uarts = {}  # (tx, rx) -> peer
        self.adc_source = {}
        self.sleep = None
        self.reset_cause = PWRON_RESET
        self.rtc_memory = b""
        self.wdt = None
        self.resets = 0
        self.on_edge = None  # fn(pin, level) on every externally driven edge (wake sources)
        self.schedule = None  # fn(ms, callback) -> handle: the simulator's clock, for the WDT
        self.unschedule = None
        self.on_wdt = None  # the watchdog expired
        self.on_reset = None  # machine.reset() was called
        self.on_deepsleep = None  # machine.deepsleep() was called
        self.asleep = False  # the ESP32 is in light sleep: UART input is lost (hardware.md §4)
        self.i2c = {}  # (scl, sda) -> {addr: device}
        self.freq_hz = DEFAULT_HZ  # the CPU clock (the simulator sets it back at every boot)
        self.on_freq = None  # fn(hz): machine.freq set the clock

    def pin(self, n):
        st = self.pins.get(n)
        if st is None:
            st = self.pins[n] = _PinState(n)
        return st

    def attach_uart(self, tx, rx, peer):
        self.uarts[(tx, rx)] = peer


WIRING = _Wiring()


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1
    IRQ_FALLING = 2
    IRQ_RISING = 1
    IRQ_LOW_LEVEL = 4
    IRQ_HIGH_LEVEL = 5

    def __init__(self, n, mode=-1, pull=-1, value=None, hold=None):
        if not isinstance(n, int) or n < 0 or n > 48:
            raise ValueError("invalid pin")
        self._s = WIRING.pin(n)
        self.init(mode, pull, value, hold)

    def init(self, mode=-1, pull=-1, value=None, hold=None):
        if mode != -1:
            if mode == Pin.OUT and 34 <= self._s.n <= 39:
                raise ValueError("pin can only be input")  # ESP32 GPIO34-39 (hardware.md §5.1)
            self._s.mode = mode
        if value is not None:
            self._s._set_output(value)
        if hold is not None:
            self._s.hold = hold

    def value(self, v=None):
        if v is None:
            return self._s.level
        if self._s.mode != Pin.OUT and self._s.mode != Pin.OPEN_DRAIN:
            raise OSError("pin %d is not an output" % self._s.n)
        self._s._set_output(v)

    def __call__(self, v=None):
        return self.value(v)

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3, priority=1, wake=None, hard=False):
        if hard:
            raise ValueError("ESP32 pin IRQs in this firmware are soft")
        self._s.irq_handler = handler
        self._s.irq_trigger = trigger

    @property
    def id(self):
        return self._s.n

    def __repr__(self):
        return "Pin(%d)" % self._s.n


class UART:
    def __init__(self, id, baudrate=115200, bits=8, parity=None, stop=1, tx=None, rx=None,
                 txbuf=256, rxbuf=256, timeout=0, timeout_char=0, **kw):
        tx = tx.id if isinstance(tx, Pin) else tx
        rx = rx.id if isinstance(rx, Pin) else rx
        peer = WIRING.uarts.get((tx, rx))
        if peer is None:
            raise OSError("nothing wired to UART tx=%s rx=%s" % (tx, rx))
        self.id = id
        self.baudrate = baudrate
        self._peer = peer
        self._rx = bytearray()
        self.rx_overflow = 0
        self.lost_in_sleep = 0
        self.rxbuf = max(rxbuf, 256)
        self.max_rx = 0
        self.bytes_in = 0
        self.bytes_out = 0
        if hasattr(peer, "on_uart"):
            peer.on_uart(self)

    # ---- the ESP32 side ----
    def any(self):
        return len(self._rx)

    def read(self, n=-1):
        if not self._rx:
            return None
        if n is None or n < 0 or n >= len(self._rx):
            data = bytes(self._rx)
            self._rx = bytearray()
        else:
            data = bytes(self._rx[:n])
            self._rx = self._rx[n:]
        return data

    def readinto(self, buf, n=-1):
        data = self.read(len(buf) if n < 0 else min(n, len(buf)))
        if data is None:
            return None
        buf[: len(data)] = data
        return len(data)

    def readline(self):
        i = self._rx.find(b"\n")
        if i < 0:
            return self.read() if self._rx else None
        return self.read(i + 1)

    def write(self, data):
        data = bytes(data)
        self.bytes_out += len(data)
        self._peer.on_host_write(data)
        return len(data)

    def flush(self):
        pass

    def txdone(self):
        return True

    def deinit(self):
        pass

    # ---- the peer side ----
    def feed(self, data):
        """Bytes arrive from the peer. The simulated driver buffer is large (like setting
        rxbuf on the board); overflow beyond 64 KiB is counted and dropped like a real FIFO."""
        if WIRING.asleep:
            # ESP32 light sleep stops the UART: what arrives meanwhile is gone (hardware.md §4)
            self.lost_in_sleep += len(data)
            return
        room = 65536 - len(self._rx)
        if len(data) > room:
            self.rx_overflow += len(data) - room
            data = data[:room]
        self._rx += data
        self.bytes_in += len(data)
        if len(self._rx) > self.max_rx:
            self.max_rx = len(self._rx)


class I2C:
    """Hardware I2C, the memory-access subset the drivers use (readfrom_mem, writeto_mem, scan)."""

    def __init__(self, id, scl=None, sda=None, freq=400000, timeout=50000):
        self._bus = (scl.id if isinstance(scl, Pin) else scl, sda.id if isinstance(sda, Pin) else sda)

    def _dev(self, addr):
        d = WIRING.i2c.get(self._bus, {}).get(addr)
        if d is None:
            raise OSError(19)  # ENODEV: nobody acknowledged the address
        return d

    def scan(self):
        return sorted(WIRING.i2c.get(self._bus, {}))

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        return bytes(self._dev(addr).read(reg, n))

    def writeto_mem(self, addr, reg, data, addrsize=8):
        self._dev(addr).write(reg, bytes(data))


class ADC:
    ATTN_0DB = 0
    ATTN_2_5DB = 1
    ATTN_6DB = 2
    ATTN_11DB = 3
    WIDTH_12BIT = 12

    def __init__(self, pin, atten=3):
        self._n = pin.id if isinstance(pin, Pin) else pin
        if self._n not in WIRING.adc_source:
            raise OSError("no signal wired to ADC pin %s" % self._n)

    def read_uv(self):
        return int(WIRING.adc_source[self._n]())

    def read_u16(self):
        # 11 dB attenuation spans ~0..2450 mV (hardware.md §4)
        return max(0, min(65535, self.read_uv() * 65535 // 2450000))

    def atten(self, a):
        pass


class RTC:
    def __init__(self):
        self._dt = (2000, 1, 1, 5, 0, 0, 0, 0)

    def datetime(self, dt=None):
        if dt is None:
            return self._dt
        self._dt = tuple(dt)

    def memory(self, data=None):
        if data is None:
            return WIRING.rtc_memory
        if len(data) > 2048:
            raise ValueError("RTC memory holds at most 2048 bytes")  # hardware.md §4
        WIRING.rtc_memory = bytes(data)


class WDT:
    """Expires like the ESP32's: timeout ms after the last feed WIRING.on_wdt() is called (the
    simulator resets the ESP32 then). WIRING.schedule(ms, fn) -> handle / WIRING.unschedule."""

    def __init__(self, id=0, timeout=5000):
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        self.timeout = timeout
        self.fed = 0
        self._ev = None
        WIRING.wdt = self
        self._arm()

    def _arm(self):
        if WIRING.schedule is None:
            return
        if self._ev is not None:
            WIRING.unschedule(self._ev)
        self._ev = WIRING.schedule(self.timeout, self._expired)

    def _expired(self):
        self._ev = None
        if WIRING.wdt is self and WIRING.on_wdt is not None:
            WIRING.on_wdt()

    def stop(self):
        """Not on the ESP32 (a WDT cannot be stopped): the simulator's reset uses it."""
        if self._ev is not None:
            WIRING.unschedule(self._ev)
            self._ev = None
        if WIRING.wdt is self:
            WIRING.wdt = None

    def feed(self):
        self.fed += 1
        self._arm()


def lightsleep(ms=None):
    if WIRING.sleep is None:
        raise OSError("lightsleep: no simulator clock wired")
    WIRING.sleep(-1 if ms is None else ms)


def deepsleep(ms=None):
    """The simulator switches the ESP32 off until a wake pin (WIRING.on_deepsleep)."""
    if WIRING.on_deepsleep is None:
        raise NotImplementedError("deep sleep: no simulator wired")
    WIRING.on_deepsleep(ms)


def reset_cause():
    return WIRING.reset_cause


def reset():
    """The simulator restarts the ESP32 (WIRING.on_reset); the calling task is cancelled then."""
    WIRING.resets += 1
    if WIRING.on_reset is None:
        raise SystemExit("machine.reset()")
    WIRING.on_reset()


def soft_reset():
    reset()


def unique_id():
    return b"\x24\x6f\x28\x00\x00\x01"


def freq(hz=None):
    """The CPU clock in Hz, or set it (the ESP32 port takes 20, 40, 80, 160 or 240 MHz)."""
    if hz is None:
        return WIRING.freq_hz
    if hz not in _CLOCKS:
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    WIRING.freq_hz = hz
    if WIRING.on_freq is not None:
        WIRING.on_freq(hz)


def idle():
    pass
