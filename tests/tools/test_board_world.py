"""host_sim/board_world.py: a flash folder prepared as tools/deploy.py prepares a board (the
.mpy build, main.py, /data/config.json from tools/provision.py) boots on the MicroPython unix
port in paced real time, reports to the in-process server, and stops on Ctrl-C into the caller.

Each test runs one MicroPython process the way a pty front end (tools/vboard.py) does: import
host_sim.board_world, make the folder the board's "/" (board_world.mount_flash), run main.py
(board_world.run_main), catch KeyboardInterrupt as a REPL would."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import compile as mpy  # noqa: E402
import deploy  # noqa: E402
import provision  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
SCENARIO = os.path.join(REPO, "host_sim", "scenarios", "school_day.json")
DEVICE = "862000012345674"  # the school day's IMEI: the device id when the config sets none
START = "16:45"  # the school day's park: open sky, a GNSS fix within a minute
START_MS = (16 * 60 + 45) * 60000
LIMIT_S = 40

HARNESS = """
import host_sim.board_world as bw
%s
bw.mount_flash()
try:
    bw.run_main()
except KeyboardInterrupt:
    print("REPL after Ctrl-C: vt_ms=%%d running=%%s" %% (bw.VT.ms, bw.WORLD.running()))
"""


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """A board's flash as deploy leaves it: the compiled build, main.py, the provisioned config
    (the school day's settings: its server, its zones)."""
    d = tmp_path_factory.mktemp("build")
    mpy.compile_all(str(d))
    (d / "main.py").write_text(deploy.MAIN.format(board="lilygo_t_a7670"))
    with open(SCENARIO) as f:
        values = json.load(f)["config"]
    values, _ = provision.with_pin(provision.checked(values))
    provision.write(values, str(d / "data"))
    return d


class Board:
    """One MicroPython process running the flash folder's main.py."""

    def __init__(self, flash, out, speed, setup="", stdin=subprocess.DEVNULL):
        env = dict(os.environ, MICROPYPATH=".frozen:" + REPO, TRYGG_VBOARD_SCENARIO=SCENARIO,
                   TRYGG_VBOARD_SPEED=str(speed), TRYGG_VBOARD_OUT=str(out),
                   TRYGG_VBOARD_START=START)
        env.pop("TRYGG_CONSOLE", None)
        self.out = out
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([MICROPYTHON, "-X", "heapsize=16M", "-c", HARNESS % setup],
                                  cwd=str(flash), env=env, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)

    def _lines(self, name):
        """The file's complete lines so far (the world writes them as they happen)."""
        try:
            with open(os.path.join(self.out, name)) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def wire(self):
        return self._lines("wire.jsonl")

    def events(self):
        return self._lines("events.jsonl")

    def wait_for(self, found, limit_s=LIMIT_S):
        end = time.monotonic() + limit_s
        while time.monotonic() < end and self.p.poll() is None:
            if found():
                return True
            time.sleep(0.2)
        return found()

    def interrupt(self):
        """Ctrl-C: the output up to the REPL, the wall seconds the process ran."""
        self.p.send_signal(signal.SIGINT)
        out = self.p.communicate(timeout=10)[0].decode("utf-8", "replace")
        return out, time.monotonic() - self.t0

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)
        for f in (self.p.stdin, self.p.stdout):
            if f is not None:
                f.close()


@pytest.fixture
def board(build, tmp_path):
    boards = []

    def start(speed, setup="", stdin=subprocess.DEVNULL):
        flash = tmp_path / "flash"
        shutil.copytree(build, flash)
        b = Board(flash, tmp_path / "out", speed, setup, stdin)
        boards.append(b)
        return b

    yield start
    for b in boards:
        b.kill()


def _up(wire, kind):
    return [w for w in wire if w["dir"] == "up" and w["channel"] == "watch"
            and w["data"].startswith("[SG*%s*" % DEVICE) and ("*%s," % kind in w["data"]
                                                                 or w["data"].endswith("*%s]" % kind))]


