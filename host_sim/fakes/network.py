"""Fake `network` module: WLAN in station mode with scan() (hardware.md §4 tuple format).

Wired by the simulator (host_sim/runner.py):
  WIRING_SCAN = fn() -> list of (ssid bytes, bssid bytes(6), channel, rssi, security, hidden)
                (World.wifi_at: what the radio hears at the virtual time it is called)
  METER       the EnergyMeter: the radio's part "wifi" goes "off" / "on" / "scan"
  SCANS       scans done since the simulator set it to 0 (the summary's wifi_scans)
power_off() is the ESP32 losing power or resetting: the radio is off again.

scan() blocks like the real one (MicroPython's network_wlan_scan waits for the IDF's scan):
virtual time moves on by SCAN_MS while the firmware's asyncio does not run; the world's own
events (the modem's bytes into the UART buffer, the watchdog) still happen meanwhile.
"""
STA_IF = 0
AP_IF = 1
WIRING_SCAN = None
METER = None
SCANS = 0
# Active scan over 13 channels at the IDF default of up to 120 ms each: 1.56 s (hardware.md
# §3.1: MicroPython's scan uses the default timings; DERIVED, the harsh end of "<= 1.6 s").
SCAN_MS = 13 * 120
# ASSUMED: esp_wifi_start() on active(True) takes ~0.15 s at RX current (hardware.md §3.1
# counts a "Wi-Fi start-up" without a figure).
START_MS = 150

_active = {}  # interface -> on: one radio, one WLAN per interface (a singleton on the ESP32)


def _meter():
    if METER is not None:
        METER.set("wifi", "on" if any(_active.values()) else "off")


def _block(ms):
    """Virtual time moves on by ms; only the world's events run (not the firmware's tasks)."""
    from host_sim.vtime import VT

    end = VT.ms + ms
    while VT.ms < end:
        VT.idle(end - VT.ms)


def power_off():
    """The ESP32 lost power or reset: every interface is inactive (the simulator calls this)."""
    _active.clear()
    _meter()


class WLAN:
    IF_STA = 0
    IF_AP = 1

    def __init__(self, interface=0):
        self._if = interface

    def active(self, on=None):
        if on is None:
            return _active.get(self._if, False)
        was = any(_active.values())
        _active[self._if] = bool(on)
        _meter()
        if on and not was:
            _block(START_MS)  # the radio starts

    def scan(self):
        global SCANS
        if not _active.get(STA_IF, False):  # the radio's mode, whichever object asks
            raise OSError("STA must be active")
        SCANS += 1
        if METER is not None:
            METER.set("wifi", "scan")
        try:
            _block(SCAN_MS)
        finally:
            _meter()
        return list(WIRING_SCAN()) if WIRING_SCAN else []
