"""AT command engine: one command at a time over a polled UART, URCs dispatched as they come.

Wire rules it relies on (hardware.md §1.0): commands end with CR; every reply line and final
result is framed "\\r\\n...\\r\\n"; the data prompt is "\\r\\n> " with no line end after it, so a
'>' at the start of an unterminated line is the prompt.

Reading is by polling (uart.any()/uart.read()) with sleep_ms(poll_ms) between empty polls, so
the scheduler's idle hook can sleep (ARCHITECTURE.md "Time and the idle hook"). Bytes are only
read while someone asks: a running command, pump() or wait(). Nothing here raises garbage into
the caller's loop: bad lines are counted in `garbage` and skipped.

URCs that carry raw bytes after their line (a text-mode '+CMT:' with AT+CSDH=1: the header
says how many bytes of body follow, hardware.md §1.5) are registered with a data_len function;
the engine reads exactly that many bytes as data, so a body line such as 'OK' or '+CIPRXGET: 1,0'
is never taken for a result or a URC.

Priorities (ARCHITECTURE.md §3a): one command at a time, but a command sent with urgent=True
(SOS work) goes ahead of every normal command still waiting for the channel. Nothing waits on
the channel for long: result URCs (a GNSS READY, a socket result) are awaited outside the lock.

Counters: garbage (undecodable / control bytes, unknown unsolicited lines, stale results),
timeouts, urcs (lines handed to handlers or waiters), truncated (lines cut at max_line),
handler_errors (a URC handler raised; printed and counted).
"""
import asyncio

from firmware import clock, log
from firmware.compat import const, sleep_ms

_MAX_LINE = const(512)  # longest line kept; the rest of a longer line is dropped and counted
_CHUNK = const(256)  # bytes read from the UART per call (its default rx buffer size, hardware.md §4)
_MAX_DATA = const(4096)  # bound on a raw payload announced by a response line
# Bound on what one command's reply keeps (its lines and payloads): the longest real one, a full
# SIM's AT+CMGL (40 SMS in UCS2), is ~15 KB. A modem that babbles lines without a final result
# would otherwise fill the heap until the command's timeout (115200 baud: ~11 KB a second).
_MAX_REPLY = const(24576)
_RAW_MS = const(2000)  # announced raw bytes must arrive within this (4 KiB take ~360 ms)
_EIO = const(5)
_ECONNRESET = const(104)
_ETIMEDOUT = const(110)

# Final results of dial-style commands (ATD/ATA), hardware.md §1.0 numeric codes 3, 6, 7, 8.
_DIAL_FINALS = ("NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE")


class ATError(OSError):
    """The modem answered ERROR (code None), +CME ERROR / +CMS ERROR (code: int or text), a
    dial failure (code: the result text) or reported a failure in a result URC."""

    def __init__(self, command, code=None):
        super().__init__(_EIO, "%s: %s" % (command, "ERROR" if code is None else code))
        self.command = command
        self.code = code


class ATTimeout(OSError):
    """No final result (or awaited URC) in time. errno 110 (ETIMEDOUT)."""


class ATReset(OSError):
    """The modem restarted (*ATREADY / RDY) while a command or waiter was pending."""


def is_reboot(line):
    """A76xx prints '*ATREADY: 1' after boot; SIM7600/SIM7000/Quectel print 'RDY' (hardware.md §1.2)."""
    return line.startswith("*ATREADY") or line == "RDY"


def _error_code(text):
    t = text.strip()
    return int(t) if t.isdigit() else t


