"""LilyGO T-SIM7000G, ESP32-WROVER-E + SIMCom SIM7000G (LTE Cat-M / NB-IoT, GNSS, no voice).

Pin numbers are data (hardware.md §5.1, LGA-util; LilyGO's sim7000-esp32 README); build() is
the only code that constructs machine.* objects for this board. Differences from the T-A7670
that the firmware feels (docs/sim7000.md):
* the modem's UART pins are the T-A7670's the other way round (RX 26, TX 27): the other
  board's module hears nothing on this board, and the driver's power-on error says which
  module to flash;
* no RI line to the ESP32: the modem cannot wake it. The ESP32 therefore polls: its light
  sleep is bounded by POLL_MS, and the driver (firmware/drivers/sim7000.py, run()) asks the
  modem for stored SMS and socket data at least that often, and with every burst of commands
  the reports make anyway. A guardian's SMS or server command waits up to POLL_MS here (on the
  T-A7670, RI wakes the ESP32 at once);
* GPIO12 is a LED that lights when LOW: driven HIGH (off) from the start (it would draw
  current all day); there is no BOARD_POWERON pin;
* the GNSS antenna is powered by the modem's own GPIO48 (AT+CGPIO=0,48,1,1), which the driver
  switches with the receiver.
"""
from firmware.compat import const

from boards import lilygo_t_a7670 as _a7670

NAME = "lilygo_t_sim7000g"
MODEM_UART = const(1)
MODEM_BAUD = const(115200)  # what LilyGO drives the SIM7000 at; the driver fixes it (AT+IPR)
PINS = {
    "modem_tx": 27,  # ESP32 TX -> modem RXD
    "modem_rx": 26,  # ESP32 RX <- modem TXD
    "pwrkey": 4,  # through an NPN: GPIO high = PWRKEY asserted (hardware.md §5.2)
    "dtr": 25,  # low keeps the modem awake; high lets it sleep after AT+CSCLK=1
    "led": 12,  # the board's LED, on when LOW: kept HIGH (off)
    "battery_adc": 35,  # x2 divider, ADC1 (LilyGO readBattery: v / 4095 * 2 * 3.3)
    # The SOS button: the board's BOOT button (GPIO0, pulled up, low when pressed), an RTC pin
    # for the ext1 wake, as on the T-A7670. A watch case wires its side button here.
    "sos_button": 0,
    # Vibration motor / buzzer through a transistor, high = on (ASSUMED: GPIO32 is free on the
    # T-SIM7000G, not in LilyGO's pin map; the dev board has neither).
    "vibration": 32,
    "i2c_sda": 21,  # I2C (hardware.md §5.1: 21/22): a step counter where the watch has one
    "i2c_scl": 22,
}
GNSS_ANTENNA_GPIO = const(48)  # the modem's GPIO that feeds the GNSS antenna (hardware.md §5.1)
# Without RI the ESP32 light-sleeps at most this long at a time, and the driver asks the modem
# for its state at least this often: a look that finds the modem asleep wakes it for ~15 s
# (~150 mAs, host_sim/energy.py), so once per default report interval, which the reports'
# own wakes mostly serve already (docs/sim7000.md has the cost of shorter ones).
POLL_MS = const(300000)


class Board(_a7670.Board):
    """The T-A7670's Board (wake sources, sleep rule, reset, watchdog) with this board's name
    and a bounded light sleep; its modem has no `ri`, so only the button is armed to wake."""

    name = NAME

    def light_sleep(self, dt_ms):
        """Light-sleep until dt_ms, the button, or at most POLL_MS (-1: no deadline): nothing
        else wakes this board (no RI)."""
        if dt_ms < 0 or dt_ms > POLL_MS:
            dt_ms = POLL_MS
        _a7670.Board.light_sleep(self, dt_ms)


def build(machine=None):
    if machine is None:
        import machine
    Pin = machine.Pin
    led = Pin(PINS["led"], Pin.OUT, value=1)  # LOW lights it
    pwrkey = Pin(PINS["pwrkey"], Pin.OUT, value=0)
    dtr = Pin(PINS["dtr"], Pin.OUT, value=0)
    uart, adc, sos, vib, esp32, wlan = _a7670.esp32_io(machine, PINS)
    from firmware.button import Button
    from firmware.drivers.battery import Battery
    from firmware.drivers.sim7000 import Sim7000

    modem = Sim7000(uart, pwrkey, dtr, None, pwrkey_active_high=True, gnss_gpio=GNSS_ANTENNA_GPIO,
                    poll_every_ms=POLL_MS)
    board = Board(machine, modem, Battery(adc), {"led": led}, Button(sos), vib, esp32, wlan)
    board.steps = _a7670.step_counter(machine, PINS)
    board._arm_wakes()  # the button wakes light sleep (ext1); no RI to arm
    return board
