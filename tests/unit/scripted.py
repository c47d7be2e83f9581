"""A scripted fake UART for driver tests (a small real object, STYLE.md habit 5).

    u = ScriptedUART()
    u.on("AT+CSQ", b"\\r\\n+CSQ: 21,99\\r\\n\\r\\nOK\\r\\n")              # reply at once
    u.on("AT+NETOPEN", [(0, b"\\r\\nOK\\r\\n"), (300, b"\\r\\n+NETOPEN: 0\\r\\n")])
    u.on(b"hello", b"\\r\\nOK\\r\\n", data=True)                          # raw bytes after '>'
    u.push(b"\\r\\n+IPCLOSE: 1,1\\r\\n", 500)                           # unsolicited, later

Rules answer the host's command lines (written bytes up to CR). A match string ending in '*'
matches any line starting with the rest. Rules are tried in the order given; each answers
`times` lines (0 = forever), then is dropped. Delays are virtual ms (support.VT), so schedule
delayed things inside the coroutine that support.run() runs (it resets virtual time).
Lines nobody answers are kept in `unmatched`; every write is in `log` as (virtual ms, bytes).
"""
import support


class ScriptedUART:
    def __init__(self):
        self._rx = bytearray()
        self._out = bytearray()  # written, not yet matched
        self._rules = []  # [match, stages, times, data]
        self.log = []
        self.unmatched = []

    # ---- scripting --------------------------------------------------------------------------

    def on(self, match, reply=b"", delay_ms=0, times=1, data=False):
        """When the host writes line `match` (or raw bytes `match` if data) reply with reply:
        bytes (after delay_ms) or a list of (delay_ms, bytes) stages."""
        if isinstance(reply, (bytes, bytearray)):
            stages = [(delay_ms, bytes(reply))]
        else:
            stages = list(reply)
        if data and isinstance(match, str):
            match = match.encode()
        self._rules.append([match, stages, times, data])

    def push(self, data, delay_ms=0):
        """Unsolicited bytes from the modem, now or after delay_ms virtual ms."""
        self._deliver(delay_ms, bytes(data))

    def _deliver(self, delay_ms, data):
        if delay_ms <= 0:
            self._rx.extend(data)
            return

        def arrive():
            self._rx.extend(data)

        support.VT.after(delay_ms, arrive)

    # ---- what the host did ------------------------------------------------------------------

    @property
    def written(self):
        return b"".join(b for _, b in self.log)

    def commands(self):
        """The writes that end in CR (command lines, as the engine writes them), as text."""
        out = []
        for _, b in self.log:
            if b.endswith(b"\r"):
                out.append(str(b[:-1], "ascii"))
        return out

    # ---- the UART interface the firmware sees -----------------------------------------------

    def any(self):
        return len(self._rx)

    def read(self, n=-1):
        if not self._rx:
            return None
        if n is None or n < 0 or n >= len(self._rx):
            n = len(self._rx)
        data = bytes(self._rx[:n])
        self._rx = self._rx[n:]
        return data

    def write(self, b):
        b = bytes(b)
        self.log.append((support.VT.ms, b))
        self._out.extend(b)
        self._match()
        return len(b)

    def _match(self):
        while self._out:
            if self._match_data():
                continue
            i = self._out.find(b"\r")
            if i < 0:
                return
            line = str(self._out[:i], "ascii")
            self._out = self._out[i + 1:]
            rule = self._find(line)
            if rule is None:
                self.unmatched.append(line)
            else:
                self._fire(rule)

    def _match_data(self):
        for rule in self._rules:
            m = rule[0]
            if rule[3] and bytes(self._out[:len(m)]) == m:
                self._out = self._out[len(m):]
                self._fire(rule)
                return True
        return False

    def _find(self, line):
        for rule in self._rules:
            if rule[3]:
                continue
            m = rule[0]
            if line == m or (m.endswith("*") and line.startswith(m[:-1])):
                return rule
        return None

    def _fire(self, rule):
        for delay, data in rule[1]:
            self._deliver(delay, data)
        if rule[2] == 1:
            self._rules.remove(rule)
        elif rule[2] > 1:
            rule[2] -= 1
