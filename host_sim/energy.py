"""Energy meter: integrates each part's current over virtual time, at three ends at once.

Every current is a (low, central, high) triple in microamps drawn from the battery, each row
citing ../shared/docs/reference/hardware.md (the section; "§3.2 list" is the list "Measured and
published figures found after the first energy model" at the end of §3.2) and saying whether the
figure is MEASURED (someone put a meter on the part or the board), PUBLISHED (a datasheet or an
application note) or ASSUMED (no figure: why this one). Where a figure is unknown both ends of
its range are modelled: "high" is the harsh end, "low" the kind one, "central" our best
estimate. The simulation has one timeline: the states (awake, asleep, tail ...) are the same at
all three ends, only the currents differ (the emulator's timing choices are in
host_sim/modem_a76xx.py). docs/energy.md has the table, the battery curve and the brown-out.

Parts: "esp32" (the chip, at its 160 MHz clock), "wifi" (its radio, on top of the chip's own
row), "modem" (the A7670's cellular side), "gnss" (its receiver), "led" (the modem's STATUS
LED), "board" (everything else: regulators, charger, divider), "accel" (a step counter on I2C,
where the scenario's device has one).

Boards: CURRENT_UA is the T-A7670's (its rows keyed ("modem", "sleep") etc. are the A7670's).
Another board's parts are a profile: PROFILES[name] holds the rows that differ, each cited the
same way, and EnergyMeter(profile=name) / rows(name) lay them over CURRENT_UA (the ESP32 and its
Wi-Fi are the same chip on every LilyGO board here). "sim7000": the LilyGO T-SIM7000G
(docs/sim7000.md; its emulator is host_sim/modem_sim7000.py).

The supply path: the T-A7670 (and the T-SIM7000G) feed the modem and the ESP32's regulator from
a boost converter on battery, so the cell gives more than a part's own figure: rows() multiplies
every row by SUPPLY_PERMILLE (1.15 / 1.25 / 1.56) or, for the ends measured at the board's
battery, by a factor of their own (AT_CELL). CURRENT_UA keeps the parts' own figures, as
their sources give them.
"""

