"""The diagnostic console: line commands on the board's USB serial for QA (issue 9, docs/console.md).

It follows micropython-lib's aiorepl convention, not its code: one asyncio task reads the USB
serial a byte at a time through an asyncio stream (asyncio.StreamReader(sys.stdin.buffer)) while
the watch's tasks run. Waiting costs nothing: the task waits on the stream, which asyncio's
poll (and the board's idle hook, firmware/idle.py) watch; no loop wakes the ESP32 to look.

Rules that keep mpremote and the watch safe:
* Ctrl-C is left alone (micropython.kbd_intr is not touched): it still interrupts the firmware
  into the REPL, so mpremote can take over the board as ever.
* Nothing is printed unasked except the one BANNER line at start. Every command's output ends
  with a line `ok` or `error: <reason>`; an empty line is no command and gets no answer (mpremote
  sends a CR before its Ctrl-C). The firmware's own event lines (firmware/log.py) still appear
  on the same serial between them.
* Every command runs under try/except: an exception is answered `error: <exc>` and the console
  reads on; garbage (bytes outside printable ASCII, lines over _MAX_LINE) is answered with one
  `error:` line per line and never reaches a command.

Streams are injected: Console(app, reader, writer) with reader.read(1) -> awaitable bytes (b""
at the end) and writer.write(str). The App opens stdio() on the board only (firmware/app.py);
the simulator and the unit tests pass their own streams or none.
"""
import asyncio
import sys

from firmware import clock, fsutil, log
from firmware import sos as sosmod
from firmware.compat import const, sleep_ms, wait_for_ms
from firmware.drivers.at import ATError
from firmware.fix import format_udeg

BANNER = "trygg console: type help"
_MAX_LINE = const(96)  # the longest command is a few words: more is garbage, not kept
_LOG_DEFAULT = const(20)
_LOG_MAX = const(200)
# selftest bounds (each part is also cut off by _PART_MS, a backstop for a wait nobody foresaw)
_PART_MS = const(20000)
_AT_MS = const(3000)
# GNSS: the receiver's firmware load takes ~9 s (READY, hardware.md §1.3; the driver waits up to
# 12 s), then a look of up to _GNSS_LOOK_MS: a hot start fixes in a few seconds, a cold one
# under open sky needs ~30 s and is not waited for ("no sky" then says only that none came)
_GNSS_LOOK_MS = const(15000)
_GNSS_PART_MS = const(45000)
_SERVER_PART_MS = const(45000)
_TCP_MS = const(20000)
_TEST_LINK = const(1)  # the uplink uses link 0 (firmware/uplink.py): a trial connect takes 1
_MV_MIN = const(3000)  # a Li-ion cell reads 3.0..4.4 V (4.2 V full; above: no cell, a charger)
_MV_MAX = const(4400)
_FLASH_NAME = "selftest.tmp"
# Light sleep stops the ESP32's UARTs and MicroPython has no UART wake (hardware.md §4): bytes
# typed while the watch sleeps are lost. awake() says when a session is likely, for the board
# to stay out of light sleep: after a boot (a QA tool that opens the port resets the board) and
# after the last byte heard.
_AWAKE_BOOT_MS = const(120000)
_AWAKE_MS = const(300000)
# settings never shown: the SMS command PIN and any credential a later key adds
_SECRETS = ("pin",)
_SECRET_PARTS = ("pass", "secret", "token", "pwd")
_REG = {0: "not_searching", 1: "home", 2: "searching", 3: "denied", 4: "unknown", 5: "roaming"}

_HELP = (
    ("help", "this list"),
    ("status", "device, board, uptime, battery, modem, server, queues and modes on one line"),
    ("fix", "the last position given out and the last GNSS fix"),
    ("modem", "model, IMEI, registration, signal and serving cell"),
    ("outbox", "the queues of reports and alarms"),
    ("config", "every setting, one per line, secrets masked as ***"),
    ("sos", "start an SOS, exactly as a long press of the button does"),
    ("selftest", "check modem sim network gnss server flash battery button wifi steps (up to ~2 min)"),
    ("log [n]", "the last n log events (default %d)" % _LOG_DEFAULT),
)
_COMMANDS = {"help": "_help", "status": "_status", "fix": "_fix", "modem": "_modem",
             "outbox": "_outbox", "config": "_config", "sos": "_sos", "selftest": "_selftest",
             "log": "_log"}
_PARTS = ("modem", "sim", "network", "gnss", "server", "flash", "battery", "button", "wifi", "steps")
_NEEDS_MODEM = ("sim", "network", "gnss", "server")


