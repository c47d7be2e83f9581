"""tools/vboard.py: a pty that mpremote, pyserial and pytest-embedded take for a MicroPython board.

Each test starts its own virtual board on a fresh flash folder in tmp_path and drives it with the
real clients (mpremote subprocesses, pyserial), then stops it (SIGINT/SIGTERM, as a person or a
CI job would) and checks that it left nothing behind.
"""
import os
import re
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest

serial = pytest.importorskip("serial")

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VBOARD = os.path.join(REPO, "tools", "vboard.py")
BIN = os.path.dirname(sys.executable)
MPREMOTE = os.path.join(BIN, "mpremote")
MICROPYTHON = os.path.join(REPO, ".venv", "bin", "micropython")

pytestmark = pytest.mark.skipif(not (os.path.exists(MPREMOTE) and os.path.exists(MICROPYTHON)),
                                reason="needs the venv's mpremote and micropython (make test builds them)")

BANNER = re.compile(rb"MicroPython v1\.\d+\.\d+\S* on \d{4}-\d\d-\d\d; LilyGO T-A7670 \(virtual\) "
                    rb"with ESP32\r\nType \"help\(\)\" for more information\.\r\n>>> ")


class Board:
    """A running tools/vboard.py."""

    def __init__(self, tmp_path, *args):
        self.dir = tmp_path
        self.flash = tmp_path / "flash"
        self.log = tmp_path / "serial.log"
        self.link = tmp_path / "tty"
        port_file = tmp_path / "port"
        self.proc = subprocess.Popen(
            [sys.executable, VBOARD, "--flash", str(self.flash), "--port-file", str(port_file),
             "--link", str(self.link), "--log", str(self.log)] + list(args),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not port_file.exists():
            assert self.proc.poll() is None, self.proc.communicate()
            assert time.monotonic() < deadline, "vboard did not start"
            time.sleep(0.02)
        self.port = port_file.read_text().strip()
        self.port_file = port_file

    def mpremote(self, *args, check=True, timeout=30):
        p = subprocess.run([MPREMOTE, "connect", self.port] + list(args), capture_output=True,
                           timeout=timeout)
        if check:
            assert p.returncode == 0, (p.stdout, p.stderr)
        return p

    def out(self, *args):
        return self.mpremote(*args).stdout.decode()

    def serial(self):
        return serial.Serial(self.port, 115200, timeout=0.05)

    def logged(self):
        return self.log.read_bytes() if self.log.exists() else b""

    def wait_logged(self, pattern, timeout=10):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.logged()):
            assert time.monotonic() < deadline, (pattern, self.logged()[-2000:])
            time.sleep(0.05)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return self.proc.returncode


@pytest.fixture
def board(tmp_path):
    b = Board(tmp_path)
    yield b
    b.stop()


def expect(s, pattern, timeout=10):
    """Read the serial port until the regex matches; the bytes read."""
    buf = b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern, buf):
        assert time.monotonic() < deadline, (pattern, buf)
        buf += s.read(4096)
    return buf


def put(board, name, text):
    (board.dir / name).write_text(textwrap.dedent(text))
    board.out("cp", str(board.dir / name), ":" + name)


# ---- the port itself ---------------------------------------------------------------------


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_port_is_a_pty_named_three_ways_and_a_signal_ends_it_cleanly(tmp_path, sig):
    b = Board(tmp_path)
    try:
        assert stat.S_ISCHR(os.stat(b.port).st_mode)
        assert os.readlink(b.link) == b.port
        assert b.proc.stdout.readline().decode().strip() == b.port  # printed, for a person
        assert (b.flash / "boot.py").exists()  # a fresh flash: a first boot.py, as the ESP32 writes
    finally:
        rc = b.stop(sig)
    assert rc == 0
    assert not os.path.lexists(b.link) and not b.port_file.exists()


# ---- mpremote ----------------------------------------------------------------------------