CURRENT_UA = {
    # ---- ESP32 (hardware.md §3.1, §3.2 list) ----
    ("esp32", "off"): (0, 0, 0),  # battery out (a power cut, a dead cell)
    # Deep sleep with RTC memory: 10 uA PUBLISHED (ESP32 datasheet v5.2, §3.2 list); the IDF
    # MEASURED 5 uA average (§3.1) is the kind end. Part of the board's 157 uA (see "board").
    ("esp32", "deep"): (5, 10, 10),
    # Forced light sleep, radio off: 0.8 mA PUBLISHED (WROOM §3.1; datasheet v5.2, §3.2 list); no
    # range found, so all three ends are the one figure.
    ("esp32", "sleep"): (800, 800, 800),
    # Awake (modem-sleep: CPU on, radio off) at 160 MHz, MicroPython's clock on the ESP32 (every
    # boot runs at it until the board sets CPU_HZ, 80 MHz: the row below): 27-44 mA PUBLISHED
    # (ESP32 datasheet v5.2 table 4-2, §3.2 list; the spread is the CPU's load).
    # Central ASSUMED the middle: the firmware mostly waits on the UART while awake.
    ("esp32", "active"): (27000, 35000, 44000),
    # Awake at 80 MHz, the lowest clock the Wi-Fi radio allows, where the boards run the
    # firmware (machine.freq in boards/lilygo_t_a7670.py): 20-31 mA PUBLISHED, the same table's
    # 80 MHz row (§3.2 list's datasheet; the table is also reproduced by Deneyap's ESP32 page);
    # central the middle as above. The meter uses it while the fake machine's clock is 80 MHz
    # (EnergyMeter.set_clock): "active" is the state, the row follows the clock.
    ("esp32", "active80"): (20000, 25500, 31000),
    # ---- Wi-Fi radio, on top of the ESP32's row (hardware.md §3.1) ----
    # WROOM "Wi-Fi/BT RX & listening" 80-90 mA PUBLISHED is the module with its CPU running; less
    # the CPU's own 20 mA (WROOM "max speed") leaves 60-70 mA for the radio. Central the harsh 70
    # mA (as before); with the ESP32 row above (27-44 mA, awake during a scan: MicroPython's scan
    # blocks) the total is 87-114 mA, harsher than the WROOM's 80-90. "on" (STA started, not
    # scanning) ASSUMED the same: the IDF keeps the receiver on while STA is active and not
    # connected, also while the ESP32 light-sleeps with the radio on (harsher than a real light
    # sleep, which powers RF down).
    ("wifi", "off"): (0, 0, 0),
    ("wifi", "on"): (60000, 70000, 70000),
    ("wifi", "scan"): (60000, 70000, 70000),
    # ---- A7670 (hardware.md §3.2, A7670-HD; at VBAT 3.8 V) ----
    ("modem", "off"): (0, 0, 0),  # <= 20 uA PUBLISHED (A7670-HD), inside the board figure
    # Booting (PWRKEY to *ATREADY, then the cell search): ASSUMED at least awake-and-idle: low the
    # MEASURED idle low end (9 mA), central the PUBLISHED idle 23 mA, high 40 mA (a cell search
    # keeps the receiver on continuously: the connected-mode low end below).
    ("modem", "boot"): (9000, 23000, 40000),
    # Registered, awake, no traffic: 9-15 mA MEASURED on the T-A7670 board with the ESP32 in deep
    # sleep (LilyGo-Modem-Series #336, LilyGO: "that's about it"; §3.2 list) against 23 mA
    # PUBLISHED (A7670-HD table 40, §3.2). Central the top of the measured range.
    ("modem", "idle"): (9000, 15000, 23000),
    # DTR/CSCLK sleep, registered: 2 mA PUBLISHED at LTE DRX 0.32 s (A7670-HD table 40, §3.2),
    # the shortest LTE paging cycle, so the harsh end. Networks usually page every 1.28 s, waking
    # the modem a quarter as often: ASSUMED ~1 mA there (the kind end). Central 1.5 mA ASSUMED: a
    # floor like the SIM7000's LTE sleep (1.2 mA, §3.2) plus a quarter of the paging share gives
    # ~1.4 mA, rounded up because the operator's DRX is not known.
    ("modem", "sleep"): (1000, 1500, 2000),
    # RRC-connected tail after each transfer until the operator's inactivity timer (~10 s,
    # Huang et al. MobiSys 2012, §3.2 list; the emulator's TAIL_MS): receiver on, connected-mode
    # DRX, no data. No A7670 figure: ASSUMED 40-120 mA (above the 23 mA idle, since the receiver
    # listens to every scheduling opportunity; below the transfer's 150 mA), central 70 mA.
    ("modem", "tail"): (40000, 70000, 120000),
    # Sending/receiving (RRC set-up, the data and its acknowledgement): ASSUMED. LTE TX peaks at
    # 520-620 mA at 23 dBm (A7670-HD, §3.2) but a watch near a cell transmits far below that:
    # central 150 mA (as before); low 100 mA (SIM7000 Cat-M ~100-115 mA at 10 dBm, §3.2, for a
    # Cat-1 module whose receiver costs more); high 300 mA (a weak-signal watch indoors sending
    # near full power about half the time).
    ("modem", "active"): (100000, 150000, 300000),
    # A call in progress: A7670-HD gives a voice-call current for GSM only (EGSM900 PCL5 320 mA,
    # DCS1800 PCL0 262 mA PUBLISHED, §3.2) and none for VoLTE. Central the higher GSM figure (as
    # before); low 150 mA ASSUMED (VoLTE: connected mode with a voice frame every 20 ms, about the
    # transfer figure above); high 400 mA ASSUMED (VoLTE at a cell edge, the transmitter near
    # 23 dBm for part of every frame).
    ("modem", "call"): (150000, 320000, 400000),
    # ---- GNSS (hardware.md §3.3, §3.2 list) ----
    # The A76xx's own GNSS current is not published. Low 30 mA PUBLISHED (SIM7000 tracking,
    # S7000-HD); central 41 mA PUBLISHED (L76K acquisition and tracking, Seeed); high 56 mA
    # DERIVED from LilyGO's bench photo of a T-A7670X with GNSS on: 72 mA for the whole board
    # (LGA examples/Traccar/README.MD, §3.2 list) less the modem kept awake (15 mA, central idle:
    # it does not sleep while GNSS runs, the emulator's rule), the ESP32 light-sleeping (0.8 mA)
    # and the board (0.16 mA). SIM7070's 54 mA (§3.3) sits close to it.
    ("gnss", "off"): (0, 0, 0),
    ("gnss", "on"): (30000, 41000, 56000),
    # ---- The modem's STATUS LED (hardware.md §3.2 list) ----
    # T-A7670 V1.4 schematic: the A7670's STATUS pin (66) drives a red LED through 49.9 ohm to
    # ground, lit whenever the modem is on (LGA issue #280). STATUS is a 1.8 V output (A7670-HD
    # table 6 and pin table: 1.8 V DO, high once the module is on) rated 2 mA (DCS=1) or 4 mA
    # (DCS=0) high-level drive. Unmeasured: ASSUMED from a red LED's knee, ~1.75 V at 1 mA and
    # 1.8-2.0 V at higher currents: central (1.8 V - 1.75 V) / 49.9 ohm ~ 1 mA; low 0.2 mA (an LED
    # whose knee sits at the pin's 1.8 V); high 4 mA, the pin's rated drive (a low-Vf LED pulls
    # what the pin gives).
    ("led", "off"): (0, 0, 0),
    ("led", "on"): (200, 1000, 4000),
    # ---- Board (hardware.md §3.1) ----
    # The T-A7670 with the modem off and the ESP32 in deep sleep draws ~157 uA MEASURED (LGA
    # DeepSleep.ino header): DERIVED 147 uA for the board itself (regulators, charger, divider)
    # plus the ESP32's 10 uA deep sleep (its own row above), so a watch in deep sleep totals the
    # measured 157 uA. The powered-off modem's <= 20 uA is inside it too (its row is 0).
    ("board", "on"): (147, 147, 147),
    ("board", "off"): (0, 0, 0),
    # ---- A step counter (an LSM6DSL on I2C, where the watch has one; host_sim/accel.py) ----
    # Accelerometer alone, 26 Hz, low-power mode, its pedometer on (the gyroscope off).
    # ASSUMED range: the LSM6DSL datasheet's low-power accelerometer figures (single-digit uA at
    # 12.5 Hz, ~25 uA at 52 Hz, as recalled; 26 Hz falls between) for low and central; high
    # 40 uA, harsher. ST AN5040 gives 0.4 mA for accelerometer AND gyroscope in normal mode,
    # the envelope no setting of ours reaches. A user measured ~6 uA for a newer part's
    # pedometer (LIS2DUX, ST community): the kind side of the same idea.
    ("accel", "off"): (0, 0, 0),
    ("accel", "on"): (9, 15, 40),
}

