"""The MicroPython side of the virtual board (tools/vboard.py, docs/vboard.md).

One run of this script on the unix port is the board between two resets: the front end starts it
fresh at every reset (a new process is a clean heap, as a soft reset is on the ESP32), with its
settings in the environment (VBOARD_AGENT, JSON), and talks to it over two pipes of its own:

  front end -> agent   "<kind> <seq> <length>\\n" + payload; kind: single (a line typed at the
                       friendly REPL), exec (raw REPL, raw-paste, paste mode), boot / main (run
                       /boot.py or /main.py if present)
  agent -> front end   "<tag> <n> <length>\\n" + payload; tags: ready (banner), started (the code
                       runs: Ctrl-C may now interrupt it), done (traceback text or nothing),
                       soft (SystemExit: soft reset), reboot (the world restarted the ESP32 in
                       place; payload: the reset cause), off (the world switched it off), hard
                       (n: the cause; reset the process now)

At boot: the flash folder becomes "/" (FlashRoot below), sys.path a board's plus the repository,
`import vboard` gives the Board below, then the board world module is imported (--world), then
the front end asks for boot.py and main.py. The code runs in one __main__ namespace shared by
boot.py, main.py and the REPL, as on a board; its stdin and stdout are the process's own (pipes
to the pty through the front end). The REPL itself (line editing, raw REPL, raw-paste) is the
front end's.

Ctrl-C arrives as SIGINT, which the unix port raises as KeyboardInterrupt wherever the VM is.
Only user code may see it: every read of the command pipe keeps its bytes before the next jump
(where a pending exception is raised), and a report is sent again until it is known to be out
(the front end ignores a repeated sequence number).
"""
import io
import json
import micropython
import os
import sys
import time
import vfs

_CFG = json.loads(os.getenv("VBOARD_AGENT"))
_ME = __file__
_MAX_TEXT = 3000  # a report stays under PIPE_BUF, so it is written in one piece
# The flash's filesystem as os.statvfs tells it: littlefs with 4096-byte blocks (hardware.md
# §4) on the vfs partition (2 MiB in MicroPython's 4 MiB ESP32 build, ports/esp32/
# partitions-4MiB.csv; vboard --flash-kib). Writes beyond it are not refused.
_BLOCK = 4096
_BLOCKS = _CFG.get("blocks", 512)


def _open_fd(n, mode):
    return open("/dev/fd/%d" % n, mode)


# the command pipes, opened while the host's own filesystem is still at "/"
_CIN = _open_fd(_CFG["cin"], "rb")
_COUT = _open_fd(_CFG["cout"], "wb")


class FlashRoot:
    """The board's "/": the flash folder, plus host folders under their own absolute paths
    (never listed), less the hidden ones (the board's own code comes from its flash)."""

    def __init__(self, flash, hosts, hidden):
        self._root = flash.rstrip("/")
        self._flash = vfs.VfsPosix(flash)
        self._host = vfs.VfsPosix()
        self._hosts = tuple(h.rstrip("/") for h in hosts)
        self._hidden = tuple(h.rstrip("/") for h in hidden)
        self._cur = self._flash

    @staticmethod
    def _under(path, dirs):
        for d in dirs:
            if path == d or path.startswith(d + "/"):
                return True
        return False

    def _fs(self, path):
        if path[:1] != "/":
            return self._cur
        if self._under(path, self._hosts) and not self._under(path, self._hidden):
            return self._host
        return self._flash

    def mount(self, readonly, mkfs):
        pass

    def umount(self):
        pass

    def __repr__(self):
        return "<FlashRoot>"

    def ilistdir(self, path):
        # with sizes, as littlefs gives them (VfsPosix leaves them out)
        fs = self._fs(path)
        base = path if path[-1:] == "/" or not path else path + "/"
        for e in fs.ilistdir(path):
            if self._hidden and self._under(base + e[0], self._hidden):
                continue
            size = 0
            if e[1] == 0x8000:
                try:
                    size = fs.stat(base + e[0])[6]
                except OSError:
                    pass
            yield (e[0], e[1], e[2], size)

    def chdir(self, path):
        fs = self._fs(path)
        fs.chdir(path)
        self._cur = fs

    def getcwd(self):
        return self._cur.getcwd() or "/"

    def mkdir(self, path):
        return self._fs(path).mkdir(path)

    def remove(self, path):
        return self._fs(path).remove(path)

    def rename(self, old, new):
        fs = self._fs(old)
        if self._fs(new) is not fs:
            raise OSError(18)  # EXDEV: the flash and the host are two filesystems
        # by host paths: a rooted VfsPosix renames the new name onto itself (ENOENT, MicroPython
        # issue #7389), which would break every atomic save of the firmware
        self._host.rename(self._real(old), self._real(new))

    def _real(self, path):
        if path[:1] == "/" and self._fs(path) is self._flash:
            return self._root + path
        return path  # a host path, or relative to the real current directory

    def rmdir(self, path):
        return self._fs(path).rmdir(path)

    def stat(self, path):
        return self._fs(path).stat(path)

    def statvfs(self, path):
        fs = self._fs(path)
        if fs is not self._flash:
            return fs.statvfs(path)
        # the flash's size, not the host disk's: a littlefs volume of _BLOCKS blocks, the blocks
        # in use counted roughly as littlefs does (a pair per directory, whole blocks per file)
        used = 2 + self._blocks("/")
        free = _BLOCKS - used if used < _BLOCKS else 0
        return (_BLOCK, _BLOCK, _BLOCKS, free, free, 0, 0, 0, 0, 255)

    def _blocks(self, d):
        n = 0
        for e in self._flash.ilistdir(d):
            p = d + e[0] if d[-1:] == "/" else d + "/" + e[0]
            if e[1] == 0x4000:
                n += 2 + self._blocks(p)
            else:
                try:
                    n += (self._flash.stat(p)[6] + _BLOCK - 1) // _BLOCK or 1
                except OSError:
                    pass
        return n

    def open(self, path, mode):
        return self._fs(path).open(path, mode)


