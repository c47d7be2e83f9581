"""SIMCom SIM7000 (SIM7000G on the LilyGO T-SIM7000G) AT-command emulator.

The A76xx emulator's machinery (host_sim/modem_a76xx.py: the UART and pin wiring, virtual-time
output at 115200 bit/s, sleep by AT+CSCLK=1 and DTR, the radio's active/tail states, TCP on
air with its header bytes, the SMS store and the people who text, GNSS time-to-first-fix, the
LCG) with the SIM7000's own commands and replies as its manual gives them. "S7000-ATM" is the
SIM7000 Series AT Command Manual V1.06, "S7000-HD" the Hardware Design V1.07, "S7000-GNSS" the
GNSS Application Note V1.03 (hardware.md §0). Energy: the meter's "sim7000" profile
(host_sim/energy.py) holds this module's currents; the states are the A76xx emulator's, plus
gnss "antenna". Where the manual is silent the choice is marked ASSUMED.

* Power (S7000-HD tables 8-9, hardware.md §5.2): PWRKEY held >= PRESS_ON_MS 1 s while off powers
  on, the UART is ready BOOT_MS 4.5 s after the press began; held >= PRESS_OFF_MS 1.2 s while on
  powers off, saying NORMAL POWER DOWN (§20.3); >= 2 s off before it powers on again. AT+CPOWD=1
  says NORMAL POWER DOWN (no OK) and powers off, =0 silently (§5.2.1).
* Auto-baud: AT+IPR (§2.2.32, AUTO_SAVE, kept across boots and power cuts) starts at 0 (S7000-HD
  table 2: default rate 0, auto-baud). Then nothing is printed after a boot, not RDY nor any
  other URC, until the host's first command line (S7000-ATM §1.4 note, §20.3: RDY and +CFUN do
  "not appear when auto-bauding function is active"); output before it is lost (ASSUMED: the
  module cannot know the rate; `unheard` counts it). With a fixed rate a boot prints RDY and
  +CFUN: 1, then +CPIN: READY (CPIN_MS) and SMS Ready (SMS_READY_MS) (hardware.md §1.2; the
  delays ASSUMED as the A76xx's). Option "ipr" sets the rate the module comes with.
* Identity: ATI -> "SIM7000 R1351" (the §2.2.5 example); AT+CGMM -> MODEL, a bare line (§3.2.2;
  the text ASSUMED: LilyGO's board carries a SIM7000G); AT+CGMR -> "Revision:"+REVISION
  (ASSUMED text); AT+CCID -> the bare ICCID (§5.2.8); AT+CGSN -> the bare IMEI (§3.2.4).
* Not on a SIM7000 (ERROR, as any unknown command): voice (ATD, ATA, +CLIP, +CLCC, +CHUP: data
  calls only, hardware.md §1.2a; a voice call to the watch finds nobody), AT+CTZU, AT+CGNSSPWR /
  +CGNSSINFO, AT+NETOPEN / +CIPOPEN / +CIPTIMEOUT, AT+CPOF, the A76xx's SSL and HTTP commands,
  AT+SIMCOMATI. The classic TCP stack (AT+CSTT/CIICR/CIPSTART, chapter 8) is not emulated: the
  driver uses chapter 18 (firmware/drivers/sim7000.py says why).
* Radio: AT+CNMP (§5.2.17) and AT+CMNB (§5.2.18), AUTO_SAVE; they start at 2 and 3 (ASSUMED: the
  manual says the default differs by project). The world's cells serve whatever is chosen
  (ASSUMED); +CPSI names "LTE NB-IOT" with CMNB 2, else "LTE CAT-M1", on band 20 (EARFCN 6300),
  with RSRQ/RSRP/RSSI in dB/dBm and RSSNR as SINR = 2 RSSNR - 20 (§5.2.21; no service:
  "+CPSI: NO SERVICE,Online"). Registration REG_MS 6 s after boot (ASSUMED: a Cat-M attach).
* PSM: AT+CPSMS stored (AUTO_SAVE, §5.2.19) and read back; the module never enters PSM here
  (the driver keeps it off: docs/sim7000.md). Option "psm": 1 makes it come with PSM on.
* Network time: AT+CLTS (§5.2.4; its saving mode is "-": volatile, ASSUMED). NITZ NITZ_MS after
  registration sets the clock only with CLTS=1 and prints `*PSUTTZ: <y>,<m>,<d>,<h>,<mi>,<s>,
  "<zone>",0` (UTC; the zone in quarter hours with its sign, DST included, ASSUMED layout) as the
  manual lists it. AT+CCLK? reads local time with its zone once set (§3.2.20), else
  80/01/06,<uptime>+00 (ASSUMED: the GPS epoch, where the receiver's own clock starts).
* App network and sockets (§5.2.30, chapter 18). AT+CNACT? -> `+CNACT: <status>,"<ip>"` (quoted
  as the SIM7080's, ASSUMED). AT+CNACT=1[,"<apn>"] -> OK, then `+APP PDP: ACTIVE` 300-800 ms
  later (option "netopen_ms"), or `+APP PDP: DEACTIVE` without coverage (ASSUMED); while
  active or activating it answers ERROR (ASSUMED). AT+CNACT=0 -> OK, `+APP PDP: DEACTIVE`.
  AT+CACFG="ASYNCOPEN",<0|1> (§18.2.10, NO_SAVE). AT+CAOPEN=<cid>[,"TCP"],"<host>",<port>:
  synchronous (the default) `+CAOPEN: <cid>,<result>` then OK once the connect is done, input
  meanwhile dropped (ASSUMED, as AT+CMGS); asynchronous OK at once and the line as a URC later
  (§18.2.3). <result> 0, 20 the name does not resolve, 21 the app network not active, 23
  refused (nobody listening), 27 the connect took over CONNECT_LIMIT_MS 75 s (ASSUMED: the
  classic stack's 75 s, §8.2.2; option "cipopen_ms" makes connects slow), 1 the cid in use
  (ASSUMED). cids 0..7 (ASSUMED). AT+CASEND=<cid>,<len> (1..1460) -> `\\r\\n> ` (the prompt
  hardware.md §1.0 lists for AT+CASEND; S7000-ATM §18.2.5 draws none, UNVERIFIED), <len> bytes,
  OK, then `+CASEND: <cid>,0,<len>` 20-60 ms later (§18.2.5), or `+CASEND: <cid>,1,0` if the
  link went during data entry (ASSUMED); a cid not open: ERROR. Received data: `+CADATAIND:
  <cid>` when it arrives into an empty buffer (ASSUMED: once until read, like CIPRXGET's URC);
  AT+CARECV=<cid>,<n> (1..1460) -> `+CARECV: <cid>,<got>`, CRLF, <got> bytes, OK (§18.2.6; 0
  when nothing waits, ASSUMED); a cid never opened: ERROR. A server's close: `+CASTATE:
  <cid>,0` after the data on its way (§18.2.8); its unread data stays readable until AT+CACLOSE.
  Coverage lost: `+CASTATE: <cid>,0` for each open link, then `+APP PDP: DEACTIVE` (ASSUMED:
  §5.2.30 says the URC reports a deactivation); the app network stays down until AT+CNACT=1.
  AT+CACLOSE=<cid> -> OK (a cid not open: ERROR, ASSUMED). Bytes on air as the A76xx's links.
* GNSS (chapter 14): AT+CGNSPWR=1 powers the receiver, usable at once (no firmware load, no
  READY); =0 powers it off and its data (last fix) stays while the module is powered (ASSUMED:
  AT+CGNSHOT, §14.2.7, restarts from it), lost at a boot. TTFF as the A76xx emulator's
  GNSS_TTFF (hardware.md §3.3 gives the SIM7000's: hot < 1 s, cold < 35 s, inside that table's
  range). AT+CGNSINF -> 21 fields (table 15-1): a fix as in S7000-GNSS §4.1
  (`1,1,<yyyyMMddhhmmss.000>,<lat>,<lon>,<alt>,<km/h>,<course>,1,,<HDOP>,<PDOP>,<VDOP>,,
  <in view>,<GPS used>,<GLONASS used>,,<C/N0>,,`), no fix `1,0,<time>,,,,0.00,0.0,0,,,,,,0,0,,,,,`
  (hardware.md §1.3: the reset date 19800106... until the receiver first fixed, then the UTC,
  ASSUMED), off `0,,,,,,,,,,,,,,,,,,,,` (ASSUMED). The active antenna is fed by the board's
  LDO on modem GPIO48 (AT+CGPIO=0,48,1,<level>, §5.2.15): without it no satellite is heard (no
  fix, ASSUMED); powering it restarts the search. Energy: gnss "on" with the receiver, "antenna"
  with only the antenna's supply. The module sleeps not while its GNSS runs (the A76xx rule,
  kept as the harsh end: no SIM7000 figure either way).
* XTRA (S7000-GNSS §4.8, S7000-ATM §9.2.14, §14.2.11-12): AT+HTTPTOFS="<url>","<path>" -> OK,
  then `+HTTPTOFS: 200,<len>` XTRA_MS later (ASSUMED 3-6 s: DNS, TCP, the GET of XTRA_BYTES, the
  app note's file; on air as one exchange), `+HTTPTOFS: 601,0` (network error) without the app
  network; a second one while busy: ERROR. The file lands in the module's file system and stays
  over restarts (ASSUMED). AT+CGNSCPY -> `+CGNSCPY: 0` with XTRA_PATH downloaded, else 1.
  AT+CGNSXTRA=1 (NO_SAVE) enables it; AT+CGNSXTRA -> `168,"<download time>"` (the manual's
  default validity; the time's layout ASSUMED) or ERROR without a file; AT+CGNSCOLD prints
  `+CGNSXTRA: 0` with it on (the note's example), 1 without a file, 2 once expired. While on
  and the copied file is younger than XTRA_VALID_MS 168 h, a search is "assisted": its fix
  comes the assisted GNSS_TTFF after the later of its start and the enable, when sooner (the
  note: 18-30 s less; the A76xx's AGPS rule, with the XTRA file's validity).
* Sleep: AT+CSCLK=1 (AUTO_SAVE here, §5.2.7: kept over boots) and DTR high, as the A76xx
  emulator's (S7000-HD §3.3.2, §5.3.2: "when module is in idle mode"), after the same
  SLEEP_IDLE_MS of UART silence (ASSUMED: SIMCom gives 10-20 s for the A76xx, 15-20 s for the
  SIM7600, nothing for the SIM7000); DTR low wakes it.
* RI: the T-SIM7000G wires none to the ESP32 (hardware.md §5.1): attach_pins(ri=None); AT+CFGRI
  (0-2, §5.2.3) is accepted and moves nothing.
* SMS: the A76xx emulator's 27.005 text mode (S7000-ATM chapter 4 has the same forms), its SIM
  store ("SM"; the SIM7000 defaults to "ME", S7000-HD table 2: not modelled, ASSUMED) and "SMS
  Ready" in place of SMS DONE.
"""
from firmware import clock
from host_sim import modem_a76xx as a76
from host_sim.modem_a76xx import (_ERROR, _LATER, _PROMPT, SMS_SLOW_ONE_IN, TCPIP_HDR, A76xxEmulator,
                                  _dec, _flag_handler, _int, _Link, _stamp)