# ---- Other boards: the rows that differ from the T-A7670's ----
# "S7000-HD" is SIMCom's SIM7000 Hardware Design V1.07 (hardware.md §0), table 34 "Current
# consumption on VBAT pins (VBAT=3.8V)" unless said; the states are the emulator's
# (host_sim/modem_sim7000.py: the A76xx emulator's, plus "antenna" for the GNSS antenna's supply).
PROFILES = {
    "sim7000": {
        ("modem", "off"): (0, 0, 0),  # <= 7 uA PUBLISHED (S7000-HD, §3.2), inside the board figure
        # Booting, or on and searching for a network: the receiver on. Low the LTE idle 11 mA
        # PUBLISHED; high 68 mA PUBLISHED, the receiver busy all the time (NB-IoT "DL mac
        # padding", 66-68 mA, table 34); central 30 mA ASSUMED (a Cat-M cell search listens
        # continuously but decodes little).
        ("modem", "boot"): (11000, 30000, 68000),
        # Registered, awake, no traffic: LTE idle 11 mA PUBLISHED (table 34, hardware.md §3.2) is
        # the low end and the central estimate; high 18 mA PUBLISHED for the SIM7070's Cat-M idle
        # (S7070-HD, §3.2), the same family's next chip, at the network's shorter paging.
        ("modem", "idle"): (11000, 11000, 18000),
        # DTR/CSCLK sleep, registered: LTE sleep 1.2 mA PUBLISHED "@DRX=2.56s" (S7000-HD table
        # 2), the longest paging cycle, so the kind end. Networks usually page every 1.28 s,
        # twice as often: central 1.7 mA ASSUMED, as the GSM sleep figure at a ~0.94 s paging
        # cycle (BS_PA_MFRMS=2, 1.7 mA PUBLISHED); high 2.5 mA ASSUMED for DRX 0.64 s.
        ("modem", "sleep"): (1200, 1700, 2500),
        # RRC-connected tail after each transfer (~10 s, hardware.md §3.2 list; the emulator's
        # TAIL_MS): connected-mode DRX, receiver listening. No SIM7000 figure: ASSUMED low 20 mA,
        # central 35 mA (the A7670's 70 mA scaled by the two modules' idle currents, 11 vs
        # 23 mA), high 68 mA (the receiver always on, as "boot" above).
        ("modem", "tail"): (20000, 35000, 68000),
        # Sending/receiving on LTE Cat-M: PUBLISHED per band and power (table 34): on B20, the
        # day's band (the emulator's +CPSI), 98 mA at 0 dBm (low) and 110 mA at 10 dBm
        # (central: a watch near its cell); high 195 mA, B26 at 23 dBm, the table's worst.
        ("modem", "active"): (98000, 110000, 195000),
        # No voice on the SIM7000 (hardware.md §1.2a): the emulator never enters "call"; the row
        # is the transfer's so that no lookup can fail.
        ("modem", "call"): (98000, 110000, 195000),
        # PSM: 9 uA PUBLISHED (S7000-HD §5.3.4, table 34). Not entered: the watch keeps PSM off
        # (docs/sim7000.md: no paging in PSM, so no SMS or server command would reach it).
        ("modem", "psm"): (9, 9, 9),
        # GNSS on: the receiver tracking, 30 mA PUBLISHED (table 34, AT+CFUN=0, no USB: the low
        # end); central 35 mA ASSUMED (a search acquires more than it tracks); high 54 mA
        # PUBLISHED for the SIM7070's positioning (S7070-HD, hardware.md §3.3). Plus the active
        # antenna, fed by the board's LDO behind modem GPIO48 (hardware.md §1.3, §5.1), as the
        # "antenna" row below: low 32, central 40, high 69 mA.
        ("gnss", "on"): (32000, 40000, 69000),
        # The antenna's LDO on (AT+CGPIO=0,48,1,1) with the receiver off: what a driver that
        # forgets to switch it off leaks (LilyGO's note 7, hardware.md §1.3). No figure for the
        # T-SIM7000G's antenna: ASSUMED 2-15 mA, central 5 mA (a typical active GNSS antenna's LNA).
        ("gnss", "antenna"): (2000, 5000, 15000),
        # LEDs: the T-SIM7000G-200415 schematic drives a red LED through 390 ohm from the
        # SIM7000's STATUS (pin 66, high while the module is on) and another from NETLIGHT (pin
        # 52: 64 ms on per 3 s registered, per 300 ms during data, S7000-HD table 17). Both are
        # 1.8 V outputs (IOH 2 mA, S7000-HD table 31). Unmeasured: ASSUMED from a red LED's knee
        # as for the A7670's row: central (1.8 V - 1.75 V) / 390 ohm ~ 0.13 mA for STATUS plus
        # NETLIGHT's few per cent, 0.15 mA; low 0.05 mA; high 1 mA (knees at 1.6 V: 0.5 mA each,
        # NETLIGHT counted as always on).
        ("led", "on"): (50, 150, 1000),
        # The T-SIM7000-ESP32 with the modem off and the ESP32 in deep sleep draws ~500 uA
        # MEASURED (LGA DeepSleep.ino header, hardware.md §3.1): DERIVED 490 uA for the board
        # less the ESP32's 10 uA deep-sleep row, as for the T-A7670's 147 uA.
        ("board", "on"): (490, 490, 490),
    },
}