class Board:
    """`import vboard` on the board: what the board world needs from the virtual board."""

    PWRON_RESET = 1
    HARD_RESET = 2
    WDT_RESET = 3
    DEEPSLEEP_RESET = 4
    SOFT_RESET = 5

    def __init__(self, cfg):
        self.flash = cfg["flash"]  # the flash folder on the host
        self.repo = cfg["repo"]  # the repository on the host
        # host folders the board reaches by their absolute paths (never listed in "/")
        self.host_dirs = (cfg["repo"],) + tuple(cfg["hosts"])
        self.run_dir = cfg["run_dir"]  # a host folder for the world's own files (kept across resets)
        self.reset_cause = cfg["cause"]  # ESP32 numbering; a soft reset keeps the last hard cause
        self.soft = cfg["soft"]  # this boot is a soft reset
        self.boots = cfg["boots"]  # 1 at power-on, +1 at every reset of the process
        self.main = cfg["main"]  # main.py runs at this boot (friendly REPL mode)
        self.world = cfg["world"] or None

    def hard_reset(self, cause=2):
        """Reset now, like the EN pin or machine.reset(): nothing after this call runs, and the
        board boots again (boot.py, main.py). cause: 2 hard, 3 watchdog, 4 deep sleep."""
        _send("hard", cause)
        _halt()

    def soft_reset(self):
        """Like machine.soft_reset(): SystemExit, then the interpreter restarts."""
        raise SystemExit


class Machine:
    """`machine` on a bare board (no world): the unix port's own module plus reset(),
    soft_reset() and reset_cause(), so mpremote's `reset` works."""

    PWRON_RESET = 1
    HARD_RESET = 2
    WDT_RESET = 3
    DEEPSLEEP_RESET = 4
    SOFT_RESET = 5

    def __init__(self, board, builtin):
        self._board = board
        for name in dir(builtin):
            if not name.startswith("_") and not hasattr(self, name):
                setattr(self, name, getattr(builtin, name))

    def reset(self):
        self._board.hard_reset(2)

    def soft_reset(self):
        raise SystemExit

    def reset_cause(self):
        return self._board.reset_cause


class Micro:
    """`micropython` on the board: the unix port's, with a kbd_intr() that tells the front end
    (a board's UART stops turning Ctrl-C into KeyboardInterrupt at kbd_intr(-1) and passes the
    byte on; the unix port would drop its SIGINT handler instead, and die of the next one)."""

    def __init__(self, builtin):
        for name in dir(builtin):
            if not name.startswith("_") and not hasattr(self, name):
                setattr(self, name, getattr(builtin, name))

    def kbd_intr(self, c):
        _send("kbd", c)


def _halt():
    while True:  # the front end ends this process
        try:
            time.sleep(1)
        except KeyboardInterrupt:
            pass


def _send(tag, n, payload=b""):
    if isinstance(payload, str):
        payload = payload.encode()
    _COUT.write(b"%s %d %d\n%s" % (tag.encode(), n, len(payload), payload))