class _Waiter:
    """One awaited URC line (e.g. '+CIPOPEN: 1,'), see ATEngine.expect()."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.line = None
        self.error = None


class ATEngine:
    """AT command engine over a UART-like object (any(), read(n), write(b)).

    Create it inside the running asyncio loop (it owns an asyncio.Lock; CPython binds asyncio
    primitives to a loop). before_cmd (async, no args) and after_cmd (plain, no args) run
    around every command while the lock is held: the A76xx driver wakes the modem through DTR
    there (hardware.md §1.9).
    """

    def __init__(self, uart, poll_ms=10, max_line=_MAX_LINE):
        self.uart = uart
        self.poll_ms = poll_ms
        self._line = bytearray(max_line)  # the line being assembled, allocated once
        self._ln = 0
        self._long = False
        self._chunk = b""  # last read from the UART and how far it has been consumed
        self._cmv = memoryview(self._chunk)
        self._pos = 0
        self._handlers = []  # [(prefix, fn(line))]
        self._waiters = []
        self._reboot = None
        # True once ATE0 succeeded: an echo after that means the modem lost its settings, i.e.
        # it restarted while its *ATREADY went unseen (sent while the ESP32 light-slept)
        self.echo_off = False
        self._lock = asyncio.Lock()
        self.busy = False
        self.before_cmd = None
        self.after_cmd = None
        self.garbage = 0
        self.timeouts = 0
        self.silent = 0  # commands in a row that got no final result: a hung modem
        self.silent_max = 3
        self.on_hung = None  # fn() when `silent` reaches silent_max (the driver queues an event)
        self._urgent = 0  # urgent commands waiting for the channel
        # raw bytes being read after a line: [done(data), buffer, got, deadline]
        self._rawp = None
        self.urcs = 0
        self.truncated = 0
        self.handler_errors = 0

    # ---- registration -----------------------------------------------------------------------

    @property
    def expecting(self):
        """A result URC is awaited (+CIPOPEN, +CGNSSPWR: READY!...): the UART must stay up."""
        return bool(self._waiters)

    def on_urc(self, prefix, handler, data_len=None):
        """Lines starting with prefix that are not the running command's response go to
        handler(line) (a plain function: keep it short, no awaits). Replaces an earlier
        handler for the same prefix. With data_len, data_len(line) raw bytes follow the line
        and the handler gets handler(line, data); a bad length (ValueError, < 0 or too big)
        counts as garbage and the handler gets data None."""
        for i, h in enumerate(self._handlers):
            if h[0] == prefix:
                self._handlers[i] = (prefix, handler, data_len)
                return
        self._handlers.append((prefix, handler, data_len))

    def on_reboot(self, handler):
        """handler(line) runs whenever '*ATREADY' / 'RDY' is seen, idle or mid-command."""
        self._reboot = handler

    def expect(self, prefix):
        """Register interest in the next URC starting with prefix *before* sending the command
        that causes it (it may arrive in the same read as the OK). Await it with wait()."""
        w = _Waiter(prefix)
        self._waiters.append(w)
        return w

    def cancel(self, waiter):
        if waiter in self._waiters:
            self._waiters.remove(waiter)

    # ---- commands ---------------------------------------------------------------------------

    async def cmd(self, command, timeout_ms=5000, prefix=None, data_prefix=None, data_len=None,
                  urgent=False):
        """Send command, return its info lines after OK.

        prefix: only lines starting with it are the response (others go to URC handlers or
        are counted as garbage); without it, every line that no handler claims is returned.
        data_prefix/data_len: a line starting with data_prefix is followed by data_len(line)
        raw bytes; then (lines, data) is returned, data being every payload concatenated in
        order (split it again with data_len). urgent: ahead of every normal command waiting.
        """
        return await self._locked(command, None, timeout_ms, prefix, data_prefix, data_len, urgent)

    async def send_data(self, command, data, timeout_ms=10000, prefix=None, urgent=False):
        """command, wait for the '>' prompt, write data, then the final result as for cmd()."""
        return await self._locked(command, data, timeout_ms, prefix, None, None, urgent)

    async def pump(self):
        """Read and dispatch whatever is pending (URCs while no command runs)."""
        if not self.busy:
            self._drain()

    async def wait(self, waiter, timeout_ms):
        """The line an expect() waiter caught; ATTimeout if none in time, ATReset on reboot."""
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        try:
            while True:
                if waiter.line is None and waiter.error is None and not self.busy:
                    self._drain()  # a running command dispatches for us
                if waiter.error is not None:
                    raise waiter.error
                if waiter.line is not None:
                    return waiter.line
                if clock.ticks_diff(deadline, clock.ticks_ms()) <= 0:
                    self.timeouts += 1
                    raise ATTimeout(_ETIMEDOUT, "no " + waiter.prefix)
                await sleep_ms(self.poll_ms)
        finally:
            self.cancel(waiter)

    async def _acquire(self, urgent):
        """Take the channel. Urgent callers are counted while they wait; a normal caller that
        gets the lock while one waits hands it on and queues again (the lock wakes waiters in
        order, so the urgent one is reached after at most the normal ones ahead of it)."""
        if urgent:
            self._urgent += 1
            try:
                await self._lock.acquire()
            finally:
                self._urgent -= 1
            return
        while True:
            await self._lock.acquire()
            if not self._urgent:
                return
            self._lock.release()
            await sleep_ms(0)

    async def _locked(self, command, data, timeout_ms, prefix, data_prefix, data_len, urgent=False):
        await self._acquire(urgent)
        try:
            self.busy = True
            try:
                if self.before_cmd is not None:
                    await self.before_cmd()
                return await self._run(command, data, timeout_ms, prefix, data_prefix, data_len)
            finally:
                self.busy = False
                if self.after_cmd is not None:
                    self.after_cmd()
        finally:
            self._lock.release()

    async def _run(self, command, data, timeout_ms, prefix, data_prefix, data_len):
        # Whatever arrived before the command (URCs, a late reply to a timed-out command) is
        # dispatched or counted now, so it cannot be taken for this command's response.
        self._drain()
        self.uart.write((command + "\r").encode())
        deadline = clock.ticks_add(clock.ticks_ms(), timeout_ms)
        lines = []
        parts = []  # the raw payloads announced by data_prefix lines, in order
        kept = 0  # bytes in lines and parts
        echo = command
        prompt = data is not None
        dial = command[:3].upper() == "ATD" or command.upper() == "ATA"
        while True:
            line = self._next_line()
            if line is None:
                if prompt and self._prompt():
                    prompt = False
                    self.uart.write(data)
                    continue
                if clock.ticks_diff(deadline, clock.ticks_ms()) <= 0:
                    if self._rawp is not None:
                        self._raw_abandon()  # its bytes must not swallow the next reply
                    self.timeouts += 1
                    self.silent += 1
                    if self.silent == self.silent_max and self.on_hung is not None:
                        self.on_hung()
                    raise ATTimeout(_ETIMEDOUT, "timeout: " + command)
                await sleep_ms(self.poll_ms)
                continue
            if is_reboot(line):
                self._rebooted(line)
                raise ATReset(_ECONNRESET, "modem restarted during " + command)
            if line == echo:  # echo is on until ATE0 (hardware.md §1.0)
                echo = None
                if self.echo_off:
                    self.echo_off = False
                    self.urcs += 1
                    if self._reboot is not None:
                        self._call(self._reboot, "echo is back: the modem restarted")
                continue
            if prompt and line == ">":
                # the prompt line was completed by a URC right behind it before we looked
                prompt = False
                self.uart.write(data)
                continue
            self.silent = 0
            if line == "OK":
                if prompt:  # OK without a prompt: nothing was sent
                    raise ATError(command, "no prompt")
                if data_prefix is None:
                    return lines
                if None in parts:
                    self.timeouts += 1
                    raise ATTimeout(_ETIMEDOUT, "timeout in data of " + command)
                return lines, b"".join(parts)
            if line == "ERROR":
                raise ATError(command)
            if line.startswith("+CME ERROR:") or line.startswith("+CMS ERROR:"):
                raise ATError(command, _error_code(line[11:]))
            if dial and line in _DIAL_FINALS:
                raise ATError(command, line)
            if data_prefix is not None and line.startswith(data_prefix):
                n = self._announced(data_len, line)
                kept += len(line) + (n if n > 0 else 0)
                if kept > _MAX_REPLY:
                    self._too_long(command)
                lines.append(line)
                if n >= 0:
                    self._raw_start(n, parts.append)  # read by _next_line, before any line
                continue
            if prefix is not None and line.startswith(prefix):
                kept += len(line)
                if kept > _MAX_REPLY:
                    self._too_long(command)
                lines.append(line)
                continue
            if self._dispatch(line):
                continue
            if prefix is None:
                kept += len(line)
                if kept > _MAX_REPLY:
                    self._too_long(command)
                lines.append(line)
            else:
                self.garbage += 1

    def _too_long(self, command):
        """A reply past _MAX_REPLY: the command fails now; the rest of the babble is counted as
        garbage by the next command's drain, not kept."""
        self.truncated += 1
        raise ATError(command, "reply over %d bytes" % _MAX_REPLY)

    # ---- reading ----------------------------------------------------------------------------

    def _fill(self):
        """True if unconsumed bytes are at hand (reading the UART if needed)."""
        if self._pos < len(self._chunk):
            return True
        n = self.uart.any()
        if not n:
            return False
        data = self.uart.read(n if n < _CHUNK else _CHUNK)
        if not data:
            return False
        self._chunk = data
        self._cmv = memoryview(data)
        self._pos = 0
        return True

    def _next_line(self):
        """The next complete, clean line (str), or None when no complete line is pending."""
        buf = self._line
        cap = len(buf)
        if self._rawp is not None and clock.ticks_diff(clock.ticks_ms(), self._rawp[3]) > 0:
            self._raw_abandon()
        while self._fill():
            if self._rawp is not None:
                self._raw_feed()
                continue
            ch = self._chunk
            pos = self._pos
            i = ch.find(b"\n", pos)
            end = len(ch) if i < 0 else i
            k = end - pos
            if k > cap - self._ln:
                k = cap - self._ln
                self._long = True
            if k:
                buf[self._ln:self._ln + k] = self._cmv[pos:pos + k]
                self._ln += k
            if i < 0:
                self._pos = len(ch)
                continue
            self._pos = i + 1
            s = self._take()
            if s is not None:
                return s
        return None

    def _take(self):
        """Finish the assembled line: strip CR/space, check it is printable ASCII."""
        n = self._ln
        self._ln = 0
        if self._long:
            self._long = False
            self.truncated += 1
        buf = self._line
        s = 0
        noise = False
        # Leading noise (e.g. bytes at the wrong baud rate while the modem boots) is dropped
        # and counted, so a '*ATREADY' right behind it is still seen.
        while s < n:
            b = buf[s]
            if 32 < b < 127:
                break
            if b != 13 and b != 32:
                noise = True
            s += 1
        e = n
        while e > s and (buf[e - 1] == 13 or buf[e - 1] == 32):
            e -= 1
        for j in range(s, e):
            b = buf[j]
            if b < 32 or b > 126:
                self.garbage += 1
                return None
        if noise:
            self.garbage += 1
        if e == s:
            return None
        return str(buf[s:e], "ascii")

    def _prompt(self):
        """The unterminated partial line is the data prompt: '>' after optional CR/space."""
        buf = self._line
        for j in range(self._ln):
            b = buf[j]
            if b == 62:  # '>'
                self._ln = 0
                return True
            if b != 13 and b != 32:
                return False
        return False

    # ---- dispatch ---------------------------------------------------------------------------

    def _drain(self):
        """Dispatch every complete line pending while no command owns the stream."""
        while True:
            line = self._next_line()
            if line is None:
                return
            if is_reboot(line):
                self._rebooted(line)
            elif not self._dispatch(line):
                self.garbage += 1  # unknown unsolicited line or a stale result

    def _dispatch(self, line):
        for w in self._waiters:
            if line.startswith(w.prefix):
                w.line = line
                self._waiters.remove(w)
                self.urcs += 1
                return True
        for p, fn, data_len in self._handlers:
            if line.startswith(p):
                self.urcs += 1
                if data_len is None:
                    self._call(fn, line)
                    return True
                n = self._announced(data_len, line)
                if n < 0:
                    self._call(fn, line, None)
                else:
                    self._raw_start(n, lambda data: self._call(fn, line, data))
                return True
        return False

    def _call(self, fn, line, *data):
        try:
            fn(line, *data)
        except Exception as e:  # a handler bug must not break the reader
            self.handler_errors += 1
            log.event("error", where="urc_handler", line=line[:40], err=repr(e))

    def _announced(self, data_len, line):
        """How many raw bytes follow line (data_len(line)); -1, counted as garbage, when the
        length is unreadable or beyond _MAX_DATA."""
        try:
            n = data_len(line)
        except (ValueError, IndexError):
            n = -1
        if n < 0 or n > _MAX_DATA:
            self.garbage += 1
            return -1
        return n

    def _raw_start(self, n, done):
        """n raw bytes follow the line just read (a command's payload, a URC's body): the next
        reads collect them, never split into lines, then done(data) runs. A modem that
        announced more than it sends must not swallow the lines after it for ever: what has
        not come within _RAW_MS is dropped (done(None)) and the reader resyncs."""
        self._rawp = [done, bytearray(n), 0, clock.ticks_add(clock.ticks_ms(), _RAW_MS)]
        if n == 0:
            self._raw_done()

    def _raw_feed(self):
        r = self._rawp
        buf = r[1]
        k = len(buf) - r[2]
        left = len(self._chunk) - self._pos
        if k > left:
            k = left
        buf[r[2]:r[2] + k] = self._cmv[self._pos:self._pos + k]
        self._pos += k
        r[2] += k
        if r[2] == len(buf):
            self._raw_done()

    def _raw_done(self):
        r = self._rawp
        self._rawp = None
        r[0](bytes(r[1]))

    def _raw_abandon(self):
        r = self._rawp
        self._rawp = None
        self.garbage += 1
        r[0](None)

    def _rebooted(self, line):
        self.urcs += 1
        for w in self._waiters:
            w.error = ATReset(_ECONNRESET, "modem restarted while waiting for " + w.prefix)
        self._waiters = []
        if self._reboot is not None:
            self._call(self._reboot, line)