BOOT_MS = 4500  # PWRKEY press to UART ready: Ton(uart) >= 4.5 s (S7000-HD table 8)
PRESS_ON_MS = 1000  # PWRKEY low >= 1 s powers on (S7000-HD table 8)
PRESS_OFF_MS = 1200  # PWRKEY low >= 1.2 s powers off (S7000-HD table 9)
OFF_MIN_MS = 2000  # >= 2 s from a power-off to the next power-on (S7000-HD table 9, Toff-on)
SMS_READY_MS = 3000  # boot -> SMS Ready (ASSUMED)
REG_MS = 6000  # boot -> registered on Cat-M, with coverage (ASSUMED)
CONNECT_LIMIT_MS = 75000  # AT+CAOPEN gives up (27): the classic stack's 75 s (§8.2.2), ASSUMED
MODEL = "SIMCOM_SIM7000G"  # AT+CGMM (ASSUMED text)
MODELS = ("SIMCOM_SIM7000G", "SIMCOM_SIM7000E", "SIMCOM_SIM7000A", "SIMCOM_SIM7000C")
ATI = "SIM7000 R1351"  # S7000-ATM §2.2.5 example
REVISION = "1529B11SIM7000G"  # ASSUMED (LilyGO's README names firmware 1529B11V01SIM7000G)
LOCAL_IP = "10.94.36.44"  # ASSUMED (the SIM7080 app note's example address)
CIDS = 8  # AT+CAOPEN cids 0..7 (ASSUMED)
MAX_SEND = 1460  # AT+CASEND / AT+CARECV lengths 1..1460 (ASSUMED)
ANTENNA_GPIO = 48  # the T-SIM7000G's GNSS antenna supply (hardware.md §5.1)
IPR_RATES = (0, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 921600,
             2000000, 2900000, 3000000, 3200000, 3686400, 4000000)  # §2.2.32
