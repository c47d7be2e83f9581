"""The watch application: boot the modem, then run the services until power goes.

Boot: config (recovered if a save was cut), outboxes (reports, alarms), contacts, modem
power-on, SIM, voice and SMS set-up, identity (the device id defaults to the IMEI: Traccar
matches it exactly, so it is logged at every boot for the user to copy), registration, network
time (asked again until it comes: it follows registration by some seconds, or never comes).
Then the tasks: the modem driver's own (URCs and the state behind them, as typed events),
the router that hands each event to the services that subscribed, reporter, uplink sender and
receiver, telephony, SOS, the SOS button, the modem supervisor (recovery from a modem that
rebooted or hung), the watchdog feeder and, given a stream (on the board the USB serial), the
diagnostic console (firmware/console.py, from the start: it answers while the modem still
boots). Each runs under _keep(): services handle I/O errors
themselves, and anything else is logged and the service restarted; a service that stops making
progress starves the hardware watchdog, which resets the ESP32.
"""
import asyncio

from firmware import clock, log
from firmware.compat import const, sleep_ms
from firmware.config import Config
from firmware.contacts import Contacts
from firmware.control import Control
from firmware.drivers import events as ev
from firmware.motion import Motion
from firmware.outbox import Outbox
from firmware.positioning import Positioning
from firmware.power import Power
from firmware.reporter import Reporter
from firmware.schoolmode import SchoolMode
from firmware.sos import Sos
from firmware.telephony import Telephony
from firmware.uplink import Uplink

_BOOT_RETRY_S = const(60)
_REG_TIMEOUT_MS = const(180000)
_ALARMS_MAX = const(64)  # alarm frames kept while the server is out of reach
_ALARM_WAIT_MS = const(1500)
# The network's time (and its zone, which daylight saving changes) is read again at most this
# often, and only while school windows need the local time: each AT command keeps the modem
# awake ~10 s (hardware.md §1.9).
_CLOCK_REFRESH_MS = const(3 * 3600 * 1000)
# Network time comes some seconds after registration (NITZ, with AT+CTZU=1: A76-ATM §4.2.12),
# or never (operators that send none): until AT+CCLK gives a plausible time (not the modem's
# unset 70/01/01) it is asked again, first after _CLOCK_RETRY_MS, then at doubling intervals up
# to _CLOCK_RETRY_MAX_MS: a few reads in the first minutes, then one an hour, each keeping the
# modem awake ~15 s (hardware.md §1.9)
_CLOCK_RETRY_MS = const(15000)
_CLOCK_RETRY_MAX_MS = const(3600000)
_SERVICE_RESTART_MS = const(5000)
# Hardware watchdog: fed every 10 s while the reporter and the uplink make progress; 60 s after
# feeding stops the ESP32 resets. A report cycle may take the interval plus a GNSS window plus a
# few modem timeouts: five minutes of slack before "no progress" is declared. An uplink pass
# moves (a connect, a probe, a batch and their acks, 30 s bounds each, behind an SOS's texts on
# the AT channel) well within ten minutes from one acked send to the next.
_WDT_TIMEOUT_MS = const(60000)
_WDT_FEED_MS = const(10000)
_WDT_SLACK_MS = const(300000)
_UPLINK_PASS_MAX_MS = const(600000)


def watchdog_ok(now, started, progress, interval_ms, gnss_ms):
    """Is the reporter alive? Yes while it finished a cycle recently enough (or, before its
    first, since the services started): a stuck reporter (a deadlock, a wait that never ends)
    must end in a reset, not in a watch that looks alive and reports nothing."""
    ref = started if progress is None else progress
    return clock.ticks_diff(now, ref) < interval_ms + gnss_ms + _WDT_SLACK_MS


def uplink_ok(now, since):
    """Is the uplink alive? Yes between passes (since None) and while the pass under way began
    or last moved (an ack, an answer) less than _UPLINK_PASS_MAX_MS ago, however long a
    backlog takes to drain. The reporter alone does not tell: a watch standing still re-sends
    its place without touching the modem (Reporter._same_place), so a deadlocked AT channel
    would otherwise queue reports that never leave."""
    return since is None or clock.ticks_diff(now, since) < _UPLINK_PASS_MAX_MS


