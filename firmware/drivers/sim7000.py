"""SIMCom SIM7000 (SIM7000G, LTE Cat-M / NB-IoT) driver: the A76xx driver's interface.

The services use only what firmware/drivers/a76xx.py offers (power_on, wait_sim,
wait_registered, network_time, imei, csq, net_open, tcp_*, gnss_power/gnss_fix, serving_cell,
sms_*, the has_* flags, the event queue), so the class extends A76xx and replaces the parts
where the SIM7000 differs. "S7000-ATM" is SIMCom's SIM7000 Series AT Command Manual V1.06,
"S7000-HD" its Hardware Design V1.07 (hardware.md §0); docs/sim7000.md has the design.

What differs from the A7670 (and what this driver does about it):
* Power (S7000-HD tables 8-9, hardware.md §5.2): PWRKEY low >= 1 s powers on (LilyGO presses
  1000 ms), UART ready >= 4.5 s later; held >= 1.2 s powers off (power_cycle()'s 3 s press does).
  The UART starts in auto-baud (S7000-HD §1.4 table 2, default rate 0): the module prints
  nothing at boot, no `RDY`, until the host's first `AT` (S7000-ATM §1.4 note, §20.3). The set-up
  fixes the rate once with AT+IPR=115200 (AUTO_SAVE, §2.2.32): from the next start on `RDY`
  comes, and a restart of the modem is seen (the AT engine's reboot line, firmware/drivers/at.py).
* Identity: AT+CGMM's bare line names the model (§3.2.2); ATI says only "SIM7000 R1351"
  (§2.2.5). No voice (hardware.md §1.2a: manual V1.01 deleted ATD's ';', data calls only):
  has_voice is False from the start, so SOS sends the AL and the SMS and says it cannot call
  (firmware/sos.py), and nothing ever sends ATD. SMS in text mode as on the A76xx (§4.2,
  27.005: the same CMGF/CSDH/CNMI/CMGR/CMGS forms), so phone_setup(), sms_* and resync() are
  the A76xx driver's. ICCID: AT+CCID, a bare line (§5.2.8).
* Radio: AT+CNMP (§5.2.17: 38 LTE only, 2 automatic with GSM) and AT+CMNB (§5.2.18: 1 Cat-M,
  2 NB-IoT, 3 both), AUTO_SAVE: read once per ESP32 boot and written only when they differ.
  Default "catm": Cat-M keeps a walking child's connection across cells and carries SMS, which
  the SOS needs; NB-IoT has neither handover in connected mode nor SMS on many networks; GSM
  (2G) is being switched off and bursts at 422 mA (S7000-HD table 34). `rat` chooses another.
* PSM (AT+CPSMS, §5.2.19, 9 uA S7000-HD §5.3.4) is kept OFF: in PSM the modem hears no
  paging, so a guardian's SMS and a server command would wait for the next wake (hardware.md
  §3.2 list). The set-up switches off a PSM left on (AUTO_SAVE); psm() turns it on for a
  device that wants it (it takes effect after the module's next restart, S7000-HD §5.3.4).
* Network time: AT+CLTS=1 (§5.2.4) at every power-on, the SIM7000's way to let NITZ set the
  clock AT+CCLK reads (§3.2.20); no AT+CTZU. *PSUTTZ / +CTZV / DST URCs are claimed quietly.
* Sockets: the "TCP/UDP Application" commands of chapter 18 with the app network of
  §5.2.30: AT+CNACT=1,"<apn>" -> OK, +APP PDP: ACTIVE; AT+CAOPEN; AT+CASEND; AT+CARECV after
  +CADATAIND; AT+CACLOSE; a peer's close is +CASTATE: <cid>,0, the network's +APP PDP:
  DEACTIVE (§20.3). Chosen over the classic CIPSTART/CIPSEND/CIPRXGET stack (chapter 8)
  because every one of these commands ends in OK or ERROR with its result in a line of its own
  (§18.2.3-18.2.9), the shape the AT engine and the A76xx's CIPOPEN/CIPSEND already have, while
  the classic stack ends its commands with words of its own ("0, CONNECT OK", "0, SEND OK",
  "0, CLOSE OK", "SHUT OK", CIFSR's bare address: SIM7000 TCPIP app note §3.1) that the engine
  would need special finals for; receiving is pulled (AT+CARECV) like the A76xx's buffer mode,
  so no data arrives unannounced inside another reply; TLS (AT+CASSLCFG) is in the same family.
  The price: firmware older than the manual's V1.04 (2018) has no chapter 18: AT+CNACT?
  answers ERROR, logged once with what to do (LilyGO's SIM7000 firmware update).
  AT+CACFG="ASYNCOPEN",1 (§18.2.10, NO_SAVE, every power-on): AT+CAOPEN answers OK at once and
  its +CAOPEN: <cid>,<result> later (§18.2.3), so the AT channel is free while it connects; a
  firmware that refuses it gets the synchronous form with a long timeout.
* GNSS (chapter 14): AT+CGNSPWR=1/0 (§14.2.1), no firmware load and no READY: usable at once.
  AT+CGNSINF (§14.2.2, table 15-1): 21 fields, decimal degrees with a sign, speed in km/h
  (not knots): parse_cgnsinf(). The T-SIM7000G powers its active antenna through the modem's
  GPIO48 (AT+CGPIO=0,48,1,1 / ...,0, §5.2.15; hardware.md §1.3, §5.1): switched on with the
  receiver and off after it (left on it leaks). Assistance is XTRA, not the A76xx's AT+CAGPS
  (S7000-GNSS §4.8: "TTF can be reduced by 18 to 30 sec"): gnss_assist() downloads the XTRA file
  into the module (AT+HTTPTOFS over the app network, §9.2.14), copies it to the GNSS engine
  (AT+CGNSCPY, §14.2.12) and enables it (AT+CGNSXTRA=1, §14.2.11, NO_SAVE: again after a
  restart). The file is valid 168 h (§14.2.11); it is fetched again after _XTRA_EVERY_MS.
* No RI on the T-SIM7000G (hardware.md §5.1): nothing wakes the ESP32 when a URC comes, and
  URC bytes that arrive while it light-sleeps are lost. So (ri None): run() asks the modem for
  its state (resync(): AT+CMGL for stored SMS, a read of every open socket) at least every
  `poll_every_ms`, and also whenever a command has just woken the modem anyway and the last
  look is more than _PIGGY_MS old (a report's commands do, every few minutes: the look then
  costs no wake of its own). After each send the ESP32 stays awake up to _REPLY_MS for the
  server's answer (+CADATAIND), _SETTLE_MS more for the rest of it, then the socket is read
  (also when none came), and _MORE_MS after each read that found data. A stored SMS or a
  server command waits at most poll_every_ms (the A7670 board wakes on RI at once). With an RI
  pin (the S3 boards wire one) this is the A76xx driver's RI-driven run().
"""
import asyncio