# ---- The supply path: what the cell gives for a part's current ----
# The rows above are the parts' own currents, as their sources give them (a module at its VBAT,
# the ESP32 at 3.3 V). On battery the T-A7670 feeds none of them from the cell directly: its
# V1.4 schematic (LGA schematic/esp32/T-A7670X-V1.4.pdf, page 4) has the cell (VVBAT) into U10,
# an LN2220 boost (labelled "battery boost"; EN tied to VIN, so always on), rectified by D19
# (SS34) to VBAT_4V2 and through Q6 to DVDD4V2; DVDD4V2 feeds the modem's BAT through Q8 (the
# IO12 power switch) and U14, an AP2112K-3.3 LDO, for the ESP32's VDD3V3 (an LDO's input
# current is its output current). The T-SIM7000G-200415 schematic has the same shape: U11
# (IN, LX, FB, 4.7 uH, SS34 D6) from VVBAT to VDD_4V2 / DVDD4V2. So every part's current is
# drawn at the boost's output voltage, and the cell gives I x V_out / (V_cell x efficiency):
#   V_out: 3.93 V DERIVED from U10's feedback divider (100k over 18k) with a 0.6 V reference
#          (ASSUMED: U10's pinout is the MT3608 class's, whose reference is 0.6 V; no LN2220
#          datasheet found); the harsh end 4.2 V, the net's name.
#   V_cell: the cell's voltage over a day: central 3.7 V (OCV_MV's middle, less a little under
#          load), kind 3.8 V, harsh 3.6 V (the last third of the charge).
#   efficiency: ASSUMED 90 / 85 / 75 %: a small non-synchronous boost stepping 3.7 V up to ~4 V
#          at 1-150 mA (the watch spends its day at 3-5 mA, where switching losses weigh most;
#          the board's measured 157 uA with the modem off shows the boost skips pulses at no
#          load rather than switching on, or it alone would draw more).
# Per mille: 3.93 / (3.8 x 0.90) = 1.149, 3.93 / (3.7 x 0.85) = 1.250, 4.2 / (3.6 x 0.75) = 1.556.
SUPPLY_PERMILLE = (1149, 1250, 1556)
# The rows (and ends) whose figure was measured at the board's battery input, boost included:
# their own factor per end (per mille) instead of SUPPLY_PERMILLE; None: the boost's.
AT_CELL = {
    ("board", "on"): (1000, 1000, 1000),  # 157 uA measured on the battery (LGA DeepSleep.ino)
    ("board", "off"): (1000, 1000, 1000),
    # 9-15 mA measured on the T-A7670 board (LilyGo-Modem-Series #336), but where is not said: a
    # board on USB (where the modem never sleeps, LGA ModemSleep) reads it through the USB
    # side's own converter. The kind end takes the 9 mA as the cell's; central (15 mA) and high
    # (A7670-HD's 23 mA, the module's own) go through the boost: in doubt, the harsher reading.
    ("modem", "idle"): (1000, None, None),
    # high: DERIVED from LilyGO's photo of the whole board on a bench supply, 72 mA at 4.3 V: the
    # same power from a 3.6 V cell (the harsh end's V_cell) is 4.3 / 3.6 = 1.194 times the current
    ("gnss", "on"): (None, None, 1194),
}
# Another board's rows that were measured differently from the T-A7670's (laid over AT_CELL)
PROFILES_AT_CELL = {
    # every SIM7000 row is S7000-HD's (at VBAT) but the board's 490 uA (measured, on battery)
    "sim7000": {("modem", "idle"): (None, None, None), ("gnss", "on"): (None, None, None)},
}