class App:
    def __init__(self, board, root, console="auto"):
        """console: (reader, writer) for the diagnostic console (firmware/console.py); None for
        none; "auto": the USB serial on the board, none elsewhere (the simulator and the tests
        must not read their process's stdin: console.stdio())."""
        self.board = board
        self.root = root
        self.console_io = console
        self.console = None
        self.imei = None
        self._up_t = clock.ticks_ms()  # uptime_s(): ticks folded into seconds
        self._up_s = 0
        self._up_ms = 0
        self.cfg = None
        self.outbox = None
        self.device_id = None
        self.tasks = []
        self.reporter = None
        self.positioning = None
        self.uplink = None
        self.alarms = None
        self.contacts = None
        self.telephony = None
        self.sos = None
        self.school = None
        self.power = None
        self.control = None
        self._clock_read = None  # ticks of the last AT+CCLK
        self._subs = {}
        self._recover = None  # "reboot" / "hung": what the supervisor must do
        self._recover_ev = asyncio.Event()
        self._in_boot = False
        self._sos_early = False  # a long press before the services were up
        self._buzzing = 0  # buzzes under way (a Wi-Fi scan would block their end)

    async def _modem_up(self):
        """Power the modem, SIM, APN, registration (carries on unregistered: it may come),
        network time, modem sleep."""
        m = self.board.modem
        await m.power_on(30000)
        if not await m.wait_sim(20000):
            log.event("error", where="sim", err="SIM not ready", state=m.sim_state)
        if self.cfg["apn"]:
            await m.set_apn(self.cfg["apn"])
        try:
            await m.phone_setup()
        except OSError as e:  # SMS not ready yet (before SMS DONE): the next RI wake retries
            log.event("error", where="phone_setup", err=repr(e))
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
        self._in_boot = True
        try:
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
        finally:
            self._in_boot = False

    # ---- events: the router and the supervisor ------------------------------------------------

    def subscribe(self, kind, fn):
        """fn(a, b) for every event of kind (firmware/drivers/events.py). Plain functions: they
        record and wake their service; the work happens in the service's task."""
        self._subs.setdefault(kind, []).append(fn)

    async def _route(self):
        q = self.board.modem.events
        while True:
            await q.ready.wait()
            q.ready.clear()
            while True:
                e = q.get()
                if e is None:
                    break
                for fn in self._subs.get(e[0], ()):
                    try:
                        fn(e[1], e[2])
                    except Exception as x:  # noqa: BLE001 - one subscriber's bug must not stop the others
                        log.event("error", where="router", event=ev.NAMES.get(e[0], e[0]), err=repr(x))

    def _on_trouble(self, kind):
        def fn(a, b):
            if self._recover != "hung":
                self._recover = kind
            self._recover_ev.set()
        return fn

    async def _supervise(self):
        """Bring the modem back after it rebooted by itself (its settings are gone) or stopped
        answering (power-cycle: a long PWRKEY press)."""
        m = self.board.modem
        while True:
            await self._recover_ev.wait()
            self._recover_ev.clear()
            what, self._recover = self._recover, None
            if self._in_boot:
                continue  # the boot in progress deals with it
            try:
                if what == "hung" and m.at.silent >= m.at.silent_max:
                    log.event("modem_unresponsive", timeouts=m.at.silent)
                    await self._boot_modem(cycle=True)
                elif what == "reboot" and m.needs_init:
                    log.event("modem_rebooted", reboots=m.reboots)
                    await self._boot_modem()
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
        self.alarms = Outbox(self.root, _ALARMS_MAX, 16, "alarms")
        if len(self.alarms):
            log.event("alarms_restored", queued=len(self.alarms))
        self.load_contacts()
        m = self.board.modem
        m.start()
        self.tasks = [asyncio.create_task(self._keep("modem_events", m.run)),
                      asyncio.create_task(self._keep("router", self._route)),
                      asyncio.create_task(self._keep("supervisor", self._supervise))]
        if self.board.button is not None:
            # from the start: a press while the modem still boots is an SOS as soon as it can be
            self.board.button.start()
            self.tasks.append(asyncio.create_task(self._keep("button", self._button)))
        self._start_console()
        self.subscribe(ev.REBOOT, self._on_trouble("reboot"))
        self.subscribe(ev.HUNG, self._on_trouble("hung"))
        await self._boot_modem()
        imei = None
        while imei is None:
            imei = await m.imei()
            if imei is None:
                log.event("error", where="imei", err="no IMEI from the modem")
                await sleep_ms(10000)
        self.imei = imei
        self.device_id = cfg["device_id"] or imei
        log.event("identity", id=self.device_id, imei=imei, server=cfg["server_host"],
                  port=cfg["server_port"])
        self.positioning = pos = Positioning(m, self.root, getattr(self.board, "wlan", None),
                          cfg["places_forget_days"] * 86400)
        board = self.board
        batt = board.battery
        self.control = control = Control(self)
        self.uplink = up = Uplink(m, cfg, self.outbox, self.device_id,
                                  self.alarms, control.on_downlink)
        self.telephony = tel = Telephony(m, lambda: self.contacts, board.ringer, self.root, None, cfg)
        self.school = SchoolMode(cfg, lambda: m.net_offset_min, tel.window_ended, self._refresh_clock)
        tel.school = self.school
        tel.control = control
        tel.notify = lambda: self.buzz(300)
        self.sos = sos = Sos(m, cfg, lambda: self.contacts, self._alarm,
                             lambda number, text: tel.send_sms(number, text, True),
                             lambda: self.reporter.position_now(), batt.percent,
                             lambda: self.reporter.hurry())
        tel.sos = sos
        pos.busy = lambda: sos.tracking_ms() is not None or m.in_call or tel.ringing or self._buzzing > 0
        self.reporter = Reporter(m, cfg, self.outbox, pos, up, batt, self.alarms, sos.tracking_ms,
                                 self.root)
        steps = getattr(board, "steps", None)  # a step counter (boards/*.py), where there is one
        if steps is not None:
            self.reporter.motion = Motion(steps)
        # the low-battery alarm and the critical mode (firmware/power.py): its state from flash
        # before the first report, so a watch rebooted while critical starts thin
        self.power = power = Power(cfg, batt, self._alarm, self.root, self.reporter.replan)
        self.reporter.power = tel.power = pos.power = power
        self.subscribe(ev.DATA, up.on_data)
        self.subscribe(ev.CLOSED, up.on_closed)
        self.subscribe(ev.RING, tel.on_ring)
        self.subscribe(ev.CALL, tel.on_call)
        self.subscribe(ev.DTMF, sos.on_dtmf)
        self.subscribe(ev.SMS, tel.on_sms)
        self.tasks += [
            asyncio.create_task(self._keep("reporter", self.reporter.run)),
            asyncio.create_task(self._keep("uplink", up.run_sender)),
            asyncio.create_task(self._keep("receiver", up.run_receiver)),
            asyncio.create_task(self._keep("telephony", tel.run)),
            asyncio.create_task(self._keep("sos", sos.run)),
            asyncio.create_task(self._keep("school", self.school.run)),
            asyncio.create_task(self._keep("clock", self._clock)),
            asyncio.create_task(self._keep("power", power.run)),
            asyncio.create_task(self._keep("watchdog", self._watchdog)),
        ]
        if self._sos_early:
            sos.trigger()
        for t in self.tasks:
            await t

    async def _alarm(self, status):
        """Queue an AL (first in line) and give the uplink up to 1.5 s to put it on the air
        before anything else takes the AT channel (the SOS SMS come next). Both carry the
        serving cell: asked for now if no report has read it since boot."""
        rep = self.reporter
        if rep.last_cell is None:  # no report yet since boot: the cell is all an SOS has then
            try:
                rep.last_cell = await self.board.modem.serving_cell(True)
            except OSError:
                pass
        seq = rep.alarm(status)
        await self.uplink.alarm_written(_ALARM_WAIT_MS)
        return seq

    async def _refresh_clock(self):
        """Network time again (and its zone) when school windows need the local time and the
        last reading is old: the zone changes with daylight saving."""
        cfg = self.cfg
        if not cfg["school_windows"] or cfg["school_mode"] != "auto":
            return
        now = clock.ticks_ms()
        if self._clock_read is not None and clock.ticks_diff(now, self._clock_read) < _CLOCK_REFRESH_MS:
            return
        self._clock_read = now
        t = await self.board.modem.network_time()
        if t is not None:
            clock.wall.set(t, "network")

    async def _clock(self):
        """Network time until it comes: the first AT+CCLK after registration may well read the
        modem's unset clock (NITZ comes later, or never), so it is asked again with a growing
        wait (_CLOCK_RETRY_MS). Then the task parks; _refresh_clock keeps the zone current."""
        wait = _CLOCK_RETRY_MS
        tries = 0
        while clock.wall.source != "network":
            await sleep_ms(wait)
            wait = min(wait * 2, _CLOCK_RETRY_MAX_MS)
            if self._in_boot or clock.wall.source == "network":
                continue  # a modem boot reads it itself
            tries += 1
            try:
                t = await self.board.modem.network_time()
            except OSError as e:
                log.event("error", where="clock", err=repr(e))
                continue
            if t is not None:
                clock.wall.set(t, "network")
                self._clock_read = clock.ticks_ms()
                log.event("clock", source="network", utc=clock.iso8601(t), tries=tries)
        await asyncio.Event().wait()  # never set: nothing more to do

    def buzz(self, ms):
        """The vibration for ms (a command's FIND, a new message), unless a call rings."""
        self.board.ringer(True)
        self._buzzing += 1
        self.tasks = [t for t in self.tasks if not t.done()]
        self.tasks.append(asyncio.create_task(self._buzz_off(ms)))

    def shutdown(self, kind):
        """RESET or POWEROFF from a guardian: after a second (the reply goes out first)."""
        log.event("shutdown", what=kind)
        self.tasks.append(asyncio.create_task(self._shutdown(kind)))

    async def _shutdown(self, kind):
        await sleep_ms(1000)
        if self.positioning is not None:
            self.positioning.places.flush()  # the refinements since the last save (never raises)
        if kind == "poweroff":
            await self.board.modem.power_off()  # the modem's own way (A7670: AT+CPOF, A76-ATM §3.2.5)
            self.board.power_off()  # deep sleep; the SOS button wakes it (a watch must not be
            # switched off from afar for good)
        else:
            self.board.reset()

    def load_contacts(self):
        """The whitelist from config; entries that cannot be used are logged, not fatal."""
        cfg = self.cfg
        self.contacts = c = Contacts(cfg["contacts"], cfg["country_code"])
        for i, why in c.skipped:
            log.event("error", where="contacts", entry=i, err=why)
        log.event("contacts", n=len(c), sos=len(c.sos()), guardians=len(c.guardians()))

    def long_press(self, via=None):
        """The SOS button held: SOS (once the modem is up, if it still boots) and the buzz the
        child feels. via: what pressed instead of the button (the console's `sos`), logged."""
        if via is None:
            log.event("button", press="long")
        else:
            log.event("button", press="long", via=via)
        if self.sos is not None:
            self.sos.trigger()
        else:
            self._sos_early = True  # the modem is still booting: SOS once it is up
        self.buzz(500)  # the child feels that the SOS started

    async def _button(self):
        def short():
            if self.telephony is None or not self.telephony.answer_if_ringing():
                log.event("button", press="short")  # a short press never starts an SOS

        await self.board.button.run(lambda: self.cfg["sos_press_ms"], self.long_press, short)

    def _start_console(self):
        io = self.console_io
        if io is None:
            return
        from firmware.console import Console, stdio  # loaded only where a console runs

        if io == "auto":
            io = stdio()
            if io is None:
                return
        self.console = Console(self, io[0], io[1])
        if hasattr(self.board, "keep_awake"):
            # light sleep drops USB serial input: awake for a while after boot and after a byte
            self.board.keep_awake = self.console.awake
        self.tasks.append(asyncio.create_task(self._keep("console", self.console.run)))

    @property
    def booting(self):
        """The modem is being brought up (at boot, or recovering from a reboot or a hang)."""
        return self._in_boot

    def uptime_s(self):
        """Seconds since the App started, past the tick wrap: ticks_diff is right only within
        2**29 ms (~6 days), so the ticks are folded in at every call; the watchdog task calls
        this every 10 s."""
        now = clock.ticks_ms()
        el = self._up_ms + clock.ticks_diff(now, self._up_t)
        self._up_t = now
        self._up_s += el // 1000
        self._up_ms = el % 1000
        return self._up_s

    async def _buzz_off(self, ms):
        try:
            await sleep_ms(ms)
        finally:
            self._buzzing -= 1
        if self.telephony is None or not self.telephony.ringing:  # ... a ringing call keeps ringing
            self.board.ringer(False)

    async def _watchdog(self):
        wdt = self.board.watchdog(_WDT_TIMEOUT_MS)
        started = clock.ticks_ms()
        starved = False
        while True:
            cfg = self.cfg
            # the reporter's own plan: a critical battery thins the reports to one an hour
            # (firmware/power.py), and a report due at once after it was thin counts from there
            rep = self.reporter
            iv = rep.interval_ms()
            if rep.progress is not None and rep.due is not None:
                iv = max(iv, clock.ticks_diff(rep.due, rep.progress))
            now = clock.ticks_ms()
            rep_ok = watchdog_ok(now, started, rep.progress, iv, cfg["gnss_timeout_s"] * 1000)
            if rep_ok and uplink_ok(now, self.uplink.moved_at()):
                wdt.feed()
            elif not starved:
                starved = True
                who = "uplink" if rep_ok else "reporter"
                log.event("error", where="watchdog", err=who + " stuck: letting the watchdog reset")
            self.uptime_s()  # folds the ticks before they can wrap
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
