"""The board suite's fixtures, on pytest-embedded's serial service: the same tests run against
the virtual board in CI (tools/boardtest.py starts it, flashes it and runs this suite) and
against a real board on /dev/ttyUSB0 (README, "Real hardware").

    python -m pytest tests/board -p pytest_embedded --embedded-services serial --port PORT

The watch is expected flashed and running; the tests talk to its diagnostic console
(docs/console.md): a command line in, lines out until `ok` or `error: ...`, with the firmware's
event lines interleaved (skipped by their form). TRYGG_BOARD_WIRE, set by tools/boardtest.py
for the virtual board, names the simulated server's wire.jsonl: there a test also checks what
the server received (on a real board the console's counters say it)."""
import re

import pytest

# how long the watch may take, in real seconds (a real modem registers in ~10-60 s; the virtual
# board runs the world faster than real time)
BOOT_S = 180


class Console:
    def __init__(self, dut):
        self.dut = dut

    def ask(self, command, timeout=30):
        """Send a command; its answer lines (the console's own, event lines skipped) and the
        final `ok` / `error: ...` line."""
        self.dut.write(command)
        lines = []
        while True:
            m = self.dut.expect(re.compile(rb"([^\r\n]*)\r?\n"), timeout=timeout)
            line = m.group(1).decode("utf-8", "replace").strip()
            if line == "ok" or line.startswith("error: "):
                return lines, line
            word = command.split()[0] if command.split() else ""
            if line.startswith(word + " ") or line.startswith("selftest ") or \
                    line.startswith("gnss_fix ") or line in ("sos started", "sos already active"):
                lines.append(line)
            elif command == "help" and re.match(r"^[a-z]+( \[n\])? +\S", line):
                lines.append(line)

    def fields(self, command, timeout=30):
        """key=value pairs of the first answer line."""
        lines, end = self.ask(command, timeout)
        assert end == "ok" and lines, (command, lines, end)
        return dict(kv.split("=", 1) for kv in lines[0].split()[1:] if "=" in kv)

    def wait_for(self, command, pred, timeout_s=BOOT_S, every_s=3):
        """Ask again until pred(fields) holds; the last fields."""
        import time

        deadline = time.monotonic() + timeout_s
        while True:
            f = self.fields(command)
            if pred(f):
                return f
            assert time.monotonic() < deadline, "%s never became true: %r" % (command, f)
            time.sleep(every_s)


@pytest.fixture
def console(dut):
    c = Console(dut)
    # the console answers from the start of the firmware (before the modem is up); a board
    # still booting MicroPython gets a few tries
    for _ in range(30):
        try:
            c.ask("help", timeout=5)
            break
        except Exception:  # pexpect.TIMEOUT: not up yet
            continue
    return c
