"""Fake `esp32` module: the wake-source calls the board makes (hardware.md §4).

The simulator reads wake_ext0 / wake_ext1 when the ESP32 light-sleeps: both are level
wake-ups, so a level that already holds when the sleep starts ends it at once (the runner
counts such spins)."""
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True

_RTC_PINS = (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39)

wake_ext0 = None  # (pin, level) after wake_on_ext0
wake_ext1 = None  # (pins tuple, level) after wake_on_ext1, None when disabled


def _n(pin):
    n = pin.id() if hasattr(pin, "id") and callable(pin.id) else (pin.id if hasattr(pin, "id") else pin)
    if n not in _RTC_PINS:
        raise ValueError("invalid pin for wake (not an RTC pin)")
    return n


def wake_on_ext0(pin, level):
    global wake_ext0
    wake_ext0 = None if pin is None else (_n(pin), level)


def wake_on_ext1(pins, level):
    global wake_ext1
    wake_ext1 = None if not pins else (tuple(_n(p) for p in pins), level)


def gpio_deep_sleep_hold(enable):
    pass
