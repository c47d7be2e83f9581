"""Fake `network` module: WLAN in station mode with scan() (hardware.md §4 tuple format).

WIRING_SCAN is set by the simulator: fn() -> list of (ssid bytes, bssid bytes(6), channel,
rssi, security, hidden). Positioning by Wi-Fi arrives in a later issue; the board only
switches the radio off here.
"""
STA_IF = 0
AP_IF = 1
WIRING_SCAN = None


class WLAN:
    IF_STA = 0
    IF_AP = 1

    def __init__(self, interface=0):
        self._active = False

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)

    def scan(self):
        if not self._active:
            raise OSError("STA must be active")
        return list(WIRING_SCAN()) if WIRING_SCAN else []