def _traceback(e):
    """The exception as a board prints it: without the agent's own frames."""
    s = io.StringIO()
    sys.print_exception(e, s)
    mine = '  File "%s"' % _ME
    out = [line for line in s.getvalue().split("\n") if not line.startswith(mine)]
    text = "\n".join(out)
    if len(text) > _MAX_TEXT:
        text = text[:_MAX_TEXT // 2] + "\n...\n" + text[-_MAX_TEXT // 2:]
    return text


def _exists(path):
    try:
        return os.stat(path)[0] & 0x8000 != 0
    except OSError:
        return False


_G = {"__name__": "__main__"}  # the board's __main__: REPL, boot.py and main.py share it


def _run(kind, seq, payload):
    """Compile and run one piece of user code. Returns the report to send."""
    try:
        if kind == "boot" or kind == "main":
            name = kind + ".py"
            if not _exists(name):
                return ("done", seq, b"")
            with open(name, "rb") as f:
                payload = f.read()
        else:
            name = "<stdin>"
        micropython.kbd_intr(3)
        _send("started", seq)
        code = compile(payload, name, "single" if kind == "single" else "exec")
        if kind != "single":
            _G["__file__"] = name
        exec(code, _G)
        return ("done", seq, b"")
    except SystemExit as e:
        return _exit(seq, e)
    except BaseException as e:  # noqa: BLE001 - whatever user code raises is the board's to print
        return ("done", seq, _traceback(e))


def _exit(seq, e):
    """SystemExit: a soft reset, as on a board, unless it is a reset of the world's machine
    (an exception with a `cause`, host_sim/board_world.py's Reset)."""
    if not hasattr(e, "cause"):
        return ("soft", seq, b"")
    reboot = getattr(_WORLD[0], "reboot", None)
    if reboot is None:  # the world has no reboot of its own: a reset of the process, main.py next
        if e.cause is None:
            return ("off", seq, b"")
        return ("hard", e.cause, b"")
    try:
        cause = reboot(e)  # the world lives on; it says when and how the ESP32 starts again
    except BaseException as e2:  # noqa: BLE001 - Ctrl-C while the board is down, or a bug
        return ("done", seq, _traceback(e2))
    if cause is None:
        return ("off", seq, b"")
    _G.clear()
    _G["__name__"] = "__main__"
    return ("reboot", seq, str(cause))


# A frame being read: kept in globals, so a late KeyboardInterrupt loses no byte of it.
_hdr = bytearray()
_pay = bytearray()
_want = [-1, "", 0]  # payload length (-1: header not complete), kind, seq
_frame = [None]
_report = [None]


def _read_frame():
    """Read one frame into _frame[0]; False at the end of the pipe (the front end is gone)."""
    while _want[0] < 0:
        before = len(_hdr)
        _hdr.extend(_CIN.read(1))  # one statement: no jump before the byte is kept
        if len(_hdr) == before:
            return False
        if _hdr[-1] == 10:
            kind, seq, n = bytes(_hdr).decode().split()
            _want[1], _want[2] = kind, int(seq)
            _hdr[:] = b""
            _want[0] = int(n)
    while len(_pay) < _want[0]:
        before = len(_pay)
        _pay.extend(_CIN.read(_want[0] - before))
        if len(_pay) == before:
            return False
    _frame[0] = (_want[1], _want[2], bytes(_pay))
    _pay[:] = b""
    _want[0] = -1
    return True


_WORLD = [None]  # the board world's module, once imported


def _boot(cfg):
    repo = cfg["repo"]
    # the repository stays reachable (host_sim, its scenarios, out/) but not its firmware/ and
    # boards/ (unless --repo-firmware): the board's own code comes from its flash, or it has none
    hidden = [] if cfg.get("repo_firmware") else [repo + "/firmware", repo + "/boards"]
    root = FlashRoot(cfg["flash"], [repo] + cfg["hosts"], hidden)
    vfs.umount("/")
    vfs.mount(root, "/")
    os.chdir("/")
    # a board's path (flash, frozen modules, /lib), then the repository and any extra host folder
    sys.path[:] = ["", ".frozen", "/lib", repo] + cfg["extra"]
    board = Board(cfg)
    sys.modules["vboard"] = board
    sys.modules["micropython"] = Micro(micropython)
    if cfg["world"]:
        try:
            __import__(cfg["world"])
            _WORLD[0] = sys.modules[cfg["world"]]
        except BaseException as e:  # noqa: BLE001 - a broken world leaves a bare board, with the reason
            print("vboard: the board world %s did not start:" % cfg["world"])
            print(_traceback(e))
    m = sys.modules.get("machine")
    if m is None:
        import machine as builtin

        sys.modules["machine"] = Machine(board, builtin)
    else:
        wiring = getattr(m, "WIRING", None)  # host_sim/fakes/machine.py
        if wiring is not None and getattr(wiring, "on_reset", 0) is None:
            wiring.on_reset = board.hard_reset
    v = sys.implementation.version
    ver = "v%d.%d.%d" % (v[0], v[1], v[2])
    if len(v) > 3 and v[3]:
        ver += "-" + v[3]
    date = sys.version.split(" on ")[-1] if " on " in sys.version else "?"
    return "MicroPython %s on %s; %s" % (ver, date, cfg["machine"])


def main():
    _report[0] = ("ready", 0, _boot(_CFG))
    while True:
        try:
            if _report[0] is not None:
                r = _report[0]
                _send(r[0], r[1], r[2])
                _report[0] = None
                if r[0] == "soft" or r[0] == "off":
                    return
                if r[0] == "hard":
                    _halt()
            if _frame[0] is None and not _read_frame():
                return
            kind, seq, payload = _frame[0]
            _report[0] = ("done", seq, b"")  # if interrupted before the code ran or after it
            _frame[0] = None
            _report[0] = _run(kind, seq, payload)
            micropython.kbd_intr(3)  # in case the code turned Ctrl-C off
        except KeyboardInterrupt:
            pass  # a Ctrl-C that came as the code ended: nothing of ours is lost


main()
