"""Fake `esp32` module: the wake-source calls the board makes (hardware.md §4)."""
WAKEUP_ALL_LOW = False
WAKEUP_ANY_HIGH = True

wake_ext0 = None  # (pin, level) after wake_on_ext0


def wake_on_ext0(pin, level):
    global wake_ext0
    n = pin.id if hasattr(pin, "id") else pin
    if n not in (0, 2, 4, 12, 13, 14, 15, 25, 26, 27, 32, 33, 34, 35, 36, 37, 38, 39):
        raise ValueError("invalid pin for wake (not an RTC pin)")
    wake_ext0 = (n, level)


def gpio_deep_sleep_hold(enable):
    pass