def rows(profile=None, direct=False):
    """The current table of a board as the cell sees it: CURRENT_UA with PROFILES[profile] laid
    over it, every row multiplied by SUPPLY_PERMILLE (the boost between the cell and the parts)
    or, for the ends measured at the battery, their own factor (AT_CELL, PROFILES_AT_CELL).
    direct: the parts' own
    figures, unscaled: a board built for the watch, its cell feeding the modem directly and the
    ESP32 through an LDO (the measured ends stay as measured, a little harsh)."""
    table = dict(CURRENT_UA)
    cell = dict(AT_CELL)
    if profile is not None:
        if profile not in PROFILES:
            raise ValueError("energy profile: %r (one of %s)" % (profile, ", ".join(sorted(PROFILES))))
        table.update(PROFILES[profile])
        cell.update(PROFILES_AT_CELL.get(profile, {}))
    out = {}
    for key, row in table.items():
        at = cell.get(key, (None, None, None))
        out[key] = row if direct else tuple(
            row[i] * (SUPPLY_PERMILLE[i] if at[i] is None else at[i]) // 1000 for i in range(3))
    return out


PARTS = ("modem", "gnss", "esp32", "wifi", "led", "board", "accel")
ENDS = ("low", "central", "high")
_END = {"low": 0, "central": 1, "high": 2}

# Each wake from light sleep: the ESP32 resuming (ESP-IDF's light-sleep exit, the cache and
# flash back) and MicroPython running the task that woke it (interpreted, a few bytecode-heavy
# lines: a watchdog feed, a gauge read, a look at the UART) before it sleeps again. The
# simulated firmware runs in no virtual time, so this is charged as a lump at the ESP32's
# awake current: ms per wake, low / central / high, ASSUMED (no measurement of MicroPython's
# light-sleep round trip, nor of the IDF's exit from light sleep, was found: measure one).
WAKE_MS = (2, 5, 15)
# The light sleeps are tallied by length (thresholds in ms) to show where a deep sleep would
# pay (deep_saving_ua): count and total length of the sleeps at least that long.
SLEEP_OVER_MS = (0, 10000, 30000, 60000, 120000, 300000)
# A deep sleep's wake is a boot: the ROM and second-stage bootloaders, MicroPython's start,
# the firmware's imports and its state read back, at the ESP32's awake current. ASSUMED
# 0.5 / 1 / 2.5 s (docs/energy.md): the least a trimmed bootloader and frozen modules allow,
# and a stock image importing ~40 modules.
BOOT_MS = (500, 1000, 2500)

# A kids' watch cell: issue 8 asks for 7 days on 800 mAh (hardware.md §3.4: >= 600 mAh advised,
# 400-800 mAh in comparisons). A scenario's "battery_mah" and "battery_start_pct" change it.
BATTERY_MAH = 800
# Open-circuit voltage of a Li-ion cell (LCO/NMC, 4.2 V full) against its state of charge in
# per mille: a typical published shape (flat 3.7-3.9 V middle, a knee below ~10 %), ASSUMED: no
# curve of the watch's cell exists. 3.30 V at empty. Deliberately not the firmware's own gauge
# curve (firmware/drivers/battery.py), so the one cannot hide a bug in the other.
OCV_MV = ((0, 3300), (50, 3610), (100, 3690), (150, 3710), (200, 3730), (250, 3750), (300, 3770),
          (350, 3790), (400, 3800), (450, 3820), (500, 3840), (550, 3850), (600, 3870),
          (650, 3910), (700, 3950), (750, 3980), (800, 4020), (850, 4080), (900, 4110),
          (950, 4150), (1000, 4200))
# Internal resistance: ASSUMED ~150 mOhm (a small Li-ion pouch cell, new, at room temperature;
# it rises as the cell ages and in the cold). The loaded voltage is the OCV less this times the
# present current: the state's modelled average, not the A7670's 2 A / ~600 mA TX peaks.
R_INT_MOHM = 150
# The A7670 needs VBAT >= 3.4 V (A7670-HD table 9, hardware.md §3.4): below it the watch browns out.
BROWNOUT_MV = 3400


def ocv_mv(permille):
    """Open-circuit voltage (mV) at a state of charge in per mille (clamped to 0..1000)."""
    t = OCV_MV
    if permille <= 0:
        return t[0][1]
    if permille >= 1000:
        return t[-1][1]
    for i in range(1, len(t)):
        p1, v1 = t[i]
        if permille <= p1:
            p0, v0 = t[i - 1]
            return v0 + (v1 - v0) * (permille - p0) // (p1 - p0)
    return t[-1][1]


def _acc(table, part):
    """The [low, central, high] accumulator of a part in a table of them (made at its first use)."""
    acc = table.get(part)
    if acc is None:
        acc = table[part] = [0, 0, 0]
    return acc


# The ESP32's clocks the meter has a row for (MHz -> the awake state's row); the firmware may set
# another (machine.freq), which the meter refuses: add its row first.
CLOCK_ROWS = {160: "active", 80: "active80"}


class EnergyMeter:
    """Integrates every part's current at the three ends at once. The getters without an end
    (average_ua, average_ua_of, used_uah) answer for "central", as they always did.

    The battery: battery_mah from battery_start_pct; battery_mv() is its voltage under the
    present load at the battery's end (`end`, default "central"), what the fake ADC reads.
    check() notes when each end's charge runs out (empty_ms) and, once, calls on_dead(why)
    ("empty": the cell's charge is used up; "voltage": its loaded voltage fell below
    BROWNOUT_MV) at the battery's end; set() checks the voltage at once (a rise in current is
    when it sags), the runner calls check() every few seconds for the slow decline.

    profile: the board's rows over the T-A7670's (PROFILES, rows()); `rows` is the table used.
    Beside it the meter integrates the parts' own currents (`own`, rows(direct=True): the same
    parts fed straight from the cell) for average_own_ua_of_at, the what-if of a watch's board."""

    def __init__(self, vt, battery_mah=BATTERY_MAH, start_pct=100, end="central", profile=None):
        self.rows = rows(profile)
        self.own = rows(profile, direct=True)
        self.profile = profile
        if end not in _END:
            raise ValueError("end: %r" % end)
        if battery_mah <= 0 or not 0 < start_pct <= 100:
            raise ValueError("battery: %r mAh from %r %%" % (battery_mah, start_pct))
        self._vt = vt
        self.mhz = 160  # the ESP32's clock (set_clock); its awake row follows it
        self._state = {"esp32": "active", "board": "on", "modem": "off", "gnss": "off",
                       "wifi": "off", "led": "off", "accel": "off"}
        self._since = vt.ms  # averages are over VT ms since 0: a meter starts with the run
        self.uas = {}  # part -> [low, central, high] microamp-milliseconds
        self.own_uas = {}  # ... at the parts' own currents (no boost: self.own)
        self.ms_in = {}  # (part, state) -> milliseconds spent in it
        self.battery_mah = battery_mah
        self.start_pct = start_pct
        self.end = end
        self._cap = battery_mah * 3600000000  # microamp-milliseconds in a full cell
        self._start = self._cap * start_pct // 100  # ... and in this one at the start
        # charge taken from (or, negative, put into) the cell by the scenario, not by the parts:
        # a day that starts nearly empty, a charger (the runner's {"do": "battery"})
        self.drained_uah = 0
        self.empty_ms = [None, None, None]  # when each end's charge ran out (VT ms)
        self.wakes = 0  # light sleeps ended (each charged WAKE_MS of the ESP32 awake)
        self.sleeps_over = [0] * len(SLEEP_OVER_MS)  # light sleeps at least SLEEP_OVER_MS[k] long
        self.sleep_ms_over = [0] * len(SLEEP_OVER_MS)  # ... and their total length
        self.longest_sleep_ms = 0
        self._slept_at = None  # VT ms when the ESP32 went into light sleep
        self.on_dead = None  # fn(why) at the first brown-out (the runner's)
        self.dead = None  # None, or (VT ms, why, loaded mV) of the brown-out

    def _flush(self):
        now = self._vt.ms
        dt = now - self._since
        if dt > 0:
            draw = [0, 0, 0]
            for comp, st in self._state.items():
                key = self._key(comp, st)
                c = self.rows[key]
                o = self.own[key]
                acc = _acc(self.uas, comp)
                oacc = _acc(self.own_uas, comp)
                for i in range(3):
                    acc[i] += c[i] * dt
                    oacc[i] += o[i] * dt
                    draw[i] += c[i]
                self.ms_in[(comp, st)] = self.ms_in.get((comp, st), 0) + dt
            for i in range(3):  # the exact moment an end ran out: the current was constant
                if self.empty_ms[i] is None:
                    over = -self._left(i)
                    if over >= 0:
                        back = over // draw[i] if draw[i] else 0
                        self.empty_ms[i] = now - (back if back < dt else dt)
        self._since = now

    def _used(self, i):
        n = 0
        for acc in self.uas.values():
            n += acc[i]
        return n

    def _left(self, i):
        """Microamp-milliseconds left in the cell at end i (negative: overdrawn)."""
        return self._start - self._used(i) - self.drained_uah * 3600000

    def set(self, comp, state):
        if (comp, state) not in self.rows:
            raise ValueError("no current for %s/%s" % (comp, state))
        if self._state.get(comp) != state:
            self._flush()
            if comp == "esp32":
                self._esp32_sleep(state)
            self._state[comp] = state
            if self.on_dead is not None and self.dead is None:
                self.check()

    def _esp32_sleep(self, state):
        """Tally a light sleep that ends and charge its wake (WAKE_MS at the awake current)."""
        if state == "sleep":
            self._slept_at = self._vt.ms
            return
        if self._slept_at is None:  # set only while asleep
            return
        gap = self._vt.ms - self._slept_at
        self._slept_at = None
        if state != "active":
            return  # a power cut or a brown-out ends the sleep: no wake
        self.wakes += 1
        if gap > self.longest_sleep_ms:
            self.longest_sleep_ms = gap
        for k, over in enumerate(SLEEP_OVER_MS):
            if gap >= over:
                self.sleeps_over[k] += 1
                self.sleep_ms_over[k] += gap
        acc = _acc(self.uas, "esp32")
        oacc = _acc(self.own_uas, "esp32")
        for i in range(3):
            acc[i] += self.wake_uams(i)
            oacc[i] += self.wake_uams(i, self.own)

    def wake_uams(self, i, table=None):
        """What one wake from light sleep costs at end i, in microamp-milliseconds (table: the
        meter's rows unless given): WAKE_MS at 160 MHz, longer at a slower clock (the
        interpreter's work is CPU-bound: harsh, the IDF's own exit is not), at its awake row."""
        return WAKE_MS[i] * 160 // self.mhz * (table or self.rows)[self._key("esp32", "active")][i]

    def _key(self, comp, st):
        """The row of a part's state: the ESP32 awake draws its clock's row (CLOCK_ROWS)."""
        if comp == "esp32" and st == "active":
            return ("esp32", CLOCK_ROWS[self.mhz])
        return (comp, st)

    def set_clock(self, mhz):
        """The ESP32's clock changed (machine.freq): from now its awake row is that clock's.
        A boot starts at 160 MHz, MicroPython's default on the ESP32."""
        if mhz not in CLOCK_ROWS:
            raise ValueError("no ESP32 current at %r MHz (one of %s)" % (mhz, sorted(CLOCK_ROWS)))
        if mhz != self.mhz:
            self._flush()
            self.mhz = mhz

    def deep_saving_ua(self, over_ms, end="central"):
        """How much lower the average current would be (µA; negative: higher) had every light
        sleep at least over_ms long (one of SLEEP_OVER_MS) been a deep sleep instead: its
        length at the deep row instead of the light one, less a boot (BOOT_MS at the awake
        current) for its wake instead of a light sleep's WAKE_MS. The firmware's wakes as they
        are: a what-if for docs/energy.md, not a simulation of a deep-sleeping watch."""
        i = _END[end]
        k = SLEEP_OVER_MS.index(over_ms)
        t = self.rows
        gain = self.sleep_ms_over[k] * (t[("esp32", "sleep")][i] - t[("esp32", "deep")][i])
        cost = self.sleeps_over[k] * (BOOT_MS[i] - WAKE_MS[i]) * t[("esp32", "active")][i]
        ms = self._vt.ms
        return (gain - cost) // ms if ms else 0

    def totals_at(self, ms):
        """What the parts had drawn by VT ms, at or after the last change of state or clock and
        not after now: ({part: µA·ms at the central end}, µA·ms of all parts at the battery's
        end). The current has held since that change, so it is now's totals less the present
        rate times (now - ms): the meter's own integration, wake lumps included (the runner's
        energy.jsonl reads it at each minute's edge)."""
        self._flush()
        back = self._vt.ms - ms
        e = _END[self.end]
        central = {}
        used = 0
        for comp, acc in self.uas.items():
            row = self.rows[self._key(comp, self._state[comp])]
            central[comp] = acc[1] - row[1] * back
            used += acc[e] - row[e] * back
        return central, used

    def state(self, comp):
        return self._state[comp]

    def used_uah(self, end="central"):
        """Microamp-hours the parts drew so far (drained_uah not counted)."""
        self._flush()
        return self._used(_END[end]) // 3600000

    def average_ua_of(self, comp):
        """One part's share of the average current (central)."""
        return self.average_ua_of_at(comp, "central")

    def average_ua_of_at(self, comp, end):
        """One part's share of the average current at an end: "low", "central" or "high"."""
        self._flush()
        ms = self._vt.ms
        acc = self.uas.get(comp)
        return acc[_END[end]] // ms if ms and acc else 0

    def average_own_ua_of_at(self, comp, end):
        """One part's share at an end had the cell fed it directly (its own current, `own`)."""
        self._flush()
        ms = self._vt.ms
        acc = self.own_uas.get(comp)
        return acc[_END[end]] // ms if ms and acc else 0

    def seconds_in(self, comp, state):
        """Whole seconds spent by a part in a state so far."""
        self._flush()
        return self.ms_in.get((comp, state), 0) // 1000

    def average_ua(self):
        return self.average_ua_at("central")

    def average_ua_at(self, end):
        """Average current since the start at an end: "low", "central" or "high"."""
        self._flush()
        ms = self._vt.ms
        return self._used(_END[end]) // ms if ms else 0

    def current_ua(self, end="central"):
        """What every part draws right now, at an end."""
        i = _END[end]
        n = 0
        for comp, st in self._state.items():
            n += self.rows[self._key(comp, st)][i]
        return n

    def charge_permille(self, end=None):
        """State of charge of the cell in per mille of its capacity (0 once empty)."""
        self._flush()
        left = self._left(_END[end or self.end])
        return left * 1000 // self._cap if left > 0 else 0

    def battery_mv(self):
        """The cell's voltage under the present load, for the fake ADC: the open-circuit curve at
        the state of charge, less R_INT_MOHM times the present current (never below 0)."""
        mv = ocv_mv(self.charge_permille()) - self.current_ua(self.end) * R_INT_MOHM // 1000000
        return mv if mv > 0 else 0

    def check(self):
        """Note the ends that ran out; the first time the battery's end is empty or its loaded
        voltage is below BROWNOUT_MV, record self.dead and call on_dead(why). Returns self.dead."""
        if self.dead is not None:
            return self.dead
        self._flush()
        why = None
        if self.empty_ms[_END[self.end]] is not None:
            why = "empty"
        elif self.battery_mv() < BROWNOUT_MV:
            why = "voltage"
        if why is not None:
            self.dead = (self._vt.ms, why, self.battery_mv())
            if self.on_dead is not None:
                self.on_dead(why)
        return self.dead


def floor_ua(end, transfers_per_day, active_ms, tail_ms, sleep_idle_ms, esp32="sleep", led=True,
             profile=None, direct=False):
    """The least a watch on this model can draw at an end (µA): every part at its resting state
    (the modem registered and asleep, the ESP32 in `esp32`, the board on, the STATUS LED lit if
    `led`) plus, for each transfer a day, what the modem's radio cannot avoid: `active_ms`
    active, `tail_ms` RRC-connected, then awake (idle) until `sleep_idle_ms` after the UART fell
    silent. Nothing for positioning, nor for the ESP32 being awake: a bound no firmware beats
    while sending that often (docs/energy.md, "The floor"). profile: another board's rows;
    direct: the parts fed from the cell without the boost (rows())."""
    i = _END[end]
    t = rows(profile, direct)
    sleep = t[("modem", "sleep")][i]
    base = sleep + t[("esp32", esp32)][i] + t[("board", "on")][i]
    if led:
        base += t[("led", "on")][i]
    idle_ms = sleep_idle_ms - active_ms - tail_ms
    if idle_ms < 0:
        idle_ms = 0
    per = (active_ms * (t[("modem", "active")][i] - sleep)
           + tail_ms * (t[("modem", "tail")][i] - sleep)
           + idle_ms * (t[("modem", "idle")][i] - sleep))
    return base + transfers_per_day * per // 86400000