def stdio():
    """The board's USB serial as (reader, writer), or None where the console must not read
    the process's stdin: anywhere but a MicroPython board, unless TRYGG_CONSOLE=1 is set in the
    environment (a virtual board on the unix port, whose stdin is its pty)."""
    if sys.implementation.name != "micropython":
        return None
    if sys.platform != "esp32":
        import os

        getenv = getattr(os, "getenv", None)
        if getenv is None or getenv("TRYGG_CONSOLE") != "1":
            return None
    # bytes, not text: a byte that is not UTF-8 must be garbage to answer, not an exception
    return asyncio.StreamReader(getattr(sys.stdin, "buffer", sys.stdin)), sys.stdout


def clean(text, most=160):
    """Printable ASCII on one line, at most `most` characters (for error lines and values)."""
    out = []
    for c in str(text)[:most]:
        out.append(c if " " <= c <= "~" else "?")
    return "".join(out)


def value(x):
    """A value for key=value: `-` when unknown, yes/no for a flag, no spaces or `=` inside."""
    if x is None:
        return "-"
    if x is True:
        return "yes"
    if x is False:
        return "no"
    out = []
    for c in str(x)[:64]:
        out.append(c if " " < c <= "~" and c != "=" else "_")
    return "".join(out) or "-"


def kv(head, pairs):
    """'head k=v k=v ...' from (key, value) pairs."""
    parts = [head]
    for k, v in pairs:
        parts.append("%s=%s" % (k, value(v)))
    return " ".join(parts)


def secret(key):
    """Is the setting a secret (shown as ***)?"""
    if key in _SECRETS:
        return True
    for p in _SECRET_PARTS:
        if p in key:
            return True
    return False


def config_lines(values):
    """`config key=value` for every setting, sorted, values as JSON; a secret that is set is
    `***` (an empty one shows as "", which tells only that it is not set)."""
    import json

    out = []
    for k in sorted(values):
        v = values[k]
        if secret(k) and v != "":
            shown = "***"
        else:
            shown = json.dumps(v)
        out.append("config %s=%s" % (k, shown))
    return out


def modem_state(m, booting=False):
    """booting (being brought up: at boot or after a reboot or hang), down (not started, or
    restarted and not set up again), hung (commands in a row unanswered), else up."""
    if booting:
        return "booting"
    if m.needs_init:
        return "down"
    if m.at.silent >= m.at.silent_max:
        return "hung"
    return "up"


def _rssi_dbm(csq):
    # +CSQ rssi 0..31 -> -113..-51 dBm; 99 unknown (3GPP TS 27.007 §8.5, hardware.md §1.1)
    if csq is None or not 0 <= csq <= 31:
        return None
    return -113 + 2 * csq


def _cell(c):
    return None if c is None else "%d-%d-%d-%d" % (c.mcc, c.mnc, c.lac, c.cid)


