"""LilyGO T-A7670 (E/G/SA), ESP32-WROVER-E + SIMCom A7670.

Pin numbers are data (hardware.md §5.1, LGA-util); build() is the only code in the project that
constructs machine.* objects for this board.
"""
from firmware.compat import const

NAME = "lilygo_t_a7670"
MODEM_UART = const(1)
MODEM_BAUD = const(115200)  # A76xx default (hardware.md §1.0)
PINS = {
    "modem_tx": 26,  # ESP32 TX -> modem RXD
    "modem_rx": 27,  # ESP32 RX <- modem TXD
    "pwrkey": 4,  # through an NPN: GPIO high = PWRKEY asserted (hardware.md §5.2)
    "dtr": 25,  # low keeps the modem awake; high lets it sleep after AT+CSCLK=1
    "ri": 33,  # modem ring indicator, an RTC pin: wakes the ESP32 from light sleep
    "modem_reset": 5,  # active high; keep low
    "power_on": 12,  # BOARD_POWERON: must go high right after boot on battery (V1.2)
    "battery_adc": 35,  # x2 divider, ADC1 (usable with Wi-Fi on)
    # The SOS button: the board's BOOT button (GPIO0, pulled up, low when pressed), an RTC pin,
    # so it can wake light sleep (ext1). A watch case wires its side button here.
    "sos_button": 0,
    # Vibration motor / buzzer through a transistor, high = on (ASSUMED: GPIO32 is free on the
    # T-A7670; the dev board has neither, so this is where the watch's motor goes).
    "vibration": 32,
    # I2C on the header (hardware.md §5.1: 21/22 free): a step counter, where the watch has one
    # (an LSM6DSL, firmware/drivers/lsm6dsl.py; the dev board has none, so build() probes)
    "i2c_sda": 21,
    "i2c_scl": 22,
}
# Below this idle time a light sleep costs more than it saves (wake-up takes ~1 ms and the
# UART must be up while a command is in flight: ESP32 light sleep drops UART input, §4).
_MIN_SLEEP_MS = const(20)
# machine.reset_cause() values on the ESP32 port (hardware.md §4)
_CAUSES = {1: "power-on", 2: "hard", 3: "watchdog", 4: "deep-sleep", 5: "soft"}


class Board:
    name = NAME

    def __init__(self, machine, modem, battery, pins, button=None, vibration=None, esp32=None,
                 wlan=None):
        self._machine = machine
        self._esp32 = esp32
        self.wlan = wlan  # network.WLAN(STA_IF), kept off until a scan; None on a port without it
        self.modem = modem
        self.battery = battery
        self.pins = pins
        self.button = button
        self._vib = vibration
        # fn() -> True while something must keep the ESP32 awake: the diagnostic console after a
        # byte (light sleep drops USB serial input: MicroPython has no UART wake, §4)
        self.keep_awake = None
        self.steps = None  # the step counter (firmware/drivers/lsm6dsl.py), None: none found
        self._ri_armed = None  # the wake levels armed last (re-armed only when they change)
        self._held_armed = None

    def ringer(self, on):
        """The vibration/buzzer output (an incoming call from a contact, SOS feedback)."""
        if self._vib is not None:
            self._vib.value(1 if on else 0)

    def _arm_wakes(self):
        """Wake sources for the next light sleep. RI wakes on a low level (ext0 is level-
        triggered): while a call rings the modem holds RI low 5.9 s of every 6 (hardware.md
        §1.9), and a low-level wake would end every sleep at once, so while RI is low the
        ESP32 wakes when it goes high instead. The button wakes on low (ext1) unless held."""
        e = self._esp32
        if e is None:
            return
        ri = self.modem.ri
        if ri is not None:
            low = ri.value() == 0
            if low != self._ri_armed:
                e.wake_on_ext0(ri, e.WAKEUP_ANY_HIGH if low else e.WAKEUP_ALL_LOW)
                self._ri_armed = low
        b = self.button
        if b is not None:
            held = b.pressed()
            if held != self._held_armed:
                e.wake_on_ext1((b.pin,) if not held else None, e.WAKEUP_ALL_LOW)
                self._held_armed = held

    def sleep_ok(self, dt_ms):
        """May the ESP32 light-sleep for dt_ms now? Not while an AT command is in flight or a
        result URC is awaited, nor during a call (a key the far end presses comes as a URC):
        light sleep stops the UART and the bytes would be lost (§4). Nor while keep_awake()
        says so (someone is typing at the console)."""
        m = self.modem
        at = m.at
        k = self.keep_awake
        return (dt_ms < 0 or dt_ms >= _MIN_SLEEP_MS) and not at.busy and not at.expecting and \
            not m.in_call and (k is None or not k())

    def reset_cause(self):
        """Why the ESP32 started: a watchdog reset in the log means the firmware got stuck."""
        return _CAUSES.get(self._machine.reset_cause(), "unknown")

    def reset(self):
        """Restart the ESP32 (a guardian's RESET); the modem keeps its power."""
        self._machine.reset()

    def power_off(self):
        """As off as the watch gets: deep sleep with only the SOS button (ext1, low) to wake
        it, so a watch switched off from afar still starts (and can call) when the child
        holds the button. The modem was powered down before (AT+CPOF)."""
        if self._esp32 is not None and self.button is not None:
            self._esp32.wake_on_ext0(None, self._esp32.WAKEUP_ALL_LOW)
            self._esp32.wake_on_ext1((self.button.pin,), self._esp32.WAKEUP_ALL_LOW)
        self.ringer(False)
        if self.steps is not None:
            try:
                self.steps.off()  # ~15 uA the switched-off watch need not spend
            except OSError:
                pass
        self._machine.deepsleep()

    def watchdog(self, timeout_ms):
        """Start the hardware watchdog (it cannot be stopped again: hardware.md §4, WDT)."""
        return self._machine.WDT(0, timeout_ms)

    def light_sleep(self, dt_ms):
        """Light-sleep until dt_ms (-1: no deadline) or a wake pin (the simulator calls this
        too, so it runs exactly what the board runs)."""
        self._arm_wakes()
        self.modem.sleeps += 1  # UART input is lost while it sleeps: the driver asks again
        self._machine.lightsleep(dt_ms if dt_ms >= 0 else 3600000)

    def idle(self, dt_ms):
        """The scheduler's idle hook on the board (firmware/idle.py): light-sleep when it may
        (True), else False and asyncio's own poll waits, awake, for dt_ms or a flag."""
        if dt_ms != 0 and self.sleep_ok(dt_ms):
            self.light_sleep(dt_ms)
            return True
        return False


