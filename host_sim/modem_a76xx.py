"""SIMCom A76xx (A7670) AT-command emulator: the modem on the other side of the fake UART.

Wiring (host_sim/fakes/machine.py): `WIRING.attach_uart(tx, rx, emu)`; the fake UART calls
`emu.on_uart(uart)` when it is constructed and `emu.on_host_write(bytes)` for each write; the
emulator answers with `uart.feed(bytes)` on virtual time (`vt.after`). Pins:
`emu.attach_pins(pwrkey=WIRING.pin(4), dtr=WIRING.pin(25), ri=WIRING.pin(33))`.

Wire formats follow ../shared/docs/reference/hardware.md §1 byte for byte (sections cited at
each command). Where the reference is silent the choice is marked ASSUMED.

Choices and assumptions:
* Power (§5.2): a PWRKEY press (ESP32 GPIO high = key pressed, LilyGO NPN) of >= 50 ms while
  off powers on; it is measured between the rising and the falling edge on virtual time.
  `*ATREADY: 1` comes BOOT_MS (A7670 Ton(uart) 11.1 s) after the press began; `+CPIN: READY`,
  `SMS DONE`, `PB DONE` follow (§1.2). A press >= 2.5 s while on powers off. A pin that is
  already high when attached counts as pressed since then. Bytes sent while off or booting are
  dropped (counted in `dropped_bytes`, like bytes dropped asleep or muted).
* Every boot restores the defaults: echo on (§1.0), CMEE=1, CFGRI=0, CSCLK=0, push-mode sockets,
  GNSS off, network closed.
* CMEE defaults to 1 (numeric): the A7670 log in §1.1 shows `+CME ERROR: 13` from a host that
  had not set CMEE. Unknown commands and syntax errors are always plain `ERROR`.
* AT+CCLK? before the network time arrives (registration) counts up from `70/01/01,00:00:00+00`
  since boot, as modules without NITZ do (ASSUMED): firmware must reject year 70. Network time
  stays valid until the next boot (automatic time-zone update assumed on, ASSUMED).
* CSQ from RSRP: RSSI ~ RSRP + 25 dB (5 MHz carrier), CSQ = (RSSI + 113) / 2 (§1.1) (ASSUMED).
* GNSS (§1.3): `+CGNSSPWR: READY!` GNSS_LOAD_FIRST_MS (9 s: firmware load) after the first
  AT+CGNSSPWR=1 since boot, GNSS_LOAD_MS (ASSUMED 2 s: already loaded) on later ones. A fix needs
  READY, sky (world.gnss_at not None) and the time to first fix counted from the later of READY
  and the sky appearing: cold 30 s when no fix within 4 h (or none since boot), hot 2 s. AT+CGNSSINFO
  without a fix (also when GNSS is off or not READY) answers the no-fix line of the variant.
* Sockets (§1.7): CIPOPEN errors: 1 no network/coverage, 2 network not opened, 4 refused
  (server down, nothing listening, server said no) or link busy, 11 DNS. Data bytes after the
  CIPSEND prompt are not echoed. After `+IPCLOSE` the unread data stays readable until
  AT+CIPCLOSE or a new AT+CIPOPEN on that link (ASSUMED). Coverage loss: `+CIPEVENT: NETWORK
  CLOSED UNEXPECTEDLY`, every link gone, network closed; the server's connection objects get
  close() (if they have one).
  The server side: world.connect(host, port, peer, send, close) -> conn; uplink bytes go to
  conn.receive(data); a device-side close calls conn.close() if present.
* Sleep (§1.9): with AT+CSCLK=1 the module sleeps once DTR is high and the UART (both
  directions) has been idle SLEEP_IDLE_MS; asleep, host bytes are dropped; DTR low wakes it in
  WAKE_MS. CSCLK=2: sleeps when idle whatever DTR is; the first bytes sent wake it and are lost.
  A URC wakes it (RI pulse, output, idle timer restarted) (ASSUMED).
* RI: idle high; with AT+CFGRI=1 every URC pulls it low for 60 ms (SMS 120 ms, not emulated yet).
* Energy: meter.set("modem", off|boot|idle|sleep|active) on every change. "active" means radio
  activity, not UART chatter: for ACTIVE_MS after registering, NETOPEN, CIPOPEN, CIPSEND,
  CIPCLOSE and every downlink packet. AT commands alone keep it "idle" (awake, 23 mA) — counting
  them as radio time would charge ~150 mA for each status poll. meter.set("gnss", on|off).
* Latencies come from our own LCG seeded with the IMEI, identical on CPython and MicroPython.
"""
from firmware import clock

OFF_MIN_MS = 2000  # minimum time off before a power-on press counts (hardware.md §5.2)
BOOT_MS = 11100  # PWRKEY press to *ATREADY: A7670 Ton(uart) 11.1 s (hardware.md §5.2)
CPIN_MS = 600  # *ATREADY -> +CPIN: READY (ASSUMED; the logs show them back to back)
SMS_DONE_MS = 2500  # *ATREADY -> SMS DONE (ASSUMED)
PB_DONE_MS = 3000  # *ATREADY -> PB DONE (ASSUMED)
REG_MS = 4000  # *ATREADY -> registered, if there is coverage (ASSUMED: 3-5 s)
REREG_MS = 3000  # coverage back -> registered again (ASSUMED)
PRESS_ON_MS = 50  # Ton: PWRKEY low >= 50 ms powers on (A7670-HD)
PRESS_OFF_MS = 2500  # PWRKEY low >= 2.5 s powers off (A7670-HD)
SLEEP_IDLE_MS = 10000  # idle UART before DTR sleep: "~10-20 s" (§1.9)
WAKE_MS = 50  # DTR low -> UART usable (ASSUMED)
GNSS_LOAD_FIRST_MS = 9000  # ASR1603 loads GNSS firmware ~9 s (§1.3, §5.2)
GNSS_LOAD_MS = 2000  # ASSUMED: firmware already loaded since boot
TTFF_COLD_MS = 30000  # cold start ~30 s (§3.3: SIM7000 < 35 s, SIM7070 < 31 s, L76K 30 s)
TTFF_HOT_MS = 2000  # hot start ~2 s (§3.3)
HOT_WINDOW_MS = 4 * 3600 * 1000  # a fix within 4 h keeps ephemeris usable (ASSUMED)
RI_URC_MS = 60  # RI low for a URC (§1.9)
RI_SMS_MS = 120  # RI low for an SMS (§1.9)
ACTIVE_MS = 2000  # radio "active" tail after each radio operation (ASSUMED)
BAUD = 115200  # UART speed: output takes wire time (10 bits a byte)
MAX_LINE = 3071  # A76xx command line buffer (§1.0)
MAX_SEND = 1500  # largest AT+CIPSEND length accepted (ASSUMED)
LINKS = 10  # socket links 0-9
LOCAL_IP = "10.148.0.17"  # what AT+IPADDR reports (the §1.7 example)