def test_the_flash_boots_registers_and_reports_to_the_server_in_paced_time(board):
    speed = 30
    b = board(speed)
    ok = b.wait_for(lambda: _up(b.wire(), "LK") and _up(b.wire(), "UD"))
    out, wall_s = b.interrupt()
    assert ok, "no LK and UD from %s within %d s:\n%s" % (DEVICE, LIMIT_S, out[-3000:])
    assert b.p.returncode == 0, out[-3000:]
    assert "REPL after Ctrl-C" in out and "running=False" in out  # the watch stopped, the process lives
    ud = _up(b.wire(), "UD")[0]["data"]
    assert ",A," in ud  # a GNSS fix under the park's open sky
    kinds = [e["kind"] for e in b.events()]
    assert "boot" in kinds and "modem_ready" in kinds and "report" in kinds
    assert "identity id=%s" % DEVICE in out  # the firmware's log lines on the console
    # paced: never faster than the speed factor (the first idle may round up to a deadline)
    vt_ms = int(out.split("vt_ms=")[1].split()[0])
    assert 0 < vt_ms - START_MS <= speed * wall_s * 1000 + 60000


def test_resets_and_deep_sleep_boot_main_again_as_on_the_board(board):
    setup = ("bw.VT.after(30000, lambda: bw.machine.reset())\n"
             "bw.VT.after(90000, lambda: bw.machine.deepsleep(20000))")
    b = board(60, setup)
    causes = lambda: [e.get("cause") for e in b.events() if e["kind"] == "boot"]  # noqa: E731
    ok = b.wait_for(lambda: len(causes()) >= 3)
    out, _ = b.interrupt()
    assert ok, out[-3000:]
    assert causes()[:3] == ["power-on", "soft", "deep-sleep"], out[-3000:]
    kinds = [e["kind"] for e in b.events()]
    assert "deep_sleep" in kinds
    assert "REPL after Ctrl-C" in out


ECHO = """
import host_sim.board_world as bw
import asyncio, sys
import boards.lilygo_t_a7670 as board_module
from firmware import idle

board = board_module.build(bw.machine)  # the board's own idle hook: its light sleep
idle.install(board.idle)

async def echo():
    r = asyncio.StreamReader(sys.stdin.buffer)
    print("ready")
    while True:
        line = await r.readline()
        if not line:
            break
        print("echo", line.strip().decode(), "light_sleeps=%d" % board.modem.sleeps)

asyncio.run(echo())
"""


def test_input_on_stdin_wakes_the_idle_hook_at_once(build, tmp_path):
    """A task that reads sys.stdin through asyncio (the console does) is woken when a line
    arrives, even from the board's light sleep, not at the next deadline: here the next is the
    world's battery check, up to 10 s away at speed 1."""
    env = dict(os.environ, MICROPYPATH=".frozen:" + REPO, TRYGG_VBOARD_SCENARIO=SCENARIO,
               TRYGG_VBOARD_SPEED="1", TRYGG_VBOARD_OUT=str(tmp_path / "out"))
    p = subprocess.Popen([MICROPYTHON, "-c", ECHO], cwd=str(build), env=env, stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        os.set_blocking(p.stdout.fileno(), False)
        buf = b""

        def read_until(pattern, limit_s):
            nonlocal buf
            end = time.monotonic() + limit_s
            while pattern not in buf and time.monotonic() < end:
                try:
                    got = os.read(p.stdout.fileno(), 4096)
                    buf += got
                    if not got:
                        break  # the process ended
                except BlockingIOError:
                    time.sleep(0.005)
            return pattern in buf

        assert read_until(b"ready", LIMIT_S), buf.decode()[-2000:]
        late = []
        for i in range(3):
            time.sleep(1.5)
            t = time.monotonic()
            p.stdin.write(b"ping%d\n" % i)
            p.stdin.flush()
            assert read_until(b"echo ping%d" % i, 15), buf.decode()[-2000:]
            late.append(time.monotonic() - t)
        p.stdin.close()
        p.wait(10)
        out = buf.decode()
        assert max(late) < 0.5, (late, out)
        assert "light_sleeps=0" not in out.split("echo ping2")[1], out  # it was asleep, not polling
    finally:
        if p.poll() is None:
            p.kill()
        p.wait(10)
        for f in (p.stdin, p.stdout):
            f.close()