class Console:
    def __init__(self, app, reader, writer, max_line=_MAX_LINE):
        """app: the running firmware.app.App (read through its attributes; parts that are not
        up yet read as `-`); reader/writer: see the module docstring."""
        self.app = app
        self._r = reader
        self._w = writer
        self._buf = bytearray(max_line)
        self._greeted = False
        self._model = None  # AT+CGMM, asked once
        self._since = clock.ticks_ms()  # the boot window of awake(); None once it is over
        self._heard = None  # ticks of the last byte read
        self.commands = 0  # lines run as commands
        self.garbage = 0  # lines answered as garbage

    def awake(self):
        """Should the ESP32 stay out of light sleep, so that typed bytes are not lost? For
        _AWAKE_BOOT_MS after the start and _AWAKE_MS after the last byte heard; a pure function
        of the ticks, cheap enough for the board's idle hook (boards/*.py sleep_ok)."""
        now = clock.ticks_ms()
        if self._since is not None:
            if clock.ticks_diff(now, self._since) < _AWAKE_BOOT_MS:
                return True
            self._since = None  # over: ticks_diff would wrap after ~6 days
        h = self._heard
        if h is not None:
            if clock.ticks_diff(now, h) < _AWAKE_MS:
                return True
            self._heard = None
        return False

    def _line(self, text):
        self._w.write(text + "\n")

    async def _byte(self):
        """The next byte as an int, None at the end of the stream."""
        d = await self._r.read(1)
        if not d:
            return None
        self._heard = clock.ticks_ms()
        return d[0] if not isinstance(d, str) else ord(d[0])

    async def run(self):
        """The task: never returns (a stream that ends leaves it waiting for nothing)."""
        if not self._greeted:
            self._greeted = True
            self._line(BANNER)
        buf = self._buf
        n = 0
        bad = None
        while True:
            b = await self._byte()
            if b is None:
                log.event("console", state="closed")
                await asyncio.Event().wait()  # nothing more can come; costs nothing
            if b == 10 or b == 13:  # LF or CR ends a line (CR LF: the LF is an empty line)
                if bad is not None:
                    self.garbage += 1
                    self._line("error: " + bad)
                elif n:
                    await self.execute(bytes(buf[:n]).decode())
                n = 0
                bad = None
            elif bad is not None:
                pass  # the rest of a bad line is dropped unread
            elif b == 8 or b == 127:  # backspace, DEL: a person at a terminal
                n = n - 1 if n else 0
            elif b != 9 and (b < 32 or b > 126):
                bad = "binary input (byte 0x%02x)" % b
            elif n >= len(buf):
                bad = "line too long (more than %d bytes)" % len(buf)
            else:
                buf[n] = 32 if b == 9 else b
                n += 1

    async def execute(self, line):
        """Run one command line. Its output ends with `ok` or `error: ...`; never raises."""
        words = line.split()
        if not words:
            return
        self.commands += 1
        name = words[0].lower()
        method = _COMMANDS.get(name)
        if method is None:
            self._line("error: unknown command " + clean(words[0], 32))
            return
        try:
            err = await getattr(self, method)(words[1:])
        except Exception as e:  # noqa: BLE001 - a command's bug must not stop the console or the watch
            err = clean(repr(e))
        self._line("ok" if err is None else "error: " + err)

    # ---- the commands: each returns None (ok) or the reason of its error ---------------------

    def _no_args(self, name, args):
        return "%s takes no arguments" % name if args else None

    async def _help(self, args):
        for usage, text in _HELP:
            self._line("%-9s %s" % (usage, text))

    def _battery(self):
        try:
            b = self.app.board.battery
            mv = b.millivolts()
            return mv, b.percent()
        except Exception:  # noqa: BLE001 - no gauge (or a broken ADC) reads as unknown
            return None, None

    async def _status(self, args):
        if args:
            return self._no_args("status", args)
        a = self.app
        cfg = a.cfg
        b = a.board
        m = b.modem
        mv, pct = self._battery()
        device = a.device_id or (cfg["device_id"] if cfg is not None else None) or None
        sos = a.sos
        now = clock.wall.now()
        self._line(kv("status", (
            ("device", device),
            ("board", getattr(b, "name", None)),
            ("uptime_s", a.uptime_s()),
            ("battery_pct", pct),
            ("battery_mv", mv),
            ("modem", modem_state(m, a.booting)),
            ("registered", m.reg_stat == 1 or m.reg_stat == 5),
            ("server", "connected" if a.uplink is not None and a.uplink.connected else "disconnected"),
            ("outbox", len(a.outbox) if a.outbox is not None else None),
            ("alarms", len(a.alarms) if a.alarms is not None else None),
            ("school", "on" if a.school is not None and a.school.now_quiet else "off"),
            ("zones", len(cfg["zones"]) if cfg is not None else None),
            ("sos", "active" if sos is not None and sosmod.active(sos.s, clock.ticks_ms()) else "idle"),
            ("critical", a.power is not None and a.power.critical),
            ("time", clock.iso8601(now) if now is not None else None),
        )))

    async def _fix(self, args):
        if args:
            return self._no_args("fix", args)
        pos = self.app.positioning
        here = last = None
        if pos is not None:
            here, last = pos.here, pos.last
        now = clock.wall.now()
        f = here if here is not None else last
        self._line(kv("fix", self._where(f, now) + (("valid", None if f is None else f.valid),)))
        sats = None if last is None else last.sats
        self._line(kv("gnss_fix", self._where(last, now)[1:] + (("sats", sats),)))

    @staticmethod
    def _where(f, now):
        if f is None:
            return (("source", "none"), ("lat", None), ("lon", None), ("acc_m", None), ("age_s", None))
        age = None if now is None else max(0, now - f.t)
        return (("source", f.source), ("lat", format_udeg(f.lat)), ("lon", format_udeg(f.lon)),
                ("acc_m", f.acc), ("age_s", age))

    async def _modem(self, args):
        if args:
            return self._no_args("modem", args)
        a = self.app
        m = a.board.modem
        state = modem_state(m, a.booting)
        up = state == "up"
        imei = getattr(a, "imei", None)
        csq = None
        cell = a.reporter.last_cell if a.reporter is not None else None
        if self._model is None:
            self._model = getattr(m, "model", None)  # the driver's, when it read ATI at power-on
        if up:  # a few short commands (the modem stays awake ~10 s after them, hardware.md §1.9)
            try:
                if self._model is None:
                    for line in await m.at.cmd("AT+CGMM", _AT_MS):
                        if line.strip():
                            self._model = line.strip()
                            break
                if imei is None:
                    imei = await m.imei()
                csq = await m.csq()
                cell = await m.serving_cell() or cell
            except OSError:
                pass  # what was asked so far, and the rest as the driver knew it
        self._line(kv("modem", (
            ("model", self._model), ("imei", imei), ("reg", _REG.get(m.reg_stat)),
            ("rssi", _rssi_dbm(csq)), ("cell", _cell(cell)),
            ("cell_dbm", None if cell is None else cell.rssi),
            ("state", state), ("sim", m.sim_state), ("reboots", m.reboots),
            ("gnss", "absent" if getattr(m, "has_gnss", True) is False else "on" if m.gnss_on else "off"),
            ("bad_replies", m.bad_replies),
        )))

    @staticmethod
    def _next_seq(ob):
        # seqs are handed out in order and every seq <= acked is done: the next one follows
        # the queued ones (a put whose write failed also used a seq: exact only when the
        # outbox tells, next_seq)
        n = getattr(ob, "next_seq", None)
        return n if n is not None else ob.acked + len(ob) + 1

    async def _outbox(self, args):
        if args:
            return self._no_args("outbox", args)
        a = self.app
        ob, al, up = a.outbox, a.alarms, a.uplink
        if ob is None:
            return "outbox not open yet"
        pairs = [("queued", len(ob)), ("next_seq", self._next_seq(ob)), ("acked", ob.acked),
                 ("dropped", ob.dropped), ("corrupt", ob.corrupt), ("max", ob.max_items),
                 ("bytes", ob.bytes_on_flash())]
        if al is not None:
            pairs += [("alarms", len(al)), ("alarms_next_seq", self._next_seq(al))]
        pairs += [("delivered", up.delivered if up is not None else None),
                  ("server", "connected" if up is not None and up.connected else "disconnected")]
        self._line(kv("outbox", pairs))

    async def _config(self, args):
        if args:
            return self._no_args("config", args)
        for line in config_lines(self.app.cfg.as_dict()):
            self._line(line)

    async def _sos(self, args):
        if args:
            return self._no_args("sos", args)
        a = self.app
        s = a.sos
        # a press while the chain runs changes nothing; after it (tracking, or done) it starts
        # a new SOS, as sos.step() has it
        running = s is not None and s.s.phase != sosmod.IDLE and s.s.phase != sosmod.DONE
        a.long_press("console")  # the button's path: the SOS, and the buzz the child feels
        self._line("sos already active" if running else "sos started")

    async def _log(self, args):
        if len(args) > 1 or (args and not args[0].isdigit()):
            return "usage: log [n]"
        n = min(int(args[0]), _LOG_MAX) if args else _LOG_DEFAULT
        recent = getattr(log, "recent", None)
        if recent is None:
            return "no log history: firmware/log.py prints each event as it happens and keeps none"
        for e in recent(n):
            if isinstance(e, str):
                self._line("log " + clean(e, 200))
            else:
                kind, fields = e[0], e[1]
                self._line(clean(kv("log " + value(kind), [(k, fields[k]) for k in sorted(fields)]), 200))

    # ---- selftest ----------------------------------------------------------------------------

    async def _selftest(self, args):
        if args:
            return self._no_args("selftest", args)
        failed = 0
        modem_ok = True
        for part in _PARTS:
            if part in _NEEDS_MODEM and not modem_ok:
                ok, detail = False, "modem not answering"
            else:
                bound = _GNSS_PART_MS if part == "gnss" else _SERVER_PART_MS if part == "server" else _PART_MS
                try:
                    ok, detail = await wait_for_ms(getattr(self, "_t_" + part)(), bound)
                except asyncio.TimeoutError:
                    ok, detail = False, "no result within %d s (the modem busy with a call or an SMS?)" % (
                        bound // 1000)
                except Exception as e:  # noqa: BLE001 - a part that raises failed, the rest still run
                    ok, detail = False, repr(e)
            if part == "modem":
                modem_ok = ok
            if not ok:
                failed += 1
            self._line("selftest %s: %s %s" % (part, "pass" if ok else "fail", clean(detail, 120)))
        return None if not failed else "%d failed" % failed

    async def _t_modem(self):
        m = self.app.board.modem
        if m.needs_init:
            return False, "down: not started, or restarted and not set up again"
        await m.at.cmd("AT", _AT_MS)
        return True, "answers AT"

    async def _t_sim(self):
        m = self.app.board.modem
        ok = await m.wait_sim(0)  # one AT+CPIN?
        return ok, "%s" % m.sim_state

    async def _t_network(self):
        m = self.app.board.modem
        ok = await m.wait_registered(0)  # one AT+CEREG? and AT+CREG?
        return ok, _REG.get(m.reg_stat, "no answer")

    async def _t_gnss(self):
        """The receiver on (unless it is on already), a fix looked for, off again."""
        m = self.app.board.modem
        if getattr(m, "has_gnss", True) is False:  # the driver knows the model (hardware.md §1.2a)
            return True, "absent"
        try:
            await m.at.cmd("AT+CGNSSPWR?", _AT_MS, "+CGNSSPWR:")
        except ATError:
            # A7670G, A7670SA-LASE and others have no GNSS (hardware.md §1.2a): ERROR
            return True, "absent"
        was_on = m.gnss_on
        if not was_on and not await m.gnss_power(True):
            await m.gnss_power(False)
            return False, "the receiver did not start (no READY)"
        try:
            start = clock.ticks_ms()
            while True:
                f = await m.gnss_fix()
                if f is not None:
                    return True, "fix lat=%s lon=%s acc_m=%d sats=%d" % (
                        format_udeg(f.lat), format_udeg(f.lon), f.acc, f.sats)
                if clock.ticks_diff(clock.ticks_ms(), start) >= _GNSS_LOOK_MS:
                    return True, "no sky"
                await sleep_ms(1000)
        finally:
            if not was_on:
                await m.gnss_power(False)

    async def _t_server(self):
        a = self.app
        up = a.uplink
        cfg = a.cfg
        host, port = cfg["server_host"], cfg["server_port"]
        if up is not None and up.connected:
            return True, "connected %s:%d" % (host, port)
        if not host:
            return False, "no server configured (server_host)"
        m = a.board.modem
        await m.net_open()
        try:
            await m.tcp_open(_TEST_LINK, host, port, _TCP_MS)
        finally:
            try:
                await m.tcp_close(_TEST_LINK)
            except OSError:
                pass
        return True, "a connection to %s:%d can be made" % (host, port)

    async def _t_flash(self):
        import os

        path = fsutil.join(self.app.root, _FLASH_NAME)
        data = ("trygg selftest %d" % clock.ticks_ms()).encode()
        f = open(path, "wb")
        try:
            f.write(data)
        finally:
            f.close()
        back = fsutil.read_bytes(path)
        fsutil.remove(path)
        if back != data:
            return False, "read back %r" % (back[:24] if back else back)
        if fsutil.exists(path):
            return False, "not deleted"
        free = ""
        try:
            st = os.statvfs(self.app.root)
            free = ", %d KiB free" % (st[0] * st[4] // 1024)
        except (AttributeError, OSError):
            pass
        return True, "wrote, read and deleted %d bytes%s" % (len(data), free)

    async def _t_battery(self):
        b = self.app.board.battery
        mv = b.millivolts()
        if not _MV_MIN <= mv <= _MV_MAX:
            return False, "%d mV outside %d..%d" % (mv, _MV_MIN, _MV_MAX)
        return True, "%d mV %d%%" % (mv, b.percent())

    async def _t_button(self):
        btn = self.app.board.button
        if btn is None:
            return True, "absent"
        if btn.pressed():
            return False, "pressed: stuck, or held right now"
        return True, "released"

    async def _t_wifi(self):
        a = self.app
        wlan = getattr(a.board, "wlan", None)
        if wlan is None:
            return True, "absent"
        pos = a.positioning
        if pos is not None and pos.busy is not None and pos.busy():
            # a scan holds the interpreter ~1.7 s (firmware/positioning.py scan())
            return True, "not scanned: an SOS, a call or a buzz is under way"
        try:
            wlan.active(True)
            n = len(wlan.scan())
        finally:
            wlan.active(False)  # the radio draws 80-90 mA while on (hardware.md §3.1)
        return True, "scan returned %d networks" % n

    async def _t_steps(self):
        """The step counter (an accelerometer's pedometer, boards/*.py step_counter): found at
        boot and readable now, or absent (a board without one is an ordinary board)."""
        s = getattr(self.app.board, "steps", None)
        if s is None:
            return True, "absent"
        n = s.steps()  # OSError: the bus failed (the selftest reports it)
        return True, "LSM6DSL at 0x%02X, counter %d" % (s.addr, n)