from firmware import clock, log
from firmware.compat import const, sleep_ms, wait_for_ms
from firmware.contacts import digits
from firmware.drivers import events as ev
from firmware.drivers.a76xx import (A76xx, SocketError, _body, _fixed, _mdays, _not_open, _rdiv,
                                    parse_model)
from firmware.drivers.at import ATError, ATTimeout
from firmware.fix import Fix, udeg_from_decimal

_PULSE_MS = const(1000)  # PWRKEY low >= 1 s (S7000-HD table 8); LilyGO presses 1000 ms (§5.2)
_PROBE_MS = const(1000)  # AT probe period while the modem boots (and to teach it the baud rate)
_BAUD = const(115200)  # what AT+IPR fixes: the board's UART rate (hardware.md §1.0)
_SEND_MAX = const(1460)  # bytes per AT+CASEND (ASSUMED: §18.2.5 gives no bound; CIPSEND's 1460)
_RECV_MAX = const(1460)  # bytes asked per AT+CARECV (ASSUMED, as AT+CIPRXGET's 1460, §8.2.27)
_RECV_CHUNKS = const(3)  # at most ~4 KiB per tcp_recv call, as the A76xx driver
_CIDS = const(8)  # cids used: 0..7 (ASSUMED: §18.2.1 gives no range; the classic stack has 8)
_SEND_RESULT_MS = const(3000)  # OK -> +CASEND: <cid>,<result>,<sendlen> (§18.2.5); ASSUMED bound
_OPEN_MS = const(75000)  # a synchronous AT+CAOPEN may take the TCP connect (CIPSTART: 75 s, §8.2.2)
_PDP_MS = const(30000)  # AT+CNACT=1 -> +APP PDP: ACTIVE (ASSUMED; §5.2.30 gives no time)
# XTRA (S7000-GNSS §4.8): the server and the path the note uses ("must be /customer/")
XTRA_URL = "http://xtrapath1.izatcloud.net/xtra3grc.bin"
XTRA_PATH = "/customer/xtra3grc.bin"
_XTRA_MS = const(60000)  # AT+HTTPTOFS -> +HTTPTOFS: <status>,<len>: its own timeout is 50 s (§9.2.14)
# fetched again after 72 h (the note's "period of validity is 3 days"; the manual says 168 h)
_XTRA_EVERY_MS = const(72 * 3600 * 1000)
_POWERDOWN_MS = const(7000)  # AT+CPOWD=1 -> NORMAL POWER DOWN; UART off 1.8-6.9 s (S7000-HD table 9)
# No RI (module docstring): stay awake this long after a send for the server's answer (Traccar
# acks an LK at once, watch-protocol.md §4; the round trip is well under a second) ...
_REPLY_MS = const(2000)
# ... and, once data came, _SETTLE_MS before reading it (one write of the server's often comes
# as two TCP segments a few ms apart: read together, one +CADATAIND; apart, the second one
# comes when the buffer is empty again), then _MORE_MS after each read that found data: a
# straggler brings a new +CADATAIND, which a sleeping ESP32 would miss
_SETTLE_MS = const(100)
_MORE_MS = const(500)
# ... and look at the modem's state (SMS, sockets) with the commands of others, at most this often
_PIGGY_MS = const(60000)
POLL_MS = const(300000)  # default poll_every_ms: the longest a stored SMS or a server command waits
# AT+CNMP / AT+CMNB per radio choice (§5.2.17, §5.2.18)
RATS = {"catm": (38, 1), "nbiot": (38, 2), "lte": (38, 3), "auto": (2, 3)}
# PSM timers when psm(True) is asked for without any (§5.2.19; 3GPP TS 24.008 GPRS Timer 3 and 2):
# periodic TAU 1 h ("001" unit 1 h, value 1), active time 1 min ("001" unit 1 min, value 1)
_PSM_TAU = "00100001"
_PSM_ACTIVE = "00100001"
# +CAOPEN <result> (§18.2.3) that mean the app network is gone: the next net_open() activates it
_CA_NET_DOWN = (21,)
_SPEED_MAX = const(99999)  # 0.01 km/h: +CGNSINF speed range 0..999.99 (table 15-1)
_HDOP_MAX = const(999)  # 0.1: HDOP range 0..99.9 (table 15-1)
_ALT_MIN = const(-1000)  # m, as the A76xx parser: outside is garbage
_ALT_MAX = const(18000)
_UERE_M = const(5)  # the A76xx parser's accuracy rule (parse_cgnssinfo): 2 x HDOP x 5 m, >= 5 m
_ACC_MIN = const(5)
_ACC_NO_HDOP = const(50)


