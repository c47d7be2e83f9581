"""The watch application: boot the modem, then run the services until power goes.

Boot: config (recovered if a save was cut), outbox, modem power-on, SIM, identity (the device
id defaults to the IMEI: Traccar matches it exactly, so it is logged at every boot for the user
to copy), registration, network time. Then the tasks: reporter, uplink sender and receiver,
the modem supervisor (URCs after an RI wake, recovery from a modem that rebooted or hung) and
the watchdog feeder. Each runs under _keep(): services handle I/O errors themselves, and
anything else is logged and the service restarted; a service that stops making progress
starves the hardware watchdog, which resets the ESP32.
"""
import asyncio

from firmware import clock, log
from firmware.compat import const, sleep_ms, wait_for_ms
from firmware.config import Config
from firmware.outbox import Outbox
from firmware.positioning import Positioning
from firmware.reporter import Reporter
from firmware.uplink import Uplink

_BOOT_RETRY_S = const(60)
_REG_TIMEOUT_MS = const(180000)
_URC_POLL_MS = const(60000)  # belt and braces: look at the modem at least this often
_RI_STEP_MS = const(20)
_SILENT_MAX = const(3)  # commands in a row without an answer: power-cycle the modem
_SERVICE_RESTART_MS = const(5000)
# Hardware watchdog: fed every 10 s while the reporter makes progress; 60 s after feeding stops
# the ESP32 resets. A report cycle may take the interval plus a GNSS window plus a few modem
# timeouts: five minutes of slack before "no progress" is declared.
_WDT_TIMEOUT_MS = const(60000)
_WDT_FEED_MS = const(10000)
_WDT_SLACK_MS = const(300000)


def watchdog_ok(now, started, progress, interval_ms, gnss_ms):
    """Feed the watchdog? Yes while the reporter finished a cycle recently enough (or, before
    its first, since the services started): a stuck reporter (a deadlock, a wait that never
    ends) must end in a reset, not in a watch that looks alive and reports nothing."""
    ref = started if progress is None else progress
    return clock.ticks_diff(now, ref) < interval_ms + gnss_ms + _WDT_SLACK_MS