# The CPU at 80 MHz, not MicroPython's 160: awake, the ESP32 draws 20-31 mA instead of 27-44 mA
# (ESP32 datasheet v5.2 table 4-2, hardware.md §3.2 list), and the firmware is awake mostly
# waiting on the modem's UART and on Wi-Fi scans, which take as long at either clock. 80 MHz
# keeps the 80 MHz APB clock the UART's baud and the Wi-Fi radio run from; it is the lowest
# clock Wi-Fi works at. What is CPU-bound (the interpreter's work at each wake) takes twice as
# long: the simulator charges it so (host_sim/energy.py wake_uams).
CPU_HZ = 80000000


def esp32_io(machine, pins):
    """What every ESP32 board of ours builds alike: the CPU clock (CPU_HZ), the modem UART, the
    battery ADC (x2 divider), the SOS button (pulled up), the vibration output (off) and the
    Wi-Fi radio (off: 80-90 mA while on, hardware.md §3.1). Returns (uart, adc, sos, vib, esp32,
    wlan); esp32 and wlan are None on a port without them."""
    try:
        machine.freq(CPU_HZ)
    except (AttributeError, ValueError):
        pass  # a port without it runs at its own clock
    Pin = machine.Pin
    uart = machine.UART(MODEM_UART, MODEM_BAUD, tx=pins["modem_tx"], rx=pins["modem_rx"],
                        rxbuf=2048, timeout=0)
    adc = machine.ADC(Pin(pins["battery_adc"]), atten=machine.ADC.ATTN_11DB)
    sos = Pin(pins["sos_button"], Pin.IN, Pin.PULL_UP)
    vib = Pin(pins["vibration"], Pin.OUT, value=0)
    try:
        import esp32
    except ImportError:
        esp32 = None
    try:
        import network
    except ImportError:
        network = None
    wlan = None
    if network is not None:
        wlan = network.WLAN(network.STA_IF)
        wlan.active(False)
    return uart, adc, sos, vib, esp32, wlan


def step_counter(machine, pins):
    """The accelerometer's pedometer on the board's I2C (an LSM6DSL set up and counting), or
    None when none answers: a board without one is an ordinary board."""
    from firmware.drivers import lsm6dsl

    Pin = machine.Pin
    try:
        i2c = machine.I2C(0, scl=Pin(pins["i2c_scl"]), sda=Pin(pins["i2c_sda"]), freq=400000)
    except (OSError, ValueError):
        return None
    return lsm6dsl.probe(i2c)


def build(machine=None):
    if machine is None:
        import machine
    Pin = machine.Pin
    power = Pin(PINS["power_on"], Pin.OUT, value=1)
    reset = Pin(PINS["modem_reset"], Pin.OUT, value=0)
    pwrkey = Pin(PINS["pwrkey"], Pin.OUT, value=0)
    dtr = Pin(PINS["dtr"], Pin.OUT, value=0)
    ri = Pin(PINS["ri"], Pin.IN)
    uart, adc, sos, vib, esp32, wlan = esp32_io(machine, PINS)
    from firmware.button import Button
    from firmware.drivers.a76xx import A76xx
    from firmware.drivers.battery import Battery

    modem = A76xx(uart, pwrkey, dtr, ri, pwrkey_active_high=True)
    board = Board(machine, modem, Battery(adc), {"power_on": power, "modem_reset": reset},
                  Button(sos), vib, esp32, wlan)
    board.steps = step_counter(machine, PINS)
    board._arm_wakes()  # RI low wakes light sleep (§4), the button too
    return board