def _num(text, what, line):
    t = text.strip()
    if not digits(t):
        raise ValueError("CGNSINF %s: %r" % (what, line[:90]))
    return int(t)


def _cgnsinf_time(text, line):
    """Epoch-2000 seconds of 'yyyyMMddhhmmss.sss' (table 15-1); ValueError if malformed or
    before 2000 (a fix stamped 1980, the receiver's reset date, is no fix)."""
    whole, dot, frac = text.partition(".")
    if len(whole) != 14 or not digits(whole) or (dot and frac and not digits(frac)):
        raise ValueError("CGNSINF time: %r" % line[:90])
    y, mo, d = int(whole[0:4]), int(whole[4:6]), int(whole[6:8])
    hh, mi, ss = int(whole[8:10]), int(whole[10:12]), int(whole[12:14])
    if not (2000 <= y <= 2099 and 1 <= mo <= 12 and 1 <= d <= _mdays(y, mo) and hh < 24 and mi < 60
            and ss < 61):
        raise ValueError("CGNSINF time: %r" % line[:90])
    return clock.from_parts(y, mo, d, hh, mi, ss)


def parse_cgnsinf(line):
    """Fix from a '+CGNSINF:' (or '+UGNSINF:') line (S7000-ATM §14.2.2, table 15-1), None when it
    carries no fix, ValueError if it is garbage.

    Fields: run status, fix status, UTC yyyyMMddhhmmss.sss, latitude +-dd.dddddd, longitude
    +-ddd.dddddd, MSL altitude m, speed km/h, course deg, fix mode, reserved, HDOP, PDOP, VDOP,
    reserved, satellites in view, GPS used, GLONASS used, reserved, C/N0 max, HPA, VPA (21).
    The GNSS app note's example (§4.1) is
      +CGNSINF: 1,1,20171103022632.000,31.222067,121.354368,34.700,0.00,0.0,1,,1.1,1.4,0.9,,21,6,,,45,,
    None (no fix): run status 0 (GNSS off: the rest empty), fix status 0 or empty (a receiver
    just powered prints its reset date: '1,0,19800106000007.000,,,,0.00,0.0,0,,,,,,0,0,,,,,',
    hardware.md §1.3), or lat = lon = 0 (LilyGO's rule for a fix without a position, §1.3).
    ValueError: a status other than 0/1, a fix without its time or position, a non-number where
    a number belongs, or a value outside the table's ranges (lat +-90, lon +-180, speed 0..999.99
    km/h, course 0..360, HDOP 0..99.9, counts 0..99), an altitude outside -1000..18000 m, a date
    before 2000 or impossible. Speed is km/h here (table 15-1), not the knots of +CGNSSINFO.
    acc: the A76xx rule (2 x HDOP x 5 m, at least 5 m; 50 m without HDOP); sats: GPS + GLONASS
    satellites used."""
    f = _body(line).split(",")
    for i in range(len(f)):
        f[i] = f[i].strip()
    run = f[0]
    if run not in ("0", "1"):
        raise ValueError("CGNSINF run status: %r" % line[:90])
    fix = f[1] if len(f) > 1 else ""
    if fix not in ("", "0", "1"):
        raise ValueError("CGNSINF fix status: %r" % line[:90])
    if run == "0" or fix != "1":
        return None
    if len(f) < 13:
        raise ValueError("CGNSINF short: %r" % line[:90])
    t = _cgnsinf_time(f[2], line)
    if not f[3] or not f[4]:
        raise ValueError("CGNSINF fix without a position: %r" % line[:90])
    lat = udeg_from_decimal(f[3])
    lon = udeg_from_decimal(f[4])
    if lat == 0 and lon == 0:
        return None
    if not (-90000000 <= lat <= 90000000 and -180000000 <= lon <= 180000000):
        raise ValueError("CGNSINF position out of range: %r" % line[:90])
    alt = _rdiv(_fixed(f[5], 10), 10)
    speed100 = _fixed(f[6], 100)  # 0.01 km/h
    course10 = _fixed(f[7], 10)
    hdop10 = _fixed(f[10], 10)
    if not (_ALT_MIN <= alt <= _ALT_MAX and 0 <= speed100 <= _SPEED_MAX and 0 <= course10 <= 3600
            and 0 <= hdop10 <= _HDOP_MAX):
        raise ValueError("CGNSINF value out of range: %r" % line[:90])
    sats = 0
    for i in (15, 16):
        if len(f) > i and f[i]:
            n = _num(f[i], "count", line)
            if n > 99:
                raise ValueError("CGNSINF count: %r" % line[:90])
            sats += n
    acc = _rdiv(hdop10 * _UERE_M * 2, 10) if f[10] else _ACC_NO_HDOP
    if acc < _ACC_MIN:
        acc = _ACC_MIN
    return Fix(t, lat, lon, True, alt, _rdiv(speed100, 10), _rdiv(course10, 10) % 360, sats, acc, "gnss")


