"""Power: the low-battery alarm and the critical mode (issue 8).

Two levels of the battery gauge (firmware/drivers/battery.py), both in the settings:

* `lowbat_pct` (default 20): the first reading at or below it sends one AL with exactly status
  bit 17 (0x20000, Traccar's lowBattery; one alarm bit per message, watch-protocol.md §6) at
  the best position known, when `lowbat_alarm` (Traccar's alarmBattery, LOWBAT,0/1) is on.
  The alarm is armed again only when the battery reads MARGIN_PCT points above the level
  (it was charged): a percentage that jitters around the level sends it once per discharge.
* `critical_pct` (default 5, below lowbat_pct: config.check_pair refuses the pair otherwise,
  in check_all, in update and at load, where a bad pair goes back to both defaults):
  at or below it the watch is `critical` until it reads critical_pct + MARGIN_PCT or more.
  While critical the watch keeps only what a child in trouble needs: the SOS (its alarm, texts,
  call chain and tracking schedule), guardians' calls (friends' are rejected as in a school
  window: firmware/telephony.py), contacts' SMS (stored), and one report every
  `critical_report_s` (default 3600). No Wi-Fi scan and no GNSS search, an SOS's tracking
  included: every report is the last known position (its accuracy grown) with the serving
  cell, for the server's geolocation, and the battery; no looks near zone edges
  (firmware/reporter.py, firmware/positioning.py read `critical`). The reserve is for the
  alarm and the calls: a call draws ~320 mA, a GNSS search ~40 mA for up to a minute, and
  near empty the cell's voltage under a call's load is close to the modem's 3.4 V minimum.

Readings: the gauge reads the cell under load (a GNSS search, a transmission, a call pull the
voltage down by tens of mV, several points near empty). Load only ever lowers the reading, so
each decision takes the higher of the last two readings, READ_MS apart: one reading taken
during a burst cannot decide alone.

Flash: `power.json` {"low": bool, "critical": bool}, replaced atomically and only when a flag
changes (a few writes per charge cycle). A reboot at 19% finds "low" and sends no second AL;
a reboot while critical starts thin. A level changed by a command takes effect at the next
reading: a flag set for the old level is cleared when the battery is above the new one
(reaching the new level is then a crossing of its own).

The decisions are pure (step, rearm: table-tested in tests/unit/test_power.py); Power is the
shell: a task that reads the gauge every READ_MS.
"""
import json

from firmware import fsutil, log
from firmware.compat import const, sleep_ms

LOW_BATTERY = const(0x20000)  # status bit 17: Traccar's lowBattery (watch-protocol.md §6)
MARGIN_PCT = const(5)  # a flag clears only this many points above its level (hysteresis)
READ_MS = const(60000)  # the gauge is read once a minute (the ESP32 wakes that often anyway)
FILENAME = "power.json"
_MAX_BYTES = const(256)


def step(low, critical, pct, low_pct, crit_pct):
    """(low, critical) after a reading of pct percent: a flag is set at or below its level,
    cleared at its level + MARGIN_PCT or above, and kept as it was in between."""
    if pct <= low_pct:
        low = True
    elif pct >= low_pct + MARGIN_PCT:
        low = False
    if pct <= crit_pct:
        critical = True
    elif pct >= crit_pct + MARGIN_PCT:
        critical = False
    return low, critical


def rearm(low, critical, pct, low_pct, crit_pct):
    """(low, critical) after the levels changed: a flag is cleared when the battery (pct; None:
    not known yet) reads above its new level, else kept."""
    if pct is None:
        return low, critical
    return low and pct <= low_pct, critical and pct <= crit_pct


class Power:
    def __init__(self, cfg, battery, alarm, root=None, on_change=None):
        """battery: .percent(); alarm(status) -> awaitable seq: an AL at the best position known
        (App._alarm); root: where power.json is kept (None: not kept); on_change() when
        `critical` changes (the reporter re-plans)."""
        self._cfg = cfg
        self._batt = battery
        self._alarm = alarm
        self._path = fsutil.join(root, FILENAME) if root is not None else None
        self._on_change = on_change
        self.low = False  # the low-battery alarm was sent (or due) for this discharge
        self.critical = False  # at or below critical_pct (and not yet back above it + margin)
        self.pct = None  # the reading of the last decision
        self._prev = None  # the previous raw reading
        self._levels = None  # (lowbat_pct, critical_pct) of the last decision
        self._load()

    # ---- flash ----
    def _load(self):
        if self._path is None:
            return
        try:
            # ~32 bytes when we wrote it: a bigger file is damage, and is not read whole
            d = json.loads(fsutil.read_bytes(self._path, _MAX_BYTES) or b"{}")
            self.low = d.get("low") is True
            self.critical = d.get("critical") is True
        except Exception as e:  # unreadable: as after a fresh start. Not JSON: ValueError; not an
            # object: AttributeError; CPython also RecursionError on deep nesting (tests/fuzz)
            log.event("error", where="power", err=repr(e))

    def _save(self):
        if self._path is not None:
            fsutil.atomic_write(self._path, json.dumps({"low": self.low, "critical": self.critical}))

    # ---- the decision ----
    async def check(self):
        """Read the gauge and decide on the higher of this and the previous reading (none the
        first time). Returns the reading decided on, or None."""
        now = self._batt.percent()
        prev, self._prev = self._prev, now
        if prev is None:
            return None
        pct = self.pct = max(prev, now)
        c = self._cfg
        levels = (c["lowbat_pct"], c["critical_pct"])
        low, crit = self.low, self.critical
        if levels != self._levels:
            if self._levels is not None:
                low, crit = rearm(low, crit, pct, levels[0], levels[1])
            self._levels = levels
        await self._apply(step(low, crit, pct, levels[0], levels[1]))
        return pct

    async def _apply(self, flags):
        low, crit = flags
        was_low, was_crit = self.low, self.critical
        if low == was_low and crit == was_crit:
            return
        seq = None
        if low and not was_low and self._cfg["lowbat_alarm"]:
            # queued on flash first: if that fails nothing changed and the next reading tries
            # again; a power cut before the save below sends it again at the next boot rather
            # than never (at-least-once, as every report)
            seq = await self._alarm(LOW_BATTERY)
        self.low, self.critical = low, crit
        if low and not was_low:
            log.event("battery_low", pct=self.pct, level=self._cfg["lowbat_pct"], seq=seq)
        if crit and not was_crit:
            log.event("battery_critical", pct=self.pct, level=self._cfg["critical_pct"])
        if (was_crit and not crit) or (was_low and not low):
            log.event("battery_ok", pct=self.pct, low=low, critical=crit)
        self._save()
        if crit != was_crit and self._on_change is not None:
            self._on_change()

    async def run(self):
        """Never returns."""
        while True:
            try:
                await self.check()
            except OSError as e:  # the AL could not be queued: decided again at the next reading
                log.event("error", where="power", err=repr(e))
            await sleep_ms(READ_MS)