def test_files_go_in_and_come_back_byte_for_byte(board):
    blob = bytes(range(256)) * 12 + b"\r\n\x04\x03 end"
    (board.dir / "blob.bin").write_bytes(blob)
    board.out("fs", "mkdir", ":data")
    board.out("fs", "cp", str(board.dir / "blob.bin"), ":data/blob.bin")
    assert (board.flash / "data" / "blob.bin").read_bytes() == blob  # it is in the flash folder
    listing = board.out("fs", "ls", ":data")
    assert re.search(r"\b%d blob\.bin" % len(blob), listing)
    board.out("fs", "cp", ":data/blob.bin", str(board.dir / "back.bin"))
    assert (board.dir / "back.bin").read_bytes() == blob
    (board.dir / "note.txt").write_text("first line\nsecond line\n")
    # commands chained with +, one connection
    out = board.out("cp", str(board.dir / "note.txt"), ":note.txt", "+", "cat", ":note.txt",
                    "+", "rm", ":data/blob.bin", "+", "rmdir", ":data", "+", "ls")
    assert "first line\r\nsecond line" in out  # print() is cooked on a board: CR LF
    assert "note.txt" in out and "data/" not in out.split("ls :")[-1]
    assert not (board.flash / "data").exists()
    failed = board.mpremote("fs", "cat", ":nothing.txt", check=False)
    assert failed.returncode != 0 and b"No such file" in failed.stderr


def test_exec_eval_and_run_print_what_the_board_prints(board):
    assert board.out("exec", "print(6 * 7)").strip() == "42"
    assert board.out("eval", "1 + 2").strip() == "3"
    (board.dir / "script.py").write_text("import sys\nprint('on', sys.implementation.name)\n"
                                         "for i in range(3):\n    print('line', i)\n")
    assert board.out("run", str(board.dir / "script.py")).split() == [
        "on", "micropython", "line", "0", "line", "1", "line", "2"]
    err = board.mpremote("exec", "1 / 0", check=False)
    assert err.returncode == 1
    assert b'File "<stdin>", line 1, in <module>\r\nZeroDivisionError' in err.stdout
    assert b"vboard_agent" not in err.stdout  # the board's traceback, not the machinery's


def test_absolute_and_relative_paths_land_in_the_flash_folder(board):
    code = textwrap.dedent("""\
        import os
        os.mkdir('/data')
        with open('/data/config.json.tmp', 'w') as f:
            f.write('{"server_port": 5093}')
        os.rename('/data/config.json.tmp', '/data/config.json')  # the firmware's atomic save
        os.chdir('/data')
        with open('rel.txt', 'w') as f:
            f.write('here')
        os.chdir('/')
        print(sorted(os.listdir('/')), os.getcwd(), os.statvfs('/')[0] * os.statvfs('/')[2])
        """)
    out = board.out("exec", code)
    assert (board.flash / "data" / "config.json").read_text() == '{"server_port": 5093}'
    assert (board.flash / "data" / "rel.txt").read_text() == "here"
    assert not (board.flash / "data" / "config.json.tmp").exists()
    # the board sees its flash and nothing of the host, and a flash-sized filesystem
    assert out.split() == ["['boot.py',", "'data']", "/", str(2048 * 1024)]
    # the repository's firmware is not on a bare board: its code comes from the flash
    assert b"ImportError" in board.mpremote("exec", "import firmware", check=False).stdout


def test_soft_reset_clears_the_interpreter_and_resume_keeps_it(board):
    board.out("exec", "x = 5")
    assert board.out("resume", "eval", "x").strip() == "5"  # no soft reset on connect
    board.out("soft-reset")
    gone = board.mpremote("resume", "eval", "x", check=False)
    assert gone.returncode == 1 and b"NameError" in gone.stdout
    board.out("exec", "y = 1")
    board.mpremote("exec", "import machine; machine.soft_reset()")  # a soft reset, as on a board
    assert b"NameError" in board.mpremote("resume", "eval", "y", check=False).stdout
    assert board.logged().count(b"MPY: soft reboot\r\n") >= 5  # one per mpremote, one each


def test_reset_runs_main_py_and_mpremote_interrupts_it(board):
    put(board, "main.py", """\
        import time
        with open('/ran.txt', 'a') as f:
            f.write('x')
        n = 0
        while True:
            n += 1
            print('tick', n)
            time.sleep(0.02)
        """)
    board.out("reset")  # machine.reset(): a hard reset, then boot.py and main.py
    board.wait_logged(rb"tick 3\r\n")
    assert (board.flash / "ran.txt").read_text() == "x"
    assert b"rst:0xc (SW_CPU_RESET)" in board.logged()
    # main.py runs forever: mpremote's Ctrl-C stops it, then its command runs (with `resume`,
    # in what main.py left behind, as on a board)
    assert board.out("resume", "exec", "print('after', n > 0)").strip() == "after True"
    log = board.logged()
    assert re.search(rb'File "main.py", line \d+, in <module>\r\nKeyboardInterrupt: \r\n', log)
    put(board, "main.py", "while True:\n    pass\n")
    board.out("reset")
    board.wait_logged(rb"(?s)rst:0xc.*rst:0xc", timeout=10)
    time.sleep(0.2)
    assert board.out("exec", "print(1)").strip() == "1"  # a busy loop is interrupted too
    assert (board.flash / "ran.txt").read_text() == "x"  # soft resets from the raw REPL: no main.py