def _ca_len(line):
    """Bytes following '+CARECV: <cid>,<recvlen>' (S7000-ATM §18.2.6)."""
    return int(_body(line).split(",")[1])


class Sim7000(A76xx):
    def __init__(self, uart, pwrkey, dtr=None, ri=None, pwrkey_active_high=True, poll_ms=10,
                 gnss_gpio=None, rat="catm", poll_every_ms=POLL_MS):
        """gnss_gpio: the modem GPIO that powers the GNSS antenna (48 on the T-SIM7000G), None
        if the board powers it otherwise; rat: a key of RATS; poll_every_ms: without RI, the
        longest the modem's state goes unasked (module docstring). poll_ms is the AT engine's."""
        if rat not in RATS:
            raise ValueError("rat: %r (one of %s)" % (rat, ", ".join(sorted(RATS))))
        A76xx.__init__(self, uart, pwrkey, dtr, ri, pwrkey_active_high, poll_ms)
        self.gnss_gpio = gnss_gpio
        self.rat = rat
        self.poll_every_ms = poll_every_ms
        self.has_voice = False  # hardware.md §1.2a: data calls only (module docstring)
        # positioning.py reads `gnss_ready_urc is not False` as "the receiver keeps its data
        # over a power-off" (A76xx AP_Flash): the SIM7000's engine keeps it while the module is
        # powered (ASSUMED: AT+CGNSHOT, §14.2.7, restarts from it), so None, never False
        self.gnss_ready_urc = None
        self.apn = ""
        self.psm_wanted = False
        self.old_firmware = False  # no chapter 18 (AT+CNACT refused): logged once
        self._ipr_ok = False  # once per ESP32 boot: AUTO_SAVE settings checked
        self._rat_ok = False
        self._psm_ok = False
        self._async_open = False  # AT+CACFG="ASYNCOPEN",1 accepted since the last power-on
        self._polled = None  # ticks of the last resync() (no RI)
        self._piggy = False  # a command woke the modem and a look is due: resync now
        self._linger = None  # (cid, ticks, read anyway): awake for the server's data until then
        # run()'s own wake-up without RI: an asyncio.Event, set by tasks (the AT reader, the
        # services), not the RI IRQ's ThreadSafeFlag, which wakes in a different order on
        # CPython and MicroPython (firmware/drivers/events.py says the same of its queue)
        self._poke = None
        self._xtra_t = None  # ticks of the last XTRA file fetched and copied
        self._xtra_on = False  # AT+CGNSXTRA=1 since the module last started
        self.send_results_missing = 0  # OKs of AT+CASEND without the +CASEND result line
        at = self.at
        at.on_urc("+CADATAIND:", self._urc_caind)
        at.on_urc("+CASTATE:", self._urc_castate)
        at.on_urc("+APP PDP: DEACTIVE", self._urc_pdp_down)  # before the quiet "+APP PDP:"
        at.on_urc("SMS Ready", self._urc_sms_done)  # the SIM7000's SMS DONE (§1.2)
        for p in ("+APP PDP:", "+CASEND:", "+CAOPEN:", "+CFUN:", "NORMAL POWER DOWN",
                  "UNDER-VOLTAGE", "OVER-VOLTAGE"):
            at.on_urc(p, _ignore)

    def start(self):
        A76xx.start(self)
        if self._poke is None:
            self._poke = asyncio.Event()

    def _kick(self):
        if self._poke is not None:
            self._poke.set()

    def _want_resync(self):
        self._resync = True
        if self.ri is None:
            self._kick()
        elif self.wake is not None:
            self.wake.set()

    # ---- power ------------------------------------------------------------------------------

    # power_on() is the A76xx's: a PWRKEY pulse of 1 s (S7000-HD table 8), then AT probes until
    # OK (auto-baud: the first AT also teaches the module the rate) or RDY (a fixed rate), ATE0,
    # AT+CMEE=2, AT+CFGRI=1 where an RI pin is wired (§5.2.3), then _setup(). On a T-A7670 (its
    # UART pins are the other way round, hardware.md §5.1) this board module hears nothing at
    # all: the ATTimeout says so.
    _KEY_IDLE_MS = 100
    _KEY_MS = _PULSE_MS
    _NO_START = ("modem did not start: no answer on this board's UART "
                 "(a T-A7670? its board module is boards.lilygo_t_a7670)")

    async def _ri_setup(self):
        if self.ri is not None:
            await self.at.cmd("AT+CFGRI=1")

    async def _setup(self):
        """After each power-on: the model (once), the fixed baud rate, radio and PSM (AUTO_SAVE:
        checked once per ESP32 boot), network time and asynchronous opens (each power-on). A
        setting refused (ERROR) is logged, not fatal; no answer fails the power-on."""
        self._async_open = False  # asked again below
        if self.model is None:
            await self._detect_model()
        if not self._ipr_ok:
            await self._setting("AT+IPR?", "+IPR:", str(_BAUD), "AT+IPR=%d" % _BAUD)
            self._ipr_ok = True
        if not self._rat_ok:
            cnmp, cmnb = RATS[self.rat]
            await self._setting("AT+CNMP?", "+CNMP:", str(cnmp), "AT+CNMP=%d" % cnmp)
            await self._setting("AT+CMNB?", "+CMNB:", str(cmnb), "AT+CMNB=%d" % cmnb)
            self._rat_ok = True
        if not self._psm_ok:
            if not self.psm_wanted:
                await self._setting("AT+CPSMS?", "+CPSMS:", "0", "AT+CPSMS=0")
            self._psm_ok = True
        for command in ("AT+CLTS=1", 'AT+CACFG="ASYNCOPEN",1'):
            try:
                await self.at.cmd(command, 5000)
                if command.startswith("AT+CACFG"):
                    self._async_open = True
            except ATError as e:
                log.event("error", where="modem_setup", err=repr(e))

    async def _setting(self, read, prefix, want, write):
        """A nonvolatile setting: read it, write it only when it differs (each write is a flash
        write in the module). Refusals logged."""
        try:
            lines = await self.at.cmd(read, 5000, prefix)
            if lines and _body(lines[0]).split(",")[0].strip() == want:
                return
            await self.at.cmd(write, 5000)
        except ATError as e:
            log.event("error", where="modem_setup", err=repr(e))

    async def _detect_model(self):
        """AT+CGMM's bare line (S7000-ATM §3.2.2), else ATI's first word ('SIM7000 R1351',
        §2.2.5). A model that is no SIM7000 means the wrong board module: logged with the one
        to flash (the modem answers, so the pins match, e.g. an S3 board with an A7670)."""
        model = None
        for command in ("AT+CGMM", "ATI"):
            try:
                lines = await self.at.cmd(command, 9000)
            except ATError:
                continue
            model = parse_model(lines)
            if model is None and lines and lines[0].strip():
                model = lines[0].split()[0]
            if model:
                break
        if not model:
            self.bad_replies += 1
            log.event("error", where="modem_model", err="no model from AT+CGMM / ATI")
            return
        self.model = model
        log.event("modem_model", model=model, gnss=self.has_gnss, voice=self.has_voice, sms=self.has_sms)
        if "SIM70" not in model.upper():
            log.event("error", where="board", model=model,
                      err="not a SIM7000: this board module (boards.lilygo_t_sim7000g) is the wrong "
                          "one; an A76xx board's is boards.lilygo_t_a7670")

    async def power_off(self):
        """AT+CPOWD=1: the module deregisters and switches off, saying NORMAL POWER DOWN (no OK,
        §5.2.1). True when it did."""
        w = self.at.expect("NORMAL POWER DOWN")
        try:
            try:
                await self.at.cmd("AT+CPOWD=1", 1000)
            except ATTimeout:
                pass  # the URC is the whole answer
            await self.at.wait(w, _POWERDOWN_MS)
            return True
        except OSError:
            return False
        finally:
            self.at.cancel(w)
            self._forget(True)
            self.needs_init = True

    def _forget(self, notify):
        A76xx._forget(self, notify)
        self._xtra_on = False  # NO_SAVE (§14.2.11)
        self._linger = None

    async def psm(self, enable, tau=_PSM_TAU, active=_PSM_ACTIVE):
        """Power saving mode (AT+CPSMS, §5.2.19, AUTO_SAVE; effective after the module restarts,
        S7000-HD §5.3.4). Off by default (module docstring): in PSM no SMS and no server command
        reaches the watch until it wakes itself (periodic TAU) or PWRKEY wakes it."""
        self.psm_wanted = enable
        if enable:
            await self.at.cmd('AT+CPSMS=1,,,"%s","%s"' % (tau, active))
        else:
            await self.at.cmd("AT+CPSMS=0")

    # ---- identity -----------------------------------------------------------------------------

    async def iccid(self):
        """AT+CCID -> a bare line (S7000-ATM §5.2.8); None without one."""
        for line in await self.at.cmd("AT+CCID", 5000):
            t = line.strip()
            if t and ":" not in t:  # the manual's example has hex digits: 898600810906F8048812
                return t
        return None

    # ---- GNSS (chapter 14) --------------------------------------------------------------------

    async def _antenna(self, on):
        if self.gnss_gpio is None:
            return
        try:  # S7000-ATM §5.2.15: <operation> 0 set, <function> 1 output, <level>
            await self.at.cmd("AT+CGPIO=0,%d,1,%d" % (self.gnss_gpio, 1 if on else 0), 5000)
        except ATError as e:
            log.event("error", where="gnss_antenna", err=repr(e))

    async def gnss_power(self, on, keep=True, timeout_ms=0):
        """on: antenna supply on, then AT+CGNSPWR=1 (§14.2.1): usable at once, True. off:
        AT+CGNSPWR=0, then the antenna off; None. keep and timeout_ms are the A76xx's (its
        AP_Flash and READY): the SIM7000 keeps its data while powered and has no READY."""
        if not self.has_gnss:
            return False if on else None
        if not on:
            try:
                await self.at.cmd("AT+CGNSPWR=0")
            finally:
                self.gnss_on = self.gnss_ready = False
                await self._antenna(False)
            return None
        if self.gnss_on:
            return True
        await self._antenna(True)
        await self.at.cmd("AT+CGNSPWR=1")
        self.gnss_on = self.gnss_ready = True
        return True

    async def gnss_assist(self, timeout_ms=_XTRA_MS):
        """XTRA (module docstring): when the file is older than _XTRA_EVERY_MS (or was never
        fetched), AT+HTTPTOFS="<url>","<path>" -> OK, then '+HTTPTOFS: <status>,<len>' (awaited
        outside the AT lock), AT+CGNSCPY -> '+CGNSCPY: 0'; then AT+CGNSXTRA=1 unless on since
        the module started. Needs GNSS on and the app network. True when XTRA is in use; False
        (logged) on any failure."""
        if not self.gnss_on or not self.has_gnss:
            return False
        now = clock.ticks_ms()
        fresh = self._xtra_t is not None and clock.ticks_diff(now, self._xtra_t) < _XTRA_EVERY_MS
        try:
            if not fresh:
                command = 'AT+HTTPTOFS="%s","%s"' % (XTRA_URL, XTRA_PATH)
                line = await self._cmd_urc(command, "+HTTPTOFS:", 5000, timeout_ms)
                code = _body(line).split(",")[0].strip()
                if code != "200":
                    log.event("gnss", what="xtra", ok=False, code=code[:8])
                    return False
                lines = await self.at.cmd("AT+CGNSCPY", 5000, "+CGNSCPY:")
                if not lines or _body(lines[0]).strip() != "0":
                    log.event("gnss", what="xtra", ok=False, err="CGNSCPY")
                    return False
                self._xtra_t = now
                self._xtra_on = False
            if not self._xtra_on:
                await self.at.cmd("AT+CGNSXTRA=1")
                self._xtra_on = True
        except (ATError, ATTimeout) as e:
            log.event("gnss", what="xtra", ok=False, err=repr(e))
            return False
        log.event("gnss", what="xtra", ok=True, fetched=not fresh)
        return True

    async def gnss_fix(self):
        """Fix from AT+CGNSINF, or None without a fix (a line that is garbage: counted in
        bad_replies and logged, never raised)."""
        if not self.has_gnss:
            return None
        lines = await self.at.cmd("AT+CGNSINF", 5000, "+CGNSINF:")
        if not lines:
            return None
        try:
            return parse_cgnsinf(lines[-1])
        except ValueError:
            self.bad_replies += 1
            log.event("error", where="gnss", err="bad reply: " + lines[-1][:60])
            return None

    # ---- the app network and sockets (S7000-ATM §5.2.30, chapter 18) --------------------------

    async def set_apn(self, apn):
        """The APN AT+CNACT activates, and AT+CGDCONT's (§6.2.2) for the LTE attach."""
        self.apn = apn
        await A76xx.set_apn(self, apn)

    async def net_open(self, timeout_ms=30000):
        """AT+CNACT? -> '+CNACT: <status>,<ip>' (§5.2.30): 1 is active. Else AT+CNACT=1[,"<apn>"]
        -> OK, then '+APP PDP: ACTIVE' (or DEACTIVE: SocketError). A firmware without the
        command (before the manual's V1.04) is logged once and raises."""
        try:
            lines = await self.at.cmd("AT+CNACT?", 5000, "+CNACT:")
        except ATError as e:
            if e.code is None and not self.old_firmware:
                self.old_firmware = True
                log.event("error", where="modem_firmware", model=self.model,
                          err="AT+CNACT refused: SIM7000 firmware without the TCP/UDP commands of the "
                              "AT manual's chapter 18 (V1.04 on); update it (LilyGO's sim7000_upgrade.md)")
            raise
        if lines and _body(lines[0]).split(",")[0].strip() == "1":
            self.net_up = True
            return
        command = 'AT+CNACT=1,"%s"' % self.apn if self.apn else "AT+CNACT=1"
        wait = timeout_ms if timeout_ms > _PDP_MS else _PDP_MS
        line = await self._cmd_urc(command, "+APP PDP:", 5000, wait)
        if "DEACTIVE" in line:
            raise SocketError(command, "DEACTIVE", False)
        self.net_up = True

    async def net_release(self):
        """Nothing to release: after +APP PDP: DEACTIVE, AT+CNACT? reads 0 and net_open()
        activates again."""
        self._lost_links = []
        self._net_lost = False
        self.net_up = False

    async def tcp_open(self, link, host, port, timeout_ms=60000):
        """AT+CAOPEN=<cid>,"TCP","<host>",<port> (§18.2.3): OK, then '+CAOPEN: <cid>,<result>'
        (asynchronous), or the line then OK (synchronous). SocketError(code=<result>, failed)
        for a result other than 0: 20 the name, 21 the app network not active (net_open() again),
        23 refused, 27 connect failed; busy for a refusal in the command's own reply. The cid is
        closed first whatever this driver believes (an ESP32-only reset leaves the modem's)."""
        if not 0 <= link < _CIDS:
            raise ValueError("cid: %r" % link)
        try:
            await self.tcp_close(link)
        except OSError:
            pass
        command = 'AT+CAOPEN=%d,"TCP","%s",%d' % (link, host, port)
        wait = timeout_ms if timeout_ms > 5000 else 5000
        first = 5000 if self._async_open else _OPEN_MS
        try:
            line = await self._cmd_urc(command, "+CAOPEN: %d," % link, first, wait)
        except ATTimeout:
            try:
                await self.tcp_close(link)  # the attempt given up here must not linger in the modem
            except OSError:
                pass
            raise
        try:
            res = int(_body(line).split(",")[1])
        except (ValueError, IndexError):
            raise ATError(command, "bad reply: " + line[:40])
        if res:
            if res in _CA_NET_DOWN:
                self.net_up = False
            raise SocketError(command, res, False)
        self.links[link] = True
        self.rx_ready[link] = False

    async def tcp_send(self, link, data, timeout_ms=30000, urgent=False):
        """AT+CASEND=<cid>,<len> -> '>' -> data -> OK, then '+CASEND: <cid>,<result>,<sendlen>'
        (§18.2.5), pieces of at most 1460 bytes. SocketError: busy when refused at once (ERROR:
        the cid is not open), failed when <result> is not 0 or less was sent. A firmware that
        prints no result line: its OK counts (send_results_missing). Without RI the ESP32 then
        stays awake for the answer (run())."""

        def check(command, line, n):
            if line is None:
                return  # no result line: its OK counts (send_results_missing)
            f = _body(line).split(",")
            try:
                res, sent = int(f[1]), int(f[2])
            except (ValueError, IndexError):
                raise ATError(command, "bad reply: " + line[:40])
            if res or sent < n:
                if res in _CA_NET_DOWN:
                    self.net_up = False
                raise SocketError(command, res or sent, False)

        def missing():
            self.send_results_missing += 1

        await self._send_pieces(data, _SEND_MAX, "AT+CASEND=%d,%%d" % link, "+CASEND: %d," % link,
                                timeout_ms, urgent, _not_open, _SEND_RESULT_MS, check, missing)
        self._awake_for(link, _REPLY_MS, True)

    async def tcp_recv(self, link, timeout_ms=10000):
        """Everything the modem holds for the cid: AT+CARECV=<cid>,1460 -> '+CARECV: <cid>,<n>' +
        <n> raw bytes + OK (§18.2.6), repeated while a read comes back full. b'' when nothing
        waits (<n> 0). SocketError(busy) if the modem refuses (the cid not open)."""
        self.rx_ready[link] = False
        out = b""
        for _ in range(_RECV_CHUNKS):
            command = "AT+CARECV=%d,%d" % (link, _RECV_MAX)
            try:
                lines, data = await self.at.cmd(command, timeout_ms, "+CARECV:", "+CARECV:", _ca_len)
            except ATError as e:
                if out:
                    return out
                raise SocketError(command, e.code if e.code is not None else "not open", True)
            out += data
            if len(data) < _RECV_MAX:
                if out:
                    self._awake_for(link, _MORE_MS, False)
                return out
        self.rx_ready[link] = True  # more waits than one call should hold: come back for it
        self.events.put(ev.DATA, link)
        return out

    async def tcp_close(self, link, timeout_ms=10000):
        """AT+CACLOSE=<cid> -> OK (§18.2.9); an error (the cid not open) is ignored: the link
        counts as closed afterwards."""
        try:
            await self.at.cmd("AT+CACLOSE=%d" % link, timeout_ms)
        except ATError:
            pass
        finally:
            self.links[link] = False
            self.rx_ready[link] = False

    # ---- without RI: the driver's task asks (module docstring) --------------------------------

    async def run(self):
        """With an RI pin: the A76xx driver's run(). Without: wake at least every poll_every_ms (and
        whenever a command just woke the modem and the last look is old, or a send awaits its
        answer), ask the modem for its state, hand it on as events. Never returns."""
        if self.ri is not None:
            await A76xx.run(self)
            return
        self._polled = clock.ticks_ms()
        while True:
            try:
                await wait_for_ms(self._poke.wait(), self._wait_ms())
            except asyncio.TimeoutError:
                pass
            self._poke.clear()
            try:
                await self.at.pump()
                if self._linger is not None:
                    await self._await_reply()
                now = clock.ticks_ms()
                due = clock.ticks_diff(now, self._polled) >= self.poll_every_ms
                if self.needs_init or self.at.silent >= self.at.silent_max:
                    if due:
                        self._polled = now  # REBOOT / HUNG are queued; the app brings it up again
                    continue
                if self.phone_wanted and not self.phone_ready:
                    await self.phone_setup()
                if due or self._piggy or self._resync or self.events.overflow:
                    self._piggy = False
                    self._polled = clock.ticks_ms()
                    await self.resync()
            except ATError as e:
                if e.code not in (14, 314, 500):  # SMS not ready yet (the A76xx's _NOT_YET)
                    log.event("error", where="modem_events", err=repr(e))
                self._resync = True
            except OSError as e:
                log.event("error", where="modem_events", err=repr(e))

    def _awake_for(self, link, ms, read):
        """Without RI: have run() keep the ESP32 awake up to ms for +CADATAIND on link; read:
        queue a read of the link even if none comes."""
        if self.ri is None:
            self._linger = (link, clock.ticks_add(clock.ticks_ms(), ms), read)
            self._kick()

    def _wait_ms(self):
        now = clock.ticks_ms()
        if self._linger is not None:
            left = clock.ticks_diff(self._linger[1], now)
        else:
            left = self.poll_every_ms - clock.ticks_diff(now, self._polled)
        return left if left > 0 else 0

    async def _await_reply(self):
        """After a send or a read (_awake_for): the ESP32 awake (a waiter is pending: the board
        does not light-sleep) until +CADATAIND comes or the time is up. Data came: _SETTLE_MS
        more for the rest of it, then a read. None came: a read all the same after a send (data
        that was already waiting brings no new +CADATAIND), nothing after a read."""
        link, until, read = self._linger
        self._linger = None
        came = self.rx_ready[link]
        if not came:
            left = clock.ticks_diff(until, clock.ticks_ms())
            if left > 0:
                w = self.at.expect("+CADATAIND: %d" % link)
                try:
                    await self.at.wait(w, left)
                    came = self.rx_ready[link] = True
                except ATTimeout:
                    pass
                finally:
                    self.at.cancel(w)
        if came:
            await sleep_ms(_SETTLE_MS)
        if (came or read) and self.links[link]:
            self.events.put(ev.DATA, link)

    def _let_sleep(self):
        A76xx._let_sleep(self)
        # a command just woke the modem: a look at its state now costs no wake of its own
        if self.ri is None and self._polled is not None and not self.needs_init \
                and clock.ticks_diff(clock.ticks_ms(), self._polled) >= _PIGGY_MS:
            self._piggy = True
            self._kick()

    # ---- URC handlers -------------------------------------------------------------------------

    def _urc_caind(self, line):
        # '+CADATAIND: <cid>' (§18.2.3 note): data waits for AT+CARECV
        try:
            link = int(_body(line))
        except ValueError:
            self.bad_replies += 1
            return
        if 0 <= link < _CIDS:
            self.rx_ready[link] = True
            self.events.put(ev.DATA, link)

    def _urc_castate(self, line):
        # '+CASTATE: <cid>,0': closed by the peer or an internal error (§18.2.8)
        f = _body(line).split(",")
        try:
            link, state = int(f[0]), int(f[1])
        except (ValueError, IndexError):
            self.bad_replies += 1
            return
        if state == 0 and 0 <= link < _CIDS and self.links[link]:
            self.links[link] = False
            self.events.put(ev.CLOSED, link)

    def _urc_pdp_down(self, line):
        # '+APP PDP: DEACTIVE' (§5.2.30, §20.3): the app network went; its sockets with it
        self._closed_all(True)


def _ignore(line):
    pass
