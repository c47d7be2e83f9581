"""Energy meter: integrates each component's current over virtual time.

Currents in microamps at 3.8 V, each with its source in ../shared/docs/reference/hardware.md.
Where the datasheet gives no figure the row says ASSUMED and why; replace with measurements.
"""

CURRENT_UA = {
    # ESP32 (hardware.md §3.1)
    ("esp32", "off"): 0,  # battery out (a power cut in a scenario)
    ("esp32", "sleep"): 800,  # forced light sleep, radio off: 0.8 mA (WROOM)
    ("esp32", "active"): 20000,  # modem-sleep, CPU on at max speed: 20 mA (WROOM)
    # Board quiescent: T-A7670 with modem off and ESP32 asleep ~157 uA (§3.1, LGA DeepSleep.ino)
    # That figure already includes the powered-off modem and the ESP32 in deep sleep, so those
    # states add nothing here (counting them again would be double).
    ("board", "on"): 157,
    ("board", "off"): 0,
    # A7670 (hardware.md §3.2, A7670-HD)
    ("modem", "off"): 0,  # <= 20 uA (A7670-HD), inside the board figure above
    ("modem", "boot"): 23000,  # ASSUMED: as idle (registered, no sleep) while it boots
    ("modem", "idle"): 23000,  # idle, registered, not sleeping: 23 mA
    ("modem", "sleep"): 2000,  # DTR/CSCLK sleep, LTE DRX 0.32 s: 2 mA
    # ASSUMED: average while sending/receiving and in the RRC-connected tail: LTE TX peaks at
    # 520-620 mA at 23 dBm (A7670-HD) but a watch near a cell transmits far below that.
    ("modem", "active"): 150000,
    # A call in progress: A7670-HD gives a voice-call current for GSM only (EGSM900 PCL5 320 mA,
    # DCS1800 PCL0 262 mA, hardware.md §3.2) and none for VoLTE; the higher GSM figure stands in
    # (ASSUMED: harsher than the 150 mA above, since speech keeps the transmitter busy for minutes).
    ("modem", "call"): 320000,
    # GNSS: the A76xx internal GNSS current is not published (§3.3 UNVERIFIED); the L76K figure
    # (41 mA acquisition and tracking) stands in for it.
    ("gnss", "on"): 41000,
    ("gnss", "off"): 0,
    # Wi-Fi radio (hardware.md §3.1, WROOM "Wi-Fi/BT RX & listening" 80-90 mA: the harsh end).
    # That is the module's current with its CPU running, and the CPU's 20 mA is the ESP32 row
    # above (awake during a scan: MicroPython's scan() blocks), so the radio adds 70 mA: 90 mA in
    # all. A scan listens on each channel in turn; "on" is the STA started but not scanning,
    # ASSUMED the same (the IDF keeps the receiver on while STA is active and not connected),
    # also while the ESP32 light-sleeps with the radio on (harsher than a real light sleep,
    # which powers RF down).
    ("wifi", "off"): 0,
    ("wifi", "on"): 70000,
    ("wifi", "scan"): 70000,
}

BATTERY_MAH = 600  # a kids' watch cell, >= 600 mAh recommended (hardware.md §3.4)


class EnergyMeter:
    def __init__(self, vt):
        self._vt = vt
        self._state = {"esp32": "active", "board": "on", "modem": "off", "gnss": "off",
                       "wifi": "off"}
        self._since = 0
        self.uas = {}  # component -> microamp-milliseconds
        self.ms_in = {}  # (component, state) -> milliseconds spent in it

    def _flush(self):
        now = self._vt.ms
        dt = now - self._since
        if dt > 0:
            for comp, st in self._state.items():
                self.uas[comp] = self.uas.get(comp, 0) + CURRENT_UA[(comp, st)] * dt
                self.ms_in[(comp, st)] = self.ms_in.get((comp, st), 0) + dt
        self._since = now

    def set(self, comp, state):
        if (comp, state) not in CURRENT_UA:
            raise ValueError("no current for %s/%s" % (comp, state))
        if self._state.get(comp) != state:
            self._flush()
            self._state[comp] = state

    def state(self, comp):
        return self._state[comp]

    def used_uah(self):
        """Microamp-hours drawn so far."""
        self._flush()
        return sum(self.uas.values()) // 3600000

    def average_ua_of(self, comp):
        """One component's share of the average current."""
        self._flush()
        ms = self._vt.ms
        return self.uas.get(comp, 0) // ms if ms else 0

    def seconds_in(self, comp, state):
        """Whole seconds spent by a component in a state so far."""
        self._flush()
        return self.ms_in.get((comp, state), 0) // 1000

    def average_ua(self):
        self._flush()
        ms = self._vt.ms
        return sum(self.uas.values()) // ms if ms else 0

    def battery_mv(self):
        """Cell voltage for the fake ADC: linear from 4.15 V full to 3.45 V at empty (a
        stand-in for a discharge curve; the gauge's own curve turns it into percent)."""
        left = BATTERY_MAH * 1000 - self.used_uah()
        if left < 0:
            left = 0
        return 3450 + 700 * left // (BATTERY_MAH * 1000)