XTRA_URL = "http://xtrapath1.izatcloud.net/xtra3grc.bin"  # S7000-GNSS §4.8
XTRA_PATH = "/customer/xtra3grc.bin"
XTRA_BYTES = 30575  # the note's file (its +HTTPTOFSRL example)
XTRA_REQUEST = 200  # ASSUMED bytes of the GET
XTRA_MS = (3000, 6000)  # ASSUMED download time
XTRA_VALID_MS = 168 * 3600 * 1000  # <validDurationHours> default 168 (§14.2.11)
RTC_EPOCH_DAYS = 3657  # 1980-01-06 in days after 1970-01-01: AT+CCLK's unset clock (ASSUMED)


class Sim7000Emulator(A76xxEmulator):
    PWRKEY_MS = (PRESS_ON_MS, PRESS_OFF_MS, OFF_MIN_MS)  # S7000-HD tables 8 and 9
    BOOT_MS = BOOT_MS
    READY_URCS = ("RDY", "+CFUN: 1")  # a fixed rate's boot (§20.3); auto-baud hides them
    SMS_READY = (SMS_READY_MS, "SMS Ready")
    LATER_URCS = ()
    REG_MS = REG_MS

    def __init__(self, vt, world, imei, iccid, meter=None, variant=None, remote_end="both",
                 sms_capacity=40, sms_slow_one_in=SMS_SLOW_ONE_IN, gnss_ttff=None, sleep_idle_ms=None,
                 model=None, nitz=None, netopen_ms=None, cipopen_ms=None, ipr=None, psm=None):
        """The A76xx emulator's options that apply (variant, the +CGNSSINFO layout, is taken
        and ignored: the runner passes it to either); model: one of MODELS; ipr: the rate
        AT+IPR holds at first (0 auto-baud; scenario "modem"/"device" key "ipr"); psm: 1 if it
        comes with PSM on."""
        # nonvolatile (AUTO_SAVE) settings: set before the base's boot defaults
        if ipr is None:
            ipr = a76._scenario_option(world, "ipr", 0)
        if ipr not in IPR_RATES:
            raise ValueError("ipr: %r" % ipr)
        if psm is None:
            psm = a76._scenario_option(world, "psm", 0)
        self.ipr = ipr
        self.cnmp = 2
        self.cmnb = 3
        self.cpsms = (1 if psm else 0, "00100001", "00100001")  # <mode>, <TAU>, <Active>
        self.csclk = 0  # AUTO_SAVE here (§5.2.7): kept by _reset_settings
        self.unheard = 0  # bytes the module printed before it knew the rate (auto-baud)
        self.files = {}  # the module's file system: path -> VT ms of the download (kept)
        self.xtra_copied_ms = None  # the XTRA file the GNSS engine holds (its download time)
        self.xtra_downloads = 0
        self.xtra_bytes = 0
        A76xxEmulator.__init__(self, vt, world, imei, iccid, meter=meter, variant="foreign",
                               remote_end=remote_end, sms_capacity=sms_capacity,
                               sms_slow_one_in=sms_slow_one_in, gnss_ttff=gnss_ttff, gnss_firmware="old",
                               sleep_idle_ms=sleep_idle_ms, model="A7670E-FASE", gnss=True, voice=False,
                               sms=True, nitz=nitz, ctzu=0, netopen_ms=netopen_ms, cipopen_ms=cipopen_ms)
        if model is None:
            model = MODEL
        if model not in MODELS:
            raise ValueError("model: %r (one of %s)" % (model, ", ".join(MODELS)))
        self.model = model

    # ================================================================ settings and power
    def _reset_settings(self):
        csclk = self.csclk
        A76xxEmulator._reset_settings(self)
        self.csclk = csclk
        self.clts = 0
        self.ca_async = 0
        self.gpio = {}
        self.xtra_on = False  # AT+CGNSXTRA, NO_SAVE
        self.xtra_on_ms = None
        self._tofs_busy = False
        self._synced = self.ipr != 0  # auto-baud: a fixed rate, or a command line heard since the boot
        self._ca_try = 0

    def _pwrkey_off(self):
        self._power_down(True)

    def _power_down(self, say):
        """Off; with `say` after NORMAL POWER DOWN is out (§5.2.1, §20.3)."""
        if say and self.state == "on":
            due = self._out(b"\r\nNORMAL POWER DOWN\r\n", self._rand(5, 30), True)
            self._later(due - self.vt.ms + 1, self._go_off)
        else:
            self._go_off()

    # ================================================================ output and input
    def _deliver(self, data, urc, ri_ms):
        if self.state == "on" and not self._synced:
            self.unheard += len(data)  # auto-baud: it cannot talk before it heard the rate
            return
        A76xxEmulator._deliver(self, data, urc, ri_ms)

    def _command(self, line):
        if line.strip():
            self._synced = True  # auto-baud: the rate is learnt from the line's "AT"
        A76xxEmulator._command(self, line)

    def _basic(self, cmd):
        if cmd[0] == "I":
            self._info(ATI)
            return None
        return A76xxEmulator._basic(self, cmd)

    @staticmethod
    def handlers():
        """The SIM7000's command table (_HANDLERS below: the A76xx's shared ones and its own)."""
        return _HANDLERS

    # ================================================================ network
    def _nitz_arrives(self):
        """NITZ sets the clock only with AT+CLTS=1 (§5.2.4), and says so with *PSUTTZ."""
        if self.state == "on" and self.registered and self.clts == 1:
            self.nitz = True
            y, mo, d, h, mi, s = clock.to_parts(self.world.utc())
            tz = self.world.tz_offset_at()
            q = tz // 15 if tz >= 0 else -((-tz) // 15)
            self._urc('*PSUTTZ: %d,%d,%d,%d,%d,%d,"%s%d",0' % (y, mo, d, h, mi, s, "+" if q >= 0 else "-",
                                                              abs(q)))

    def _lose_network(self, urc=True):
        was = self.registered
        self.registered = False
        if was:
            self._reg_urcs()
        if self.net:
            for i in range(CIDS):
                lk = self.links[i]
                if lk is not None and lk.state == "open":
                    self._urc("+CASTATE: %d,0" % i)
            if self.net == 2:
                self._urc("+APP PDP: DEACTIVE")
            self.net = 0
        self._drop_links()
        self._meter()

    # ================================================================ sockets (chapter 18)
    def _caopen_result(self, lk, sync):
        """The connect's outcome: +CAOPEN: <cid>,<result>, as the URC (asynchronous) or the
        command's reply with its OK (synchronous)."""
        if lk.state == "cancelled":
            res = None
        elif lk.state != "opening":
            res = 21  # the network went away while connecting
        elif self.net != 2:
            res = 21
        else:
            res = self._tcp_connect(lk, (21, 20, 23), 40000 + lk.n)
        self._radio()
        if res and self.links[lk.n] is lk:
            lk.state = "closed"
            self.links[lk.n] = None
        self._ca_reply(lk.n, res, sync)

    def _caopen_timeout(self, lk, sync):
        if lk.state == "opening":
            lk.state = "closed"
            if self.links[lk.n] is lk:
                self.links[lk.n] = None
            self._air(a76.SYN_BYTES, 0)
            self._radio()
            self._ca_reply(lk.n, 27, sync)
        elif lk.state == "cancelled":
            self._ca_reply(lk.n, None, sync)

    def _ca_reply(self, n, res, sync):
        if not sync:
            if res is not None:
                self._urc("+CAOPEN: %d,%d" % (n, res))
            return
        self._busy = False
        self._last_io = self.vt.ms
        self._arm_sleep()
        line = b"" if res is None else ("\r\n+CAOPEN: %d,%d\r\n" % (n, res)).encode()
        self._out(line + b"\r\nOK\r\n", 0)

    def _rx(self, lk, data, segs):
        if lk.kind != "ca":
            A76xxEmulator._rx(self, lk, data, segs)
            return
        lk.inflight -= len(data)
        if self.links[lk.n] is not lk or lk.state != "open":
            return
        self._ack_rx(lk, segs, False)
        self._radio()
        lk.rx += data
        if not lk.notified:
            lk.notified = True
            self._urc("+CADATAIND: %d" % lk.n)

    def _net_closed(self, lk):
        if lk.kind != "ca":
            A76xxEmulator._net_closed(self, lk)
            return
        due = self.vt.ms + self._rand(50, 150)
        if due < lk.down_free:
            due = lk.down_free
        lk.down_free = due

        def arrive():
            if self.links[lk.n] is not lk or lk.state != "open":
                return
            lk.state = "closed"
            lk.conn = None
            lk.owed = 0  # the FIN+ACK carries it
            self._air(TCPIP_HDR, 2 * TCPIP_HDR)  # FIN down, FIN+ACK up, ACK down
            self._radio()
            self._urc("+CASTATE: %d,0" % lk.n)

        self._later(due - self.vt.ms, arrive)

    def _send_done(self, n, data):
        lk = self.links[n]
        if lk is None or lk.kind != "ca" or lk.state != "open" or lk.conn is None:
            self._out(b"\r\nOK\r\n", self._rand(5, 30))
            self._urc("+CASEND: %d,1,0" % n, self._rand(20, 60))
            return
        self._out(b"\r\nOK\r\n", self._rand(5, 30))
        self._urc("+CASEND: %d,0,%d" % (n, len(data)), self._rand(20, 60))
        self._up(lk, data)

    def stats(self):
        s = A76xxEmulator.stats(self)
        s["xtra_downloads"] = self.xtra_downloads
        s["xtra_bytes"] = self.xtra_bytes
        s["unheard"] = self.unheard
        return s

    # ================================================================ GNSS
    def _antenna(self):
        return bool(self.gpio.get(ANTENNA_GPIO))

    def xtra_valid(self):
        """The XTRA file the engine holds is younger than XTRA_VALID_MS."""
        c = self.xtra_copied_ms
        return c is not None and self.vt.ms - c <= XTRA_VALID_MS

    def gnss_plan(self):
        """As the A76xx's (which sees no AGPS here), nothing without the antenna's supply
        (ASSUMED: an unpowered active antenna passes no usable signal), and "assisted" with XTRA
        on (module docstring)."""
        if not self._antenna():
            return None
        plan = A76xxEmulator.gnss_plan(self)
        if plan is None or not self.xtra_on or not self.xtra_valid():
            return plan
        start = self.world.sky_since(self.vt.ms)
        if start < self.gnss_ready_ms:
            start = self.gnss_ready_ms
        if start < self.xtra_on_ms:
            start = self.xtra_on_ms
        at = start + self.ttff_ms[3]
        return ("assisted", at) if at < plan[1] else plan

    def _meter(self):
        A76xxEmulator._meter(self)
        if self.meter is None or self.gnss_on or self.state == "off" or not self._antenna():
            return
        if self._meter_gnss != "antenna":  # only the antenna's LDO (host_sim/energy.py)
            self._meter_gnss = "antenna"
            self.meter.set("gnss", "antenna")

    def _cgnsinf_line(self, g):
        if not self.gnss_on:
            return "+CGNSINF: 0" + "," * 20
        y, mo, d, h, mi, s = clock.to_parts(self.world.utc())
        now = "%04d%02d%02d%02d%02d%02d.000" % (y, mo, d, h, mi, s)
        if g is None:
            if self.last_fix_ms is None:  # the receiver's clock from its reset date (§1.3)
                up = (self.vt.ms - self.gnss_ready_ms) // 1000 if self.gnss_ready_ms is not None else 0
                now = "19800106%02d%02d%02d.000" % (up // 3600 % 24, up // 60 % 60, up % 60)
            return "+CGNSINF: 1,0,%s,,,,0.00,0.0,0,,,,,,0,0,,,,," % now
        n = g["sats"]
        h10 = g["hdop10"]
        lat, lon = g["lat"], g["lon"]
        spd = g["speed"]  # 0.1 km/h
        return "+CGNSINF: 1,1,%s,%s%s,%s%s,%d.000,%s,%d.0,1,,%s,%s,%s,,%d,%d,%d,,%d,," % (
            now, "-" if lat < 0 else "", _dec(abs(lat), 1000000, 6), "-" if lon < 0 else "",
            _dec(abs(lon), 1000000, 6), g["alt"], _dec(spd * 10, 100, 2), g["course"] if spd else 0,
            _dec(h10, 10, 1), _dec(h10 * 13 // 10, 10, 1), _dec(h10 * 8 // 10, 10, 1), n + n // 2,
            n - n // 3, n // 3, 38 + n // 2)


# ==================================================================== command handlers
# handler(emu, kind, args) as in host_sim/modem_a76xx.py: None (OK), a CME error number, _ERROR,
# _PROMPT or _LATER.


def _h_ccid(e, kind, args):
    if kind == "test":
        return None
    if kind != "exec":
        return _ERROR
    if not e.sim_ready:
        return 13
    e._info(e.iccid)
    return None


def _h_cgmm(e, kind, args):
    if kind == "exec":
        e._info(e.model)
    return None


def _h_cgmr(e, kind, args):
    if kind == "exec":
        e._info("Revision:%s" % REVISION)
    return None


def _h_cclk(e, kind, args):
    if kind == "write":
        return None
    if kind != "read":
        return None if kind == "test" else _ERROR
    if e.nitz:
        e._info('+CCLK: "%s"' % _stamp(e.world))
        return None
    up = (e.vt.ms - e.boot_ms) // 1000
    y, mo, d = clock.civil_from_days(RTC_EPOCH_DAYS + up // 86400)
    s = up % 86400
    e._info('+CCLK: "%02d/%02d/%02d,%02d:%02d:%02d+00"' % (y % 100, mo, d, s // 3600, s // 60 % 60, s % 60))
    return None


def _h_cpowd(e, kind, args):
    if kind != "write":
        return _ERROR
    v = _int(args[0])
    if v not in (0, 1):
        return _ERROR
    if v == 1:
        e._resp += b"\r\nNORMAL POWER DOWN\r\n"
        due = e._out(bytes(e._resp), e._rand(5, 30))
        e._resp = bytearray()
        e._later(due - e.vt.ms + 1, e._go_off)
    else:
        e._later(1, e._go_off)
    return _LATER


def _number_setting(name, attr, allowed):
    """A nonvolatile number (AT+IPR, AT+CNMP, AT+CMNB): read '<name>: <v>', write one of allowed,
    the test form lists them."""
    return _flag_handler(name, attr, allowed, test="(%s)" % ",".join(str(v) for v in allowed))


def _h_cpsms(e, kind, args):
    if kind == "read":
        e._info('+CPSMS: %d,,,"%s","%s"' % e.cpsms)
        return None
    if kind == "test":
        e._info('+CPSMS: (0,1),,,("00000000"-"11111111"),("00000000"-"11111111")')
        return None
    if kind != "write":
        return _ERROR
    mode = _int(args[0]) if args and args[0].strip() else 0
    if mode not in (0, 1):
        return _ERROR
    tau = args[3] if len(args) > 3 and args[3] else e.cpsms[1]
    act = args[4] if len(args) > 4 and args[4] else e.cpsms[2]
    for v in (tau, act):
        if len(v) != 8 or [c for c in v if c not in "01"]:
            return _ERROR
    e.cpsms = (mode, tau, act)
    return None


def _h_cpsi(e, kind, args):
    if kind == "test":
        return None
    if kind != "read":
        return _ERROR
    c = e.world.cell_at() if e.registered else None
    if c is None:
        e._info("+CPSI: NO SERVICE,Online")
        return None
    rsrp = c["rsrp"]
    rsrq = -6 + (rsrp + 80) // 6
    rsrq = -20 if rsrq < -20 else -3 if rsrq > -3 else rsrq
    sinr = 10 + (rsrp + 100) // 5
    sinr = -20 if sinr < -20 else 30 if sinr > 30 else sinr
    e._info("+CPSI: %s,Online,%d-%02d,0x%04X,%d,%d,EUTRAN-BAND20,6300,0,0,%d,%d,%d,%d" % (
        "LTE NB-IOT" if e.cmnb == 2 else "LTE CAT-M1", c["mcc"], c["mnc"], c["tac"], c["cid"],
        c["cid"] % 504, rsrq, rsrp, rsrp + 25, (sinr + 20) // 2))
    return None


def _h_cgpio(e, kind, args):
    if kind == "test":
        e._info("+CGPIO: (0-1),(1-100),(0-1),(0-1)")
        return None
    if kind != "write" or len(args) < 2:
        return _ERROR
    op = _int(args[0])
    pin = _int(args[1])
    if pin < 1 or pin > 100 or op not in (0, 1):
        return _ERROR
    if op == 1:  # read: only a pin set as input (§5.2.15)
        if e.gpio.get(pin) is not None:
            return _ERROR
        e._info("+CGPIO: %d,0" % pin)  # ASSUMED read form
        return None
    func = _int(args[2])
    level = _int(args[3]) if len(args) > 3 else 0
    if func not in (0, 1) or level not in (0, 1):
        return _ERROR
    was = e._antenna()
    if func == 0:
        e.gpio.pop(pin, None)
    else:
        e.gpio[pin] = level
    if pin == ANTENNA_GPIO and e._antenna() != was:
        if e._antenna() and e.gnss_on:
            e.gnss_ready_ms = e.vt.ms  # the search starts over with the signal (ASSUMED)
        e._meter()
    return None


def _h_cgnspwr(e, kind, args):
    if kind == "test":
        e._info("+CGNSPWR: (0,1)")
        return None
    if kind == "read":
        e._info("+CGNSPWR: %d" % (1 if e.gnss_on else 0))
        return None
    if kind != "write":
        return _ERROR
    v = _int(args[0])
    if v not in (0, 1):
        return _ERROR
    if v == 1:
        if not e.gnss_on:
            e.gnss_on = True
            e.gnss_powerons += 1
            e._gnss_gen += 1
            e.gnss_ready_ms = e.vt.ms  # no firmware to load: usable at once
            e._meter()
        return None
    if e.gnss_on:
        e.gnss_fix()  # a fix held right now is the chip's latest
        e.gnss_on = False
        e.gnss_ready_ms = None
        e._gnss_gen += 1
        e._meter()
    return None


def _h_cgnsinf(e, kind, args):
    if kind == "test":
        return None
    if kind != "exec":
        return _ERROR
    e._info(e._cgnsinf_line(e.gnss_fix() if e.gnss_on else None))
    return None


def _h_cgnscold(e, kind, args):
    if kind == "test":
        return None
    if kind != "exec":
        return _ERROR
    e.last_fix_ms = None
    if e.gnss_on:
        e.gnss_ready_ms = e.vt.ms
    if e.xtra_on:  # the note's example (§4.8): 0 aided, 1 no file, 2 not effective
        e._urc_after("+CGNSXTRA: %d" % (1 if e.xtra_copied_ms is None else 0 if e.xtra_valid() else 2), 0)
    return None


def _h_httptofs(e, kind, args):
    if kind == "test":
        e._info("+HTTPTOFS: (1-255),(1-127)")
        return None
    if kind == "read":
        e._info("+HTTPTOFS: %d" % (1 if e._tofs_busy else 0))
        return None
    if kind != "write" or len(args) < 2 or e._tofs_busy:
        return _ERROR
    url, path = args[0].strip(), args[1].strip()
    if not url.startswith("http://") or not path.startswith("/"):
        return _ERROR
    e._tofs_busy = True

    def online():
        return e.net == 2 and e.registered and e.world.coverage_at()

    def done():
        e._tofs_busy = False
        if not online():
            e._urc("+HTTPTOFS: 601,0")
            return
        e.xtra_downloads += 1
        e.xtra_bytes += XTRA_BYTES
        e._air_exchange(url[7:].split("/")[0], XTRA_REQUEST, XTRA_BYTES)
        e.files[path] = e.vt.ms
        e._urc("+HTTPTOFS: 200,%d" % XTRA_BYTES)

    if not online():
        e._later(1000, done)
        return None
    ms = e._rand(XTRA_MS[0], XTRA_MS[1])
    e._radio(ms)
    e._later(ms, done)
    return None


def _h_cgnscpy(e, kind, args):
    if kind == "test":
        return None
    if kind != "exec":
        return _ERROR
    t = e.files.get(XTRA_PATH)
    if t is None:
        e._info("+CGNSCPY: 1")
        return None
    e.xtra_copied_ms = t
    e._info("+CGNSCPY: 0")
    return None


def _h_cgnsxtra(e, kind, args):
    if kind == "test":
        e._info("+CGNSXTRA: (0-1)")
        return None
    if kind == "read":
        e._info("+CGNSXTRA: %d" % (1 if e.xtra_on else 0))
        return None
    if kind == "exec":
        if e.xtra_copied_ms is None:
            return _ERROR
        y, mo, d, h, mi, s = clock.to_parts(e.world.utc(e.xtra_copied_ms))
        e._info('168,"%04d/%02d/%02d,%02d:%02d:%02d"' % (y, mo, d, h, mi, s))
        return None
    v = _int(args[0])
    if v not in (0, 1):
        return _ERROR
    if v and not e.xtra_on:
        e.xtra_on_ms = e.vt.ms
    e.xtra_on = v == 1
    return None


def _h_cgnshot(e, kind, args):
    return None if kind in ("exec", "test") else _ERROR


def _h_cnact(e, kind, args):
    if kind == "read":
        e._info('+CNACT: %d,"%s"' % (1 if e.net == 2 else 0, LOCAL_IP if e.net == 2 else "0.0.0.0"))
        return None
    if kind == "test":
        e._info("+CNACT: (0-2)")
        return None
    if kind != "write":
        return _ERROR
    mode = _int(args[0])
    if mode not in (0, 1, 2):
        return _ERROR
    if mode == 0:
        if e.net:
            e.net = 0
            e._drop_links()
            e._urc_after("+APP PDP: DEACTIVE", e._rand(100, 300))
        return None
    if e.net:
        return _ERROR  # active, or activating (ASSUMED)
    if len(args) > 1:
        e.apn = args[1]
    e._net_open("+APP PDP: ACTIVE", "+APP PDP: DEACTIVE")
    return None


def _h_cacfg(e, kind, args):
    if kind == "read":
        e._info('+CACFG: "ASYNCOPEN",%d' % e.ca_async)
        return None
    if kind == "test":
        e._info('+CACFG: "ASYNCOPEN",(0-1)')
        return None
    if kind != "write" or not args:
        return _ERROR
    if args[0].strip().upper() == "ASYNCOPEN":
        v = _int(args[1])
        if v not in (0, 1):
            return _ERROR
        e.ca_async = v
    return None  # the other keys: accepted, not modelled


def _cid(args):
    n = _int(args[0])
    if n < 0 or n >= CIDS:
        raise ValueError(n)
    return n


def _h_caopen(e, kind, args):
    if kind == "test":
        e._info('+CAOPEN: (0-%d),<server>,(1-65535)' % (CIDS - 1))
        return None
    if kind == "read":
        for i in range(CIDS):
            lk = e.links[i]
            if lk is not None and lk.state == "open":
                e._info('+CAOPEN: %d,"TCP","%s",%d' % (i, lk.host, lk.port))
        return None
    if kind != "write" or len(args) < 3:
        return _ERROR
    n = _cid(args)
    if len(args) >= 4:
        kind_s, host, port = args[1].strip().upper(), args[2], _int(args[3])
    else:
        kind_s, host, port = "TCP", args[1], _int(args[2])
    if kind_s != "TCP" or not host or port < 1 or port > 65535:
        return _ERROR  # UDP is not emulated
    sync = e.ca_async == 0
    old = e.links[n]
    res = None
    if old is not None and old.state in ("opening", "open"):
        res = 1  # the cid is in use (ASSUMED: socket error)
    elif e.net != 2:
        res = 21
    if res is not None:
        if sync:
            e._info("+CAOPEN: %d,%d" % (n, res))
        else:
            e._urc_after("+CAOPEN: %d,%d" % (n, res), 0)
        return None
    lk = _Link(n, host, port, "ca")
    e.links[n] = lk
    delay = e._open_delay(1, 100, 300)
    if sync:
        e._busy = True
    if delay > CONNECT_LIMIT_MS:
        e._later(CONNECT_LIMIT_MS, lambda: e._caopen_timeout(lk, sync))
    else:
        e._later(delay, lambda: e._caopen_result(lk, sync))
    return _LATER if sync else None


def _h_casend(e, kind, args):
    if kind == "test":
        return None
    if kind != "write" or len(args) < 2:
        return _ERROR
    n = _cid(args)
    length = _int(args[1])
    if length < 1 or length > MAX_SEND:
        return _ERROR
    lk = e.links[n]
    if e.net != 2 or lk is None or lk.state != "open":
        return _ERROR
    e._dm = [n, length, bytearray()]
    return _PROMPT


def _h_carecv(e, kind, args):
    if kind == "test":
        return None
    if kind != "write" or len(args) < 2:
        return _ERROR
    n = _cid(args)
    mx = _int(args[1])
    if mx < 1 or mx > MAX_SEND:
        return _ERROR
    lk = e.links[n]
    if lk is None or lk.kind != "ca":
        return _ERROR
    data = bytes(lk.rx[:mx])
    lk.rx = lk.rx[len(data):]
    e._info("+CARECV: %d,%d" % (n, len(data)))
    e._resp += data
    e._host_read(lk, data)
    return None


def _h_caclose(e, kind, args):
    if kind == "test":
        return None
    if kind != "write":
        return _ERROR
    n = _cid(args)
    lk = e.links[n]
    if lk is None:
        return _ERROR
    e.links[n] = None
    if lk.state == "opening":
        lk.state = "cancelled"
    elif lk.state == "open":
        lk.state = "closed"
        e._conn_close(lk)
        e._radio()
        e._air(2 * TCPIP_HDR, TCPIP_HDR)  # FIN up (it carries any ACK owed), FIN+ACK down, ACK up
    return None


def _h_castate(e, kind, args):
    if kind != "read":
        return _ERROR
    for i in range(CIDS):
        lk = e.links[i]
        if lk is not None and lk.state in ("open", "closed"):
            e._info("+CASTATE: %d,%d" % (i, 1 if lk.state == "open" else 0))
    return None


_COMMON = ("+CMEE", "+CPIN", "+CSQ", "+CREG", "+CGREG", "+CEREG", "+COPS", "+CGSN", "+GSN", "+CGMI",
           "+CFUN", "+CGDCONT", "+CGATT", "+CSCS", "+CNMI", "+CSMP", "+CSCA", "+CPMS", "+CMGF",
           "+CSDH", "+CMGR", "+CMGL", "+CMGD", "+CMGS")
_HANDLERS = {}
for _name in _COMMON:  # the 27.007 / 27.005 commands both manuals give alike
    _HANDLERS[_name] = a76._HANDLERS[_name]
del _name
_HANDLERS.update({
    "+CCID": _h_ccid,
    "+CGMM": _h_cgmm,
    "+CGMR": _h_cgmr,
    "+CCLK": _h_cclk,
    "+CPOWD": _h_cpowd,
    "+IPR": _number_setting("+IPR", "ipr", IPR_RATES),
    "+CNMP": _number_setting("+CNMP", "cnmp", (2, 13, 38, 51)),
    "+CMNB": _number_setting("+CMNB", "cmnb", (1, 2, 3)),
    "+CPSMS": _h_cpsms,
    "+CLTS": _flag_handler("+CLTS", "clts", (0, 1), test='"yy/MM/dd,hh:mm:ss+/-zz"'),
    "+CSCLK": _flag_handler("+CSCLK", "csclk", (0, 1)),
    "+CFGRI": _flag_handler("+CFGRI", "cfgri", (0, 1, 2)),
    "+CPSI": _h_cpsi,
    "+CGPIO": _h_cgpio,
    "+CGNSPWR": _h_cgnspwr,
    "+CGNSINF": _h_cgnsinf,
    "+CGNSCOLD": _h_cgnscold,
    "+CGNSCPY": _h_cgnscpy,
    "+CGNSXTRA": _h_cgnsxtra,
    "+HTTPTOFS": _h_httptofs,
    "+CGNSWARM": _h_cgnshot,
    "+CGNSHOT": _h_cgnshot,
    "+CNACT": _h_cnact,
    "+CACFG": _h_cacfg,
    "+CAOPEN": _h_caopen,
    "+CASEND": _h_casend,
    "+CARECV": _h_carecv,
    "+CACLOSE": _h_caclose,
    "+CASTATE": _h_castate,
})