MODEL = "A7670E-FASE"  # a variant with GNSS (§1.2a)
REVISION = "A7670M7_V1.11.1"  # ASSUMED revision text

_CME_TEXT = {
    3: "operation not allowed",
    4: "operation not supported",
    13: "SIM failure",
    14: "SIM busy",
    30: "no network service",
    50: "incorrect parameters",
    100: "unknown error",
}

_ERROR = -1  # plain ERROR
_PROMPT = -2  # data prompt: enter data mode
_LATER = -3  # the handler schedules its own final result


class _Link:
    def __init__(self, n, host, port):
        self.n = n
        self.host = host
        self.ip = None
        self.port = port
        self.state = "opening"  # -> "open" -> "closed" (by the server; data still readable)
        self.conn = None
        self.rx = bytearray()
        self.notified = False  # +CIPRXGET: 1 sent and not read yet
        self.up_free = 0  # network FIFOs: packets keep their order
        self.down_free = 0


def _args(text):
    """Split '1,"TCP","a,b",80' at commas outside quotes; quotes removed."""
    out = []
    cur = ""
    inq = False
    for ch in text:
        if ch == '"':
            inq = not inq
        elif ch == "," and not inq:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


def _int(s):
    s = s.strip()
    if not s or not (s.isdigit() or (s[0] == "-" and s[1:].isdigit())):
        raise ValueError(s)
    return int(s)