class App:
    def __init__(self, board, root):
        self.board = board
        self.root = root
        self.cfg = None
        self.outbox = None
        self.device_id = None
        self.tasks = []
        self.reporter = None
        self.uplink = None

    async def _modem_up(self):
        """Power the modem, SIM, APN, registration (carries on unregistered: it may come),
        network time, modem sleep."""
        m = self.board.modem
        await m.power_on(30000)
        if not await m.wait_sim(20000):
            log.event("error", where="sim", err="SIM not ready", state=m.sim_state)
        if self.cfg["apn"]:
            await m.set_apn(self.cfg["apn"])
        registered = await m.wait_registered(_REG_TIMEOUT_MS)
        t = await m.network_time() if registered else None
        if t is not None:
            clock.wall.set(t, "network")
            log.event("clock", source="network", utc=clock.iso8601(t))
        # Let the modem sleep between commands: 2 mA instead of 23 mA idle (hardware.md §3.2);
        # it still wakes for network data and pulses RI, which wakes the ESP32 (§1.9).
        await m.sleep(True)
        log.event("modem_ready", registered=registered, csq=await m.csq())

    async def _boot_modem(self, cycle=False):
        """Bring the modem up; cycle=True first powers it off with a long PWRKEY press (it
        stopped answering). Retries until it works: the watch is useless without it."""
        m = self.board.modem
        while True:
            try:
                if cycle:
                    await m.power_cycle()
                await self._modem_up()
                return
            except OSError as e:
                log.event("error", where="modem_boot", err=repr(e), retry_s=_BOOT_RETRY_S)
                cycle = True  # a failed boot: next time start from a hard power-off
                await sleep_ms(_BOOT_RETRY_S * 1000)

    async def _drain_urcs(self):
        """Read URCs after an RI wake. RI pulses (~60 ms per URC, hardware.md §1.9) merge when
        URCs come close together, so one falling edge may stand for several: keep reading while
        RI is low and once more after it rises."""
        m = self.board.modem
        await m.at.pump()
        ri = m.ri
        if ri is not None:
            for _ in range(50):  # at most ~1 s: a stuck-low RI must not hold the supervisor
                if ri.value():
                    break
                await sleep_ms(_RI_STEP_MS)
                await m.at.pump()
            await m.at.pump()

    async def _supervise(self):
        """Read URCs when the modem rings (RI), re-initialise it after it rebooted."""
        m = self.board.modem
        while True:
            rang = True
            try:
                await wait_for_ms(m.wake.wait(), _URC_POLL_MS)
            except asyncio.TimeoutError:
                rang = False
            try:
                await self._drain_urcs()
                if m.needs_init:
                    # it restarted by itself (*ATREADY): echo, CMEE, CFGRI, sleep are gone
                    log.event("modem_rebooted", reboots=m.reboots)
                    await self._boot_modem()
                elif m.at.silent >= _SILENT_MAX:
                    log.event("modem_unresponsive", timeouts=m.at.silent)
                    await self._boot_modem(cycle=True)
                if rang:
                    # Only after RI: a socket read is an AT command, and every command keeps a
                    # sleeping modem awake ~10 s more (23 mA instead of 2 mA, hardware.md §3.2).
                    # The timed poll only reads what already sits in the UART buffer.
                    self.uplink.wake()
            except OSError as e:
                log.event("error", where="supervisor", err=repr(e))

    async def run(self):
        log.event("boot", board=self.board.name, cause=self.board.reset_cause())
        self.cfg = cfg = Config.load(self.root)
        if cfg.recovered:
            log.event("config_recovered", why=cfg.recovered)
        self.outbox = Outbox(self.root)
        if len(self.outbox):
            log.event("outbox_restored", queued=len(self.outbox), dropped=self.outbox.dropped)
        m = self.board.modem
        m.start()
        await self._boot_modem()
        imei = None
        while imei is None:
            imei = await m.imei()
            if imei is None:
                log.event("error", where="imei", err="no IMEI from the modem")
                await sleep_ms(10000)
        self.device_id = cfg["device_id"] or imei
        log.event("identity", id=self.device_id, imei=imei, server=cfg["server_host"],
                  port=cfg["server_port"])
        pos = Positioning(m, self.root)
        self.uplink = Uplink(m, cfg, self.outbox, self.device_id, lambda: (0, self.board.battery.percent()))
        self.reporter = Reporter(m, cfg, self.outbox, pos, self.uplink, self.board.battery)
        self.tasks = [
            asyncio.create_task(self._keep("reporter", self.reporter.run)),
            asyncio.create_task(self._keep("uplink", self.uplink.run_sender)),
            asyncio.create_task(self._keep("receiver", self.uplink.run_receiver)),
            asyncio.create_task(self._keep("supervisor", self._supervise)),
            asyncio.create_task(self._keep("watchdog", self._watchdog)),
        ]
        for t in self.tasks:
            await t

    async def _watchdog(self):
        wdt = self.board.watchdog(_WDT_TIMEOUT_MS)
        started = clock.ticks_ms()
        starved = False
        while True:
            cfg = self.cfg
            if watchdog_ok(clock.ticks_ms(), started, self.reporter.progress,
                           cfg["report_interval_s"] * 1000, cfg["gnss_timeout_s"] * 1000):
                wdt.feed()
            elif not starved:
                starved = True
                log.event("error", where="watchdog", err="reporter stuck: letting the watchdog reset")
            await sleep_ms(_WDT_FEED_MS)

    async def _keep(self, name, service):
        """Run a service forever. Services handle OSError themselves; anything else is a bug or
        input nobody foresaw: log it and restart the service rather than let the task die
        silently (the rest of the watch would carry on without it)."""
        while True:
            try:
                await service()
                log.event("error", where=name, err="service returned")
            except Exception as e:  # noqa: BLE001 - the last line of defence for one service
                log.event("error", where=name, err=repr(e), restart_ms=_SERVICE_RESTART_MS)
            await sleep_ms(_SERVICE_RESTART_MS)