# ---- the serial port as a person (or pytest-embedded) sees it ---------------------------


def test_friendly_repl_banner_expressions_and_blocks(board):
    with board.serial() as s:
        s.write(b"\x02")  # Ctrl-B: the banner again (nobody was listening at power-on)
        expect(s, BANNER)
        s.write(b"1+1\r")
        assert expect(s, rb">>> $").endswith(b"1+1\r\n2\r\n>>> ")
        s.write(b"for i in range(2):\r")
        expect(s, rb"\.\.\.     $")  # auto-indent
        s.write(b"print('i', i)\r\r")
        assert b"i 0\r\ni 1\r\n>>> " in expect(s, rb"i 1\r\n>>> ")
        s.write(b"undefined_name\r")
        expect(s, rb"NameError: name 'undefined_name' isn't defined\r\n>>> ")
        s.write(b"\x05")  # paste mode
        expect(s, rb"paste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
        s.write(b"def f():\r    return 7\r\rprint(f() * 6)\x04")
        expect(s, rb"42\r\n>>> ")


def test_ctrl_d_soft_reset_runs_main_py_and_ctrl_c_stops_it(board):
    put(board, "main.py", """\
        import time
        print('main.py here')
        while True:
            time.sleep(0.01)
        """)
    with board.serial() as s:
        s.write(b"\r\x04")  # Ctrl-D in the friendly REPL: soft reset, boot.py, main.py
        expect(s, rb"MPY: soft reboot\r\nmain.py here\r\n")
        time.sleep(0.1)
        s.write(b"\x03")
        buf = expect(s, BANNER)
        assert b"KeyboardInterrupt: \r\n" in buf
        s.write(b"print('back')\r")
        expect(s, rb"back\r\n>>> ")


def test_the_running_program_reads_the_port_and_prints_to_it(board):
    # a console like the firmware's: asyncio reads stdin a byte at a time, lines end with ok
    put(board, "main.py", """\
        import asyncio, sys
        async def console():
            r = asyncio.StreamReader(sys.stdin.buffer)
            print('console ready')
            line = b''
            while True:
                b = await r.read(1)
                if b in (b'\\r', b'\\n'):
                    if line:
                        print('got', line.decode())
                        print('ok' if line == b'ping' else 'error: unknown ' + line.decode())
                    line = b''
                else:
                    line += b
        asyncio.run(console())
        """)
    with board.serial() as s:
        s.write(b"\x04")
        expect(s, rb"console ready\r\n")
        s.write(b"ping\r")
        expect(s, rb"got ping\r\nok\r\n")
        s.write(b"pong\n")
        expect(s, rb"got pong\r\nerror: unknown pong\r\n")
        s.write(b"\x03")
        expect(s, BANNER)


def test_kbd_intr_off_passes_ctrl_c_to_the_program(board):
    with board.serial() as s:
        s.write(b"\x02")
        expect(s, BANNER)
        s.write(b"import micropython, sys; micropython.kbd_intr(-1); print('off'); "
                b"print(sys.stdin.buffer.read(2))\r")
        expect(s, rb"off\r\n")
        s.write(b"\x03z")
        expect(s, rb"b'\\x03z'\r\n>>> ")
        s.write(b"import time; time.sleep(5)\r")  # the next code has Ctrl-C again, as on a board
        time.sleep(0.3)
        s.write(b"\x03")
        expect(s, rb"KeyboardInterrupt: \r\n>>> ")


def test_raw_repl_and_raw_paste_on_the_wire(board):
    with board.serial() as s:
        s.write(b"\r\x03\x01")
        expect(s, rb"raw REPL; CTRL-B to exit\r\n>$")
        s.write(b"print('a')\nraise ValueError('b')\x04")
        buf = expect(s, rb"\x04>$")
        assert re.search(rb"OKa\r\n\x04Traceback \(most recent call last\):\r\n.*ValueError: b\r\n\x04>$",
                         buf, re.S)
        s.write(b"\x05A\x01")
        head = expect(s, rb"R\x01..\x01")
        window = head[-3] | head[-2] << 8
        assert window >= 32
        s.write(b"print(len('%s'))\x04" % (b"z" * (window * 2)))
        buf = expect(s, rb"\x04>$")
        assert buf.count(b"\x01") >= 2  # a new window each time one is used up
        assert buf.endswith(b"\x04%d\r\n\x04\x04>" % (window * 2))
        s.write(b"\x02")
        expect(s, BANNER)


# ---- the board world hook ----------------------------------------------------------------


WORLD = """\
import os, sys
import vboard

order = ['world']
reboots = 0
seen = {'cwd': os.getcwd(), 'root': sorted(os.listdir('/')), 'boots': vboard.boots,
        'cause': vboard.reset_cause, 'soft': vboard.soft, 'main': vboard.main,
        'flash': vboard.flash, 'machine_before': 'machine' in sys.modules}


class Reset(SystemExit):
    def __init__(self, cause):
        super().__init__('reset')
        self.cause = cause


def reboot(exc):
    global reboots
    reboots += 1
    return exc.cause
"""


def test_the_world_is_imported_first_at_every_boot_and_may_reboot_in_place(tmp_path):
    (tmp_path / "worlds").mkdir()
    (tmp_path / "worlds" / "toyworld.py").write_text(WORLD)
    b = Board(tmp_path, "--world", "toyworld", "--host-path", str(tmp_path / "worlds"))
    try:
        put(b, "boot.py", "import toyworld\ntoyworld.order.append('boot')\n")
        put(b, "main.py", """\
            import toyworld
            toyworld.order.append('main')
            print('main', toyworld.reboots)
            if toyworld.reboots < 2:
                raise toyworld.Reset(2)  # the world's machine.reset(): the world stays
            """)
        b.out("reset")
        b.wait_logged(rb"main 2\r\n")
        show = "import toyworld as w, machine; print(w.seen, w.order, w.reboots, machine.reset_cause())"
        out = b.out("resume", "exec", show)
        assert "'cwd': '/'" in out and "'root': ['boot.py', 'main.py']" in out
        assert "'flash': '%s'" % b.flash in out and "'machine_before': False" in out
        # a process per hard reset: the world first, then boot.py, then main.py, rebooted in place
        # twice by the world (its reboot()), which kept its state
        assert "'cause': 2, " in out and "'soft': False" in out and "'main': True" in out
        assert out.strip().endswith("['world', 'boot', 'main', 'boot', 'main', 'boot', 'main'] 2 2")
        log = b.logged()
        assert log.count(b"rst:0xc (SW_CPU_RESET)") == 3  # mpremote's reset, two in place
        # a soft reset starts a new process: the world again, boot.py, no main.py (raw REPL)
        out = b.out("exec", show)
        assert "'soft': True" in out and "'main': False" in out
        assert out.strip().endswith("['world', 'boot'] 0 2")
    finally:
        b.stop()


def test_a_broken_world_leaves_a_bare_board_that_says_why(tmp_path):
    (tmp_path / "worlds").mkdir()
    (tmp_path / "worlds" / "badworld.py").write_text("raise RuntimeError('no modem today')\n")
    b = Board(tmp_path, "--world", "badworld", "--host-path", str(tmp_path / "worlds"))
    try:
        assert b.out("exec", "import machine; print(machine.reset_cause())").strip().endswith("1")
        assert b"RuntimeError: no modem today" in b.logged()
    finally:
        b.stop()


def test_pytest_embedded_serial_talks_to_it(board, tmp_path):
    (tmp_path / "test_dut.py").write_text(textwrap.dedent("""\
        def test_repl(dut):
            dut.write(b"\\x02")
            dut.expect("LilyGO T-A7670 \\\\(virtual\\\\) with ESP32", timeout=10)
            dut.write(b"print(6 * 7)\\r")
            dut.expect_exact("42", timeout=10)
        """))
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "--rootdir", str(tmp_path), "-c", os.devnull,
                        "--embedded-services", "serial", "--port", board.port,
                        str(tmp_path / "test_dut.py")],
                       capture_output=True, timeout=60, cwd=str(tmp_path))
    assert p.returncode == 0, p.stdout.decode()[-3000:]