def _dec(v, scale, digits):
    """Non-negative integer v / scale with exactly `digits` decimals (scale = 10**digits)."""
    return "%d.%0*d" % (v // scale, digits, v % scale)


class A76xxEmulator:
    def __init__(self, vt, world, imei, iccid, meter=None, variant="foreign"):
        if variant not in ("foreign", "manual", "domestic"):
            raise ValueError("variant: %r" % variant)
        self.vt = vt
        self.world = world
        self.imei = imei
        self.iccid = iccid
        self.meter = meter
        self.variant = variant
        self.uart = None
        self.pwrkey = None
        self.dtr = None
        self.ri = None
        # stats
        self.commands = 0
        self.bytes_to_host = 0
        self.bytes_from_host = 0
        self.dropped_bytes = 0
        self.urcs = 0
        self.boots = 0
        self.ri_pulses = 0
        self.last_command = None
        # state
        self.state = "off"  # "off" | "boot" | "on"
        self._gen = 0  # bumped at every power change: callbacks from an older life are ignored
        self._rng = 0
        for ch in str(imei):
            self._rng = (self._rng * 31 + ord(ch)) & 0x7FFFFFFF
        self._tx_free = 0
        self._press_at = None
        self._mute_until = 0
        self._meter_modem = None
        self._meter_gnss = None
        self._sleep_ev = None
        self._ri_until = 0
        self._reset_settings()
        for ms in world.coverage_changes():
            vt.at(ms, self._coverage_changed)
        self._meter()

    # ================================================================ wiring
    def on_uart(self, uart):
        self.uart = uart

    def attach_pins(self, pwrkey=None, dtr=None, ri=None):
        self.pwrkey = pwrkey
        self.dtr = dtr
        self.ri = ri
        if pwrkey is not None:
            if pwrkey.level:
                self._press_at = self.vt.ms
            pwrkey.watch(self._on_pwrkey)
        if dtr is not None:
            dtr.watch(self._on_dtr)
        if ri is not None:
            ri.drive(1)

    # ================================================================ settings and power
    def _reset_settings(self):
        self.echo = True
        self.cmee = 1
        self.cfgri = 0
        self.csclk = 0
        self.rx_mode = 0  # AT+CIPRXGET: 0 push, 1 buffer
        self.srip = 1  # AT+CIPSRIP: show RECV FROM
        self.creg_n = 0
        self.cgreg_n = 0
        self.cereg_n = 0
        self.cfun = 1
        self.apn = ""
        self.sim_ready = False
        self.registered = False
        self.nitz = False
        self.boot_ms = self.vt.ms
        self.net = 0  # 0 closed, 1 opening, 2 open
        self.links = [None] * LINKS
        self.gnss_on = False
        self.gnss_ready_ms = None
        self.gnss_loaded = False
        self._gnss_gen = 0
        self.last_fix_ms = None
        self.asleep = False
        self._waking = False
        self._line = bytearray()
        self._dm = None  # data mode: [link, remaining, buffer]
        self._last_io = self.vt.ms
        self._active_until = 0

    def _rand(self, lo, hi):
        self._rng = (self._rng * 1103515245 + 12345) & 0x7FFFFFFF
        return lo + (self._rng >> 8) % (hi - lo + 1)

    def _later(self, delay, fn):
        """fn() after delay ms, unless the modem has been power-cycled by then."""
        gen = self._gen

        def run():
            if gen == self._gen:
                fn()

        return self.vt.after(delay, run)

    def _drop_links(self):
        for i in range(LINKS):
            lk = self.links[i]
            self.links[i] = None
            if lk is not None and lk.state != "closed":
                lk.state = "closed"
                self._conn_close(lk)

    def _conn_close(self, lk):
        c = lk.conn
        lk.conn = None
        if c is not None and hasattr(c, "close"):
            c.close()

    def _go_off(self):
        self._drop_links()
        self._gen += 1
        self.state = "off"
        self._off_at = self.vt.ms
        self._mute_until = 0  # a hung module comes back from a power cycle
        self._press_at = None
        self._reset_settings()
        if self._sleep_ev is not None:
            self.vt.cancel(self._sleep_ev)
            self._sleep_ev = None
        self._meter()

    def _power_on(self, press_ms):
        self._gen += 1
        self.state = "boot"
        self._reset_settings()
        self.boots += 1
        self._meter()
        self._later(max(0, press_ms + BOOT_MS - self.vt.ms), self._atready)

    def _atready(self):
        self.state = "on"
        self.boot_ms = self.vt.ms
        self._last_io = self.vt.ms
        self._meter()
        self._urc("*ATREADY: 1")
        self._later(CPIN_MS, self._sim_ready)
        self._later(SMS_DONE_MS, lambda: self._urc("SMS DONE"))
        self._later(PB_DONE_MS, lambda: self._urc("PB DONE"))
        self._later(REG_MS, self._try_register)

    def _sim_ready(self):
        self.sim_ready = True
        self._urc("+CPIN: READY")

    # ---- faults for the runner ----
    def reboot(self):
        """The modem restarts by itself: links and network gone, GNSS off, boot URCs again."""
        if self.state == "off":
            return
        self._drop_links()
        self._power_on(self.vt.ms)

    def power_cut(self):
        """Power gone: off at once, no URC."""
        self._go_off()

    def garbage(self, data):
        """Emit raw bytes on the UART (line noise, a babbling modem)."""
        self._out(bytes(data), 0, gen=None)

    def mute(self, ms):
        """Ignore all input for ms."""
        self._mute_until = self.vt.ms + ms

    def hang(self):
        """The module's firmware locks up: all input ignored until it is powered off (a long
        PWRKEY press still works: it is a hardware line)."""
        self._mute_until = self.vt.ms + 10 ** 12

    # ---- pins ----
    def _on_pwrkey(self, level):
        now = self.vt.ms
        if level:
            self._press_at = now
            return
        t0 = self._press_at
        self._press_at = None
        if t0 is None:
            return
        held = now - t0
        if self.state == "off":
            # A7670-HD: wait >= 2 s after power-off before powering on again (hardware.md §5.2)
            if held >= PRESS_ON_MS and t0 - getattr(self, "_off_at", -OFF_MIN_MS) >= OFF_MIN_MS:
                self._power_on(t0)
        elif held >= PRESS_OFF_MS:
            self._go_off()

    def _dtr_high(self):
        return self.dtr is not None and self.dtr.level == 1

    def _on_dtr(self, level):
        if self.state != "on":
            return
        if level:
            self._arm_sleep()
        elif self.asleep:
            self._wake()

    def _wake(self):
        if self._waking:
            return
        self._waking = True

        def done():
            self._waking = False
            self.asleep = False
            self._last_io = self.vt.ms
            self._arm_sleep()
            self._meter()

        self._later(WAKE_MS, done)

    def _arm_sleep(self):
        if self._sleep_ev is not None:
            self.vt.cancel(self._sleep_ev)
            self._sleep_ev = None
        if self.state != "on" or self.csclk == 0 or self.asleep:
            return
        gen = self._gen

        def check():
            self._sleep_ev = None
            if gen == self._gen:
                self._try_sleep()

        self._sleep_ev = self.vt.at(self._last_io + SLEEP_IDLE_MS, check)

    def _try_sleep(self):
        if self.state != "on" or self.asleep or self._dm is not None:
            return
        if self.csclk == 0 or (self.csclk == 1 and not self._dtr_high()):
            return
        if self.vt.ms - self._last_io < SLEEP_IDLE_MS:
            self._arm_sleep()
            return
        self.asleep = True
        self._meter()

    # ---- energy ----
    def _radio(self):
        """Radio traffic now: the modem is 'active' for ACTIVE_MS."""
        self._active_until = self.vt.ms + ACTIVE_MS
        self._meter()
        self._later(ACTIVE_MS, self._meter)

    def _meter(self):
        if self.meter is None:
            return
        if self.state == "off":
            st = "off"
        elif self.state == "boot":
            st = "boot"
        elif self.vt.ms < self._active_until:
            st = "active"
        elif self.asleep:
            st = "sleep"
        else:
            st = "idle"
        if st != self._meter_modem:
            self._meter_modem = st
            self.meter.set("modem", st)
        g = "on" if self.gnss_on and self.state != "off" else "off"
        if g != self._meter_gnss:
            self._meter_gnss = g
            self.meter.set("gnss", g)

    # ================================================================ output
    def _out(self, data, delay, urc=False, ri_ms=RI_URC_MS, gen=0):
        """Queue bytes for the host. Output is a FIFO: bytes leave in the order queued, each
        chunk taking its wire time at BAUD. Returns the ms at which it is delivered."""
        now = self.vt.ms
        due = now + delay
        if due < self._tx_free:
            due = self._tx_free
        self._tx_free = due + len(data) * 10000 // BAUD
        g = self._gen if gen == 0 else gen

        def deliver():
            if g is not None and g != self._gen:
                return
            self._deliver(data, urc, ri_ms)

        self.vt.at(due, deliver)
        return due

    def _deliver(self, data, urc, ri_ms):
        if urc and self.state != "off":
            self.urcs += 1
            self._last_io = self.vt.ms
            if self.asleep:  # a URC wakes the module (RI + output)
                self.asleep = False
                self._meter()
            self._arm_sleep()
        if self.uart is not None:
            self.uart.feed(data)
            self.bytes_to_host += len(data)
        if urc and self.cfgri and self.ri is not None:
            self._ri_pulse(ri_ms)

    def _ri_pulse(self, ms):
        self.ri_pulses += 1
        until = self.vt.ms + ms
        if until > self._ri_until:
            self._ri_until = until
        if self.ri.level:
            self.ri.drive(0)

        def release():
            if self.vt.ms >= self._ri_until and self.ri.level == 0:
                self.ri.drive(1)

        self.vt.at(until, release)

    def _urc(self, line, delay=0, ri_ms=RI_URC_MS):
        if isinstance(line, str):
            line = line.encode()
        return self._out(b"\r\n" + line + b"\r\n", delay, True, ri_ms)

    def _urc_raw(self, data, delay=0):
        return self._out(data, delay, True)

    # ================================================================ input
    def on_host_write(self, data):
        n = len(data)
        self.bytes_from_host += n
        now = self.vt.ms
        if self.state != "on" or now < self._mute_until:
            self.dropped_bytes += n
            return
        if self.asleep:
            self.dropped_bytes += n
            if self.csclk == 2:  # RX wake: the bytes that wake it are lost (§1.9)
                self._wake()
            return
        self._last_io = now
        self._arm_sleep()
        i = 0
        while i < n:
            dm = self._dm
            if dm is not None:
                take = min(dm[1], n - i)
                dm[2] += data[i:i + take]
                dm[1] -= take
                i += take
                if dm[1] == 0:
                    self._dm = None
                    self._send_done(dm[0], bytes(dm[2]))
                continue
            b = data[i]
            i += 1
            if b == 13:
                line = bytes(self._line)
                self._line = bytearray()
                self._command(line)
            elif b == 10 and not self._line:
                continue  # the LF of a CRLF terminator
            else:
                self._line.append(b)
                if len(self._line) > MAX_LINE:
                    self._line = bytearray()

    def _command(self, line):
        if not line.strip():
            return
        self.commands += 1
        if self.echo:  # the command line exactly as received, with its CR (§1.0)
            self._out(line + b"\r", 1)
        self._resp = bytearray()
        self._post = []
        try:
            text = line.decode()
        except Exception:
            text = ""
        self.last_command = text
        result = self._execute(text)
        resp = bytes(self._resp)
        if result == _PROMPT:
            self._out(resp + b"\r\n> ", self._rand(5, 30))
            return
        if result == _LATER:
            if resp:
                self._out(resp, self._rand(5, 30))
            return
        self._out(resp + self._final(result), self._rand(5, 30))
        for line, delay in self._post:  # URCs that follow the final result (FIFO keeps them after)
            self._urc(line, delay)

    def _final(self, result):
        if result is None:
            return b"\r\nOK\r\n"
        if result == _ERROR or self.cmee == 0:
            return b"\r\nERROR\r\n"
        if self.cmee == 2:
            return ("\r\n+CME ERROR: %s\r\n" % _CME_TEXT.get(result, "unknown error")).encode()
        return ("\r\n+CME ERROR: %d\r\n" % result).encode()

    def _urc_after(self, line, delay):
        """A URC the current command triggers: it goes out after the command's final result."""
        self._post.append((line, delay))

    def _info(self, line):
        self._resp += b"\r\n" + line.encode() + b"\r\n"

    def _execute(self, text):
        """Run one command line (possibly several commands chained with ';' after one AT)."""
        if len(text) < 2 or text[:2].upper() != "AT":
            return _ERROR
        body = text[2:]
        cmds = []
        i = 0
        n = len(body)
        while i < n:
            c = body[i]
            if c == ";" or c == " ":
                i += 1
            elif c in "+*$^":
                j = i
                inq = False
                while j < n and (inq or body[j] != ";"):
                    if body[j] == '"':
                        inq = not inq
                    j += 1
                cmds.append(body[i:j])
                i = j + 1
            else:
                j = i + 2 if c == "&" else i + 1
                while j < n and body[j].isdigit():
                    j += 1
                cmds.append(body[i:j])
                i = j
        result = None
        for cmd in cmds:
            if cmd[0] in "+*$^":
                result = self._extended(cmd)
            else:
                result = self._basic(cmd.upper())
            if result is not None:
                break
        return result

    def _basic(self, cmd):
        c = cmd[0]
        v = cmd[1:] or "0"
        if c == "E" and v in ("0", "1"):
            self.echo = v == "1"
            return None
        if c in "VQ" or cmd in ("&F", "&F0", "&W", "&W0", "Z", "Z0", "H", "H0"):
            return None
        if c == "I":
            self._info("Manufacturer: SIMCOM INCORPORATED")
            self._info("Model: %s" % MODEL)
            self._info("Revision: %s" % REVISION)
            self._info("IMEI: %s" % self.imei)
            return None
        return _ERROR

    def _extended(self, cmd):
        k = 0
        n = len(cmd)
        while k < n and cmd[k] not in "=?":
            k += 1
        name = cmd[:k].upper()
        rest = cmd[k:]
        if rest == "":
            kind, args = "exec", []
        elif rest == "?":
            kind, args = "read", []
        elif rest == "=?":
            kind, args = "test", []
        elif rest[0] == "=":
            kind, args = "write", _args(rest[1:])
        else:
            return _ERROR
        h = _HANDLERS.get(name)
        if h is None:
            return _ERROR
        try:
            return h(self, kind, args)
        except (ValueError, IndexError):
            return _ERROR

    # ================================================================ registration, network
    def _reg_stat(self):
        if self.registered:
            return 1
        if self.state == "on" and self.cfun == 1 and self.sim_ready and self.world.coverage_at():
            return 2
        return 0

    def _reg_urcs(self):
        st = self._reg_stat()
        if self.creg_n:
            self._urc("+CREG: %d" % st)
        if self.cgreg_n:
            self._urc("+CGREG: %d" % st)
        if self.cereg_n:
            self._urc("+CEREG: %d" % st)

    def _try_register(self):
        if self.state != "on" or self.cfun != 1 or self.registered:
            return
        if not self.world.coverage_at():
            return  # coverage_changed() registers when it comes back
        self.registered = True
        self.nitz = True
        self._radio()
        self._reg_urcs()

    def _lose_network(self, urc=True):
        was = self.registered
        self.registered = False
        if was:
            self._reg_urcs()
        if self.net and urc:
            self._urc("+CIPEVENT: NETWORK CLOSED UNEXPECTEDLY")
        self.net = 0
        self._drop_links()

    def _coverage_changed(self):
        if self.state != "on":
            return
        if self.world.coverage_at():
            if self.cfun == 1 and self.sim_ready and not self.registered:
                self._later(REREG_MS, self._try_register)
        else:
            self._lose_network()

    # ================================================================ sockets
    def _cipopen_result(self, lk):
        if lk.state != "opening":
            if lk.state == "closed":  # the network went away while connecting
                self._urc("+CIPOPEN: %d,1" % lk.n)
            return  # "cancelled" by AT+CIPCLOSE: nothing to report
        err = 0
        if self.net != 2:
            err = 2
        elif not self.registered or not self.world.coverage_at():
            err = 1
        else:
            lk.ip = self.world.resolve(lk.host)
            if lk.ip is None:
                err = 11
            else:

                def send(data, lk=lk):
                    self._net_down(lk, bytes(data))

                def close(lk=lk):
                    self._net_closed(lk)

                peer = "%s:%d" % (LOCAL_IP, 40000 + lk.n)
                lk.state = "open"  # the server may send from inside connect()
                lk.down_free = self.vt.ms
                conn = self.world.connect(lk.host, lk.port, peer, send, close)
                if conn is None:
                    err = 4
                else:
                    lk.conn = conn
        self._radio()
        if err:
            lk.state = "closed"
            self.links[lk.n] = None
        self._urc("+CIPOPEN: %d,%d" % (lk.n, err))

    def _net_down(self, lk, data):
        """The server sent data: it reaches the modem after network latency, in order. Half the
        time a message is split in two TCP segments a few ms apart (TCP keeps no message
        boundaries), so the firmware's reassembly of partial frames is exercised."""
        due = self.vt.ms + self._rand(50, 150)
        if due < lk.down_free:
            due = lk.down_free
        parts = [data]
        if len(data) > 8 and self._rand(0, 1):
            cut = self._rand(1, len(data) - 1)
            parts = [data[:cut], data[cut:]]
        for part in parts:
            lk.down_free = due
            self._later(due - self.vt.ms, lambda p=part: self._rx(lk, p))
            due += self._rand(5, 40)

    def _rx(self, lk, data):
        if self.links[lk.n] is not lk or lk.state != "open":
            return
        self._radio()
        if self.rx_mode == 1:
            lk.rx += data
            if not lk.notified:
                lk.notified = True
                self._urc("+CIPRXGET: 1,%d" % lk.n)
        else:
            head = "\r\n"
            if self.srip:
                head += "RECV FROM:%s:%d\r\n" % (lk.ip, lk.port)
            head += "+IPD%d\r\n" % len(data)
            self._urc_raw(head.encode() + data)

    def _net_closed(self, lk):
        """The server closed the connection: +IPCLOSE after the data already on its way."""
        due = self.vt.ms + self._rand(50, 150)
        if due < lk.down_free:
            due = lk.down_free
        lk.down_free = due

        def arrive():
            if self.links[lk.n] is not lk or lk.state != "open":
                return
            lk.state = "closed"
            lk.conn = None
            self._urc("+IPCLOSE: %d,1" % lk.n)

        self._later(due - self.vt.ms, arrive)

    def _send_done(self, n, data):
        lk = self.links[n]
        if lk is None or lk.state != "open" or lk.conn is None:
            self._out(self._final(_ERROR), self._rand(5, 30))
            return
        self._out(b"\r\nOK\r\n", self._rand(5, 30))
        self._urc("+CIPSEND: %d,%d,%d" % (n, len(data), len(data)), self._rand(20, 60))
        self._radio()
        due = self.vt.ms + self._rand(50, 150)
        if due < lk.up_free:
            due = lk.up_free
        lk.up_free = due

        def arrive():
            c = lk.conn
            if c is not None and lk.state == "open" and self.world.coverage_at():
                c.receive(data)

        self._later(due - self.vt.ms, arrive)

    # ================================================================ GNSS
    def _gnss_ready(self):
        self.gnss_ready_ms = self.vt.ms
        self.gnss_loaded = True
        self._urc("+CGNSSPWR: READY!")

    def gnss_fix(self):
        """The fix the receiver has now (world.gnss_at dict) or None."""
        now = self.vt.ms
        if not self.gnss_on or self.gnss_ready_ms is None:
            return None
        g = self.world.gnss_at(now)
        if g is None:
            return None
        start = self.gnss_ready_ms
        since = self.world.sky_since(now)
        if since is not None and since > start:
            start = since
        if self.last_fix_ms is not None and start - self.last_fix_ms <= HOT_WINDOW_MS:
            ttff = TTFF_HOT_MS
        else:
            ttff = TTFF_COLD_MS
        if now < start + ttff:
            return None
        self.last_fix_ms = now
        return g

    def _gnss_line(self, g):
        v = self.variant
        if g is None:
            return "+CGNSSINFO: " + (",,,,,,,,,,,,,,," if v == "manual" else ",,,,,,,,")
        y, mo, d, h, mi, s = clock.to_parts(self.world.utc())
        date = "%02d%02d%02d" % (d, mo, y % 100)
        utc = "%02d%02d%02d.00" % (h, mi, s)
        lat, lon = g["lat"], g["lon"]
        ns = "N" if lat >= 0 else "S"
        ew = "E" if lon >= 0 else "W"
        lat, lon = abs(lat), abs(lon)
        n = g["sats"]
        h10 = g["hdop10"]
        p10 = h10 * 13 // 10
        v10 = h10 * 8 // 10
        alt = "%d.0" % g["alt"]
        spd = g["speed"]  # 0.1 km/h
        if v == "manual":
            knots10 = (spd * 1000 + 926) // 1852
            return "+CGNSSINFO: 3,%02d,%02d,00,%s,%s,%s,%s,%s,%s,%s,%s,%d.0,%s,%s,%s" % (
                n - n // 3, n // 3, _ddmm(lat, 2), ns, _ddmm(lon, 3), ew, date, utc, alt,
                _dec(knots10, 10, 1), g["course"], _dec(p10, 10, 1), _dec(h10, 10, 1), _dec(v10, 10, 1))
        knots = _dec((spd * 100000 + 926) // 1852, 1000, 3)
        course = "" if spd == 0 else "%d.00" % g["course"]
        if v == "foreign":
            return "+CGNSSINFO: 3,%02d,,%02d,00,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,0" % (
                n - n // 3, n // 3, _dec(lat * 10, 10000000, 7), ns, _dec(lon * 10, 10000000, 7), ew,
                date, utc, alt, knots, course, _dec(p10 * 10, 100, 2), _dec(h10 * 10, 100, 2),
                _dec(v10 * 10, 100, 2))
        return "+CGNSSINFO: 3,%02d,%02d,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%02d" % (
            n - n // 3, n // 3, _dec(lat, 1000000, 6), ns, _dec(lon, 1000000, 6), ew, date, utc, alt,
            knots, course, _dec(p10, 10, 1), _dec(h10, 10, 1), _dec(v10, 10, 1), n)

    # ================================================================ stats
    def stats(self):
        return {"commands": self.commands, "bytes_to_host": self.bytes_to_host,
                "bytes_from_host": self.bytes_from_host, "dropped_bytes": self.dropped_bytes,
                "urcs": self.urcs, "boots": self.boots}


def _ddmm(udeg, deg_digits):
    """micro-degrees (>= 0) -> 'ddmm.mmmmmm' / 'dddmm.mmmmmm' (exact: 1e-6 min = 1/60 udeg)."""
    deg = udeg // 1000000
    mu = udeg % 1000000 * 60  # micro-minutes
    return "%0*d%02d.%06d" % (deg_digits, deg, mu // 1000000, mu % 1000000)


# ==================================================================== command handlers
# Each handler(emu, kind, args) appends info lines with emu._info() and returns None (OK), a CME
# error number, _ERROR, _PROMPT (data mode) or _LATER (it schedules its own final result).


def _h_at_ok(e, kind, args):
    return None


def _h_cmee(e, kind, args):
    if kind == "read":
        e._info("+CMEE: %d" % e.cmee)
        return None
    if kind == "write":
        v = _int(args[0])
        if v not in (0, 1, 2):
            return _ERROR
        e.cmee = v
        return None
    if kind == "test":
        e._info("+CMEE: (0-2)")
        return None
    return _ERROR


def _h_cpin(e, kind, args):
    if kind == "read":
        if not e.sim_ready:
            return 13  # early after boot: SIM failure until +CPIN: READY (§1.1 log)
        e._info("+CPIN: READY")
        return None
    return 3 if kind == "write" else _ERROR


def _csq(e):
    c = e.world.cell_at() if e.registered else None
    if c is None:
        return 99
    rssi = c["rsrp"] + 25
    v = (rssi + 113) // 2
    return 0 if v < 0 else 31 if v > 31 else v


def _h_csq(e, kind, args):
    if kind == "exec":
        e._info("+CSQ: %d,99" % _csq(e))
        return None
    if kind == "test":
        e._info("+CSQ: (0-31,99),(0-7,99)")
        return None
    return _ERROR


def _reg_handler(name, attr):
    def h(e, kind, args):
        if kind == "read":
            n = getattr(e, attr)
            st = e._reg_stat()
            if n == 2 and st in (1, 5):
                c = e.world.cell_at()
                if c is not None:
                    act = ",7" if name == "+CEREG" else ""
                    e._info('%s: %d,%d,"%04X","%07X"%s' % (name, n, st, c["tac"], c["cid"], act))
                    return None
            e._info("%s: %d,%d" % (name, n, st))
            return None
        if kind == "write":
            v = _int(args[0]) if args[0] else 0
            if v not in (0, 1, 2):
                return _ERROR
            setattr(e, attr, v)
            return None
        if kind == "test":
            e._info("%s: (0-2)" % name)
            return None
        return _ERROR

    return h


def _h_cops(e, kind, args):
    if kind == "read":
        if not e.registered:
            e._info("+COPS: 0")
            return None
        mcc, mnc, name = e.world.operator()
        if name:
            e._info('+COPS: 0,0,"%s",7' % name)
        else:
            e._info('+COPS: 0,2,"%d%02d",7' % (mcc, mnc))
        return None
    if kind == "write":
        return None
    return _ERROR


def _h_cgsn(e, kind, args):
    if kind != "exec" and kind != "test":
        return _ERROR
    if kind == "exec":
        e._info(e.imei)
    return None


def _h_simei(e, kind, args):
    if kind != "read":
        return _ERROR
    e._info("+SIMEI: %s" % e.imei)
    return None


def _h_ciccid(e, kind, args):
    if kind != "exec":
        return _ERROR
    if not e.sim_ready:
        return 13
    e._info("+ICCID: %s" % e.iccid)
    return None


def _h_simcomati(e, kind, args):
    if kind != "exec":
        return _ERROR
    # the revision lines are ASSUMED (LilyGO only tells users to send the command)
    e._info("Manufacturer: SIMCOM INCORPORATED")
    e._info("Model: %s" % MODEL)
    e._info("Revision: %s" % REVISION)
    e._info("IMEI: %s" % e.imei)
    return None


def _h_cgmm(e, kind, args):
    e._info(MODEL)
    return None


def _h_cgmi(e, kind, args):
    e._info("SIMCOM INCORPORATED")
    return None


def _h_cgmr(e, kind, args):
    e._info("+CGMR: %s" % REVISION)
    return None


def _h_cclk(e, kind, args):
    if kind == "write":
        return None  # accepted; the network time wins at the next registration
    if kind != "read":
        return _ERROR
    if e.nitz:
        y, mo, d, h, mi, s = e.world.local_parts()
        q = e.world.tz_offset_min // 15 if e.world.tz_offset_min >= 0 else -((-e.world.tz_offset_min) // 15)
        zone = "%s%02d" % ("+" if q >= 0 else "-", abs(q))
        e._info('+CCLK: "%02d/%02d/%02d,%02d:%02d:%02d%s"' % (y % 100, mo, d, h, mi, s, zone))
    else:
        up = (e.vt.ms - e.boot_ms) // 1000
        days, secs = divmod(up, 86400)
        y, mo, d = clock.civil_from_days(days)
        e._info('+CCLK: "%02d/%02d/%02d,%02d:%02d:%02d+00"' % (y % 100, mo, d, secs // 3600,
                                                                secs // 60 % 60, secs % 60))
    return None


def _h_cfun(e, kind, args):
    if kind == "read":
        e._info("+CFUN: %d" % e.cfun)
        return None
    if kind != "write":
        return _ERROR
    f = _int(args[0])
    rst = _int(args[1]) if len(args) > 1 and args[1] else 0
    if f == 6 or (f == 1 and rst == 1):
        e._later(100, e.reboot)
        return None
    if f in (0, 4, 7, 8):
        e.cfun = f
        e._lose_network(urc=False)
        return None
    if f == 1:
        if e.cfun != 1:
            e.cfun = 1
            e._later(REREG_MS, e._try_register)
        return None
    return _ERROR


def _h_cpof(e, kind, args):
    if kind != "exec":
        return _ERROR
    e._resp += b"\r\nOK\r\n"
    due = e._out(bytes(e._resp), e._rand(5, 30))
    e._resp = bytearray()
    e._later(due - e.vt.ms + 1, e._go_off)
    return _LATER


def _h_creset(e, kind, args):
    if kind != "exec":
        return _ERROR
    e._later(100, e.reboot)
    return None


def _flag_handler(name, attr, allowed):
    def h(e, kind, args):
        if kind == "read":
            e._info("%s: %d" % (name, getattr(e, attr)))
            return None
        if kind == "write":
            v = _int(args[0])
            if v not in allowed:
                return _ERROR
            setattr(e, attr, v)
            if attr == "csclk":
                e._arm_sleep()
            return None
        return _ERROR

    return h


def _h_cgdcont(e, kind, args):
    if kind == "write":
        if len(args) >= 3:
            e.apn = args[2]
        return None
    if kind == "read":
        e._info('+CGDCONT: 1,"IP","%s","0.0.0.0",0,0,0,0' % e.apn)
        return None
    return _ERROR


def _h_cgatt(e, kind, args):
    if kind == "read":
        e._info("+CGATT: %d" % (1 if e.registered else 0))
        return None
    return None if kind == "write" else _ERROR


def _h_cgnsspwr(e, kind, args):
    if kind == "read":
        e._info("+CGNSSPWR: %d,1,1,0" % (1 if e.gnss_on else 0))
        return None
    if kind != "write":
        return _ERROR
    v = _int(args[0])
    if v == 1:
        if not e.gnss_on:
            e.gnss_on = True
            e.gnss_ready_ms = None
            e._gnss_gen += 1
            gg = e._gnss_gen

            def ready():
                if e.gnss_on and gg == e._gnss_gen:
                    e._gnss_ready()

            e._later(GNSS_LOAD_MS if e.gnss_loaded else GNSS_LOAD_FIRST_MS, ready)
            e._meter()
        return None
    if v == 0:
        if e.gnss_on:
            e.gnss_fix()  # remember a fix held right now (hot start next time)
        e.gnss_on = False
        e.gnss_ready_ms = None
        e._gnss_gen += 1
        e._meter()
        return None
    return _ERROR


def _h_cgpscold(e, kind, args):
    if kind != "exec":
        return _ERROR
    e.last_fix_ms = None
    if e.gnss_on and e.gnss_ready_ms is not None:
        e.gnss_ready_ms = e.vt.ms
    return None


def _h_cgpshot(e, kind, args):
    return None if kind == "exec" else _ERROR


def _h_accept(e, kind, args):
    return None


def _h_cgnssinfo(e, kind, args):
    if kind == "exec":
        g = e.gnss_fix()
        # a real A7670 without a fix sometimes answers just OK (hardware.md §1.3): 1 in 4 here
        if g is not None or e._rand(0, 3):
            e._info(e._gnss_line(g))
        return None
    if kind == "write":
        return None  # periodic reports: accepted, not emulated
    return _ERROR


def _h_cgpsinfo(e, kind, args):
    if kind != "exec":
        return _ERROR
    g = e.gnss_fix()
    if g is None:
        e._info("+CGPSINFO: ,,,,,,,,")
        return None
    y, mo, d, h, mi, s = clock.to_parts(e.world.utc())
    knots10 = (g["speed"] * 1000 + 926) // 1852
    e._info("+CGPSINFO: %s,%s,%s,%s,%02d%02d%02d,%02d%02d%02d.0,%d.0,%s,%d" % (
        _ddmm(abs(g["lat"]), 2), "N" if g["lat"] >= 0 else "S", _ddmm(abs(g["lon"]), 3),
        "E" if g["lon"] >= 0 else "W", d, mo, y % 100, h, mi, s, g["alt"], _dec(knots10, 10, 1), g["course"]))
    return None


def _h_cpsi(e, kind, args):
    if kind != "read":
        return _ERROR
    c = e.world.cell_at() if e.registered else None
    if c is None:
        e._info("+CPSI: NO SERVICE, Low Power Mode")  # §1.4 (A76xx no-service text)
        return None
    rsrp = c["rsrp"]
    rsrq = -6 + (rsrp + 80) // 6
    if rsrq < -20:
        rsrq = -20
    if rsrq > -3:
        rsrq = -3
    rssi = rsrp + 25
    snr = 10 + (rsrp + 100) // 5
    snr = 0 if snr < 0 else 30 if snr > 30 else snr
    e._info("+CPSI: LTE,Online,%d-%02d,0x%04X,%d,%d,EUTRAN-BAND20,6300,5,5,%d,%d,%d,%d" % (
        c["mcc"], c["mnc"], c["tac"], c["cid"], c["cid"] % 504, 2 * rsrq + 40, rsrp + 140, rssi + 110, snr))
    return None


def _h_netopen(e, kind, args):
    if kind == "read":
        e._info("+NETOPEN: %d" % (1 if e.net == 2 else 0))
        return None
    if kind != "exec":
        return _ERROR
    if e.net:
        e._info("+IP ERROR: Network is already opened")
        return _ERROR
    e.net = 1

    def result():
        if e.net != 1:
            return
        if e.registered and e.world.coverage_at():
            e.net = 2
            e._radio()
            e._urc("+NETOPEN: 0")
        else:
            e.net = 0
            e._urc("+NETOPEN: 1")

    e._later(e._rand(300, 800), result)
    return None


def _h_netclose(e, kind, args):
    if kind != "exec":
        return _ERROR
    if e.net == 0:
        e._info("+NETCLOSE: 2")  # ASSUMED: network not opened
        return _ERROR
    e.net = 0
    e._drop_links()
    e._urc_after("+NETCLOSE: 0", e._rand(100, 300))
    return None


def _h_ipaddr(e, kind, args):
    if kind != "exec" or e.net != 2:
        return _ERROR
    e._info("+IPADDR: %s" % LOCAL_IP)
    return None


def _h_cipopen(e, kind, args):
    if kind == "read":
        for i in range(LINKS):
            lk = e.links[i]
            if lk is not None and lk.state == "open":
                e._info('+CIPOPEN: %d,"TCP","%s",%d,-1' % (i, lk.ip, lk.port))
            else:
                e._info("+CIPOPEN: %d" % i)
        return None
    if kind != "write" or len(args) < 4:
        return _ERROR
    n = _int(args[0])
    if n < 0 or n >= LINKS or args[1].upper() != "TCP":
        return _ERROR
    port = _int(args[3])
    old = e.links[n]
    if old is not None and old.state != "closed":
        e._urc_after("+CIPOPEN: %d,4" % n, e._rand(40, 60))  # link in use
        return None
    # a link the server closed is free again; its unread bytes are gone (ASSUMED)
    lk = _Link(n, args[2], port)
    if e.net != 2:
        e._urc_after("+CIPOPEN: %d,2" % n, e._rand(40, 60))
        return None
    e.links[n] = lk
    e._later(e._rand(100, 300), lambda: e._cipopen_result(lk))
    return None


def _h_cipsend(e, kind, args):
    if kind != "write" or len(args) < 2:
        return _ERROR
    n = _int(args[0])
    length = _int(args[1])
    if n < 0 or n >= LINKS or length < 1 or length > MAX_SEND:
        return _ERROR
    lk = e.links[n]
    if lk is None or lk.state != "open":
        return _ERROR
    e._dm = [n, length, bytearray()]
    return _PROMPT


def _h_ciprxget(e, kind, args):
    if kind != "write":
        return _ERROR
    mode = _int(args[0])
    if mode in (0, 1) and len(args) == 1:
        e.rx_mode = mode
        return None
    if e.rx_mode != 1 or len(args) < 2:
        return _ERROR
    n = _int(args[1])
    if n < 0 or n >= LINKS:
        return _ERROR
    lk = e.links[n]
    if lk is None:
        return _ERROR
    if mode == 4:
        e._info("+CIPRXGET: 4,%d,%d" % (n, len(lk.rx)))
        return None
    if mode == 2:
        mx = _int(args[2]) if len(args) > 2 and args[2] else MAX_SEND
        if mx < 1 or mx > MAX_SEND:
            return _ERROR
        data = bytes(lk.rx[:mx])
        lk.rx = lk.rx[len(data):]
        e._info("+CIPRXGET: 2,%d,%d,%d" % (n, len(data), len(lk.rx)))
        e._resp += data
        if not lk.rx:
            lk.notified = False
        return None
    return _ERROR


def _h_cipclose(e, kind, args):
    if kind != "write":
        return _ERROR
    n = _int(args[0])
    if n < 0 or n >= LINKS:
        return _ERROR
    lk = e.links[n]
    if lk is None:
        e._info("+CIPCLOSE: %d,4" % n)  # ASSUMED: link not open
        return _ERROR
    e.links[n] = None
    if lk.state == "opening":
        lk.state = "cancelled"
    elif lk.state == "open":
        lk.state = "closed"
        e._conn_close(lk)
        e._radio()
    e._urc_after("+CIPCLOSE: %d,0" % n, e._rand(20, 80))
    return None


_HANDLERS = {
    "+CMEE": _h_cmee,
    "+CPIN": _h_cpin,
    "+CSQ": _h_csq,
    "+CREG": _reg_handler("+CREG", "creg_n"),
    "+CGREG": _reg_handler("+CGREG", "cgreg_n"),
    "+CEREG": _reg_handler("+CEREG", "cereg_n"),
    "+COPS": _h_cops,
    "+CGSN": _h_cgsn,
    "+GSN": _h_cgsn,
    "+SIMEI": _h_simei,
    "+CICCID": _h_ciccid,
    "+SIMCOMATI": _h_simcomati,
    "+CGMM": _h_cgmm,
    "+CGMI": _h_cgmi,
    "+CGMR": _h_cgmr,
    "+CCLK": _h_cclk,
    "+CFUN": _h_cfun,
    "+CPOF": _h_cpof,
    "+CRESET": _h_creset,
    "+CFGRI": _flag_handler("+CFGRI", "cfgri", (0, 1)),
    "+CSCLK": _flag_handler("+CSCLK", "csclk", (0, 1, 2)),
    "+CIPSRIP": _flag_handler("+CIPSRIP", "srip", (0, 1)),
    "+CGDCONT": _h_cgdcont,
    "+CGATT": _h_cgatt,
    "+CGNSSPWR": _h_cgnsspwr,
    "+CGPSCOLD": _h_cgpscold,
    "+CGPSWARM": _h_cgpshot,
    "+CGPSHOT": _h_cgpshot,
    "+CGNSSMODE": _h_accept,
    "+CGNSSTST": _h_accept,
    "+CGNSSPORTSWITCH": _h_accept,
    "+CGNSSINFO": _h_cgnssinfo,
    "+CGPSINFO": _h_cgpsinfo,
    "+CPSI": _h_cpsi,
    "+NETOPEN": _h_netopen,
    "+NETCLOSE": _h_netclose,
    "+IPADDR": _h_ipaddr,
    "+CIPOPEN": _h_cipopen,
    "+CIPSEND": _h_cipsend,
    "+CIPRXGET": _h_ciprxget,
    "+CIPCLOSE": _h_cipclose,
    "+CIPHEAD": _h_accept,
    "+CIPCCFG": _h_accept,
    "+CIPTIMEOUT": _h_accept,
    "+CIPMODE": _h_accept,
    "+CTZU": _h_accept,
    "+CLTS": _h_accept,
}
