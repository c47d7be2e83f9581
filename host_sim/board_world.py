"""The world of a virtual board: the simulator's world behind a MicroPython process that runs a
flash folder's main.py as the ESP32 would, in real time (tools/vboard.py puts a pty in front:
`--world host_sim.board_world`).

Import it FIRST (before asyncio: it brings in host_sim.vtime), in the MicroPython unix port,
with the flash folder as the current directory (or mounted at "/") and first on sys.path ("" is
put there if missing), the repository reachable after it; then run main.py:

    cd FLASH && MICROPYPATH=".frozen:<repo>" micropython -X heapsize=16M -c \
        "import host_sim.board_world as bw; bw.mount_flash(); bw.run_main()"

At import it builds what host_sim/runner.py's Sim builds (it is a Sim): fake `machine`, `esp32`
and `network` in sys.modules, the A76xx emulator behind the modem UART and pins, the world, the
energy meter behind the battery ADC, an in-process Traccar watch server; the scenario's faults
and server commands at their times; the ESP32 powered on. The firmware's modules are the
flash's (whatever sys.path finds first: the world imports them too). It touches no file of the
flash: "/data/..." is wherever the front end maps it (mount_flash() maps it to FLASH/data; the
vboard agent has its own mount). Environment:

  TRYGG_VBOARD_SCENARIO  scenario file (default host_sim/scenarios/school_day.json): the route,
                         the cells, the server, the SIM (IMEI, ICCID); time starts at its start
  TRYGG_VBOARD_START     "HH:MM[:SS]" into the scenario where the board starts (default 00:00,
                         its start): the world runs there first with the board off (a test
                         starts the school day at 16:45, under the open sky of the park)
  TRYGG_VBOARD_SPEED     virtual seconds per real second (default 1; CI uses 20 or more)
  TRYGG_VBOARD_OUT       folder for events.jsonl and wire.jsonl, as the simulator writes them
                         (default: the vboard's run folder, else out/vboard); truncated at
                         import (a new process is a new world), then each line written as it
                         happens: a test can watch the watch's frames reach the server
  TRYGG_VBOARD_ECHO      1 (default): the firmware's log lines on stdout, as the board prints
                         them on its serial console; 0: none
Relative paths are taken from the repository root. Under tools/vboard_agent.py (a module
`vboard` in sys.modules) its run_dir is the default output folder and its reset_cause the
first boot's cause.

Time is virtual (the firmware's ticks, the world's clock) but paced: where the simulator jumps
to the next deadline, the idle hook sleeps for it in real time, divided by the speed. It wakes
early, ending a light sleep too, when a task waits on sys.stdin (the firmware's console,
through asyncio) and input is there; stdin itself is never read here. No threads: Ctrl-C
(KeyboardInterrupt) raised in the sleep, or wherever the firmware is, ends main.py and leaves
the process at the caller's REPL with the world frozen (WORLD.server.positions and the rest
can be looked at).

The ESP32 leaving main.py is the exception Reset (a SystemExit with .cause, .why, .off_ms):
machine.reset(), the watchdog, machine.deepsleep(), a power cut or a flat battery in the
scenario. reboot(r) lets the board stay down as it would (a second, the deep sleep until its
timer or the SOS button, the power cut's length) with the world running, then powers it on
again for main.py to run in the same process (the modem and the server live on); run_main()
does that in a loop, tools/vboard_agent.py after its own exec of main.py. machine.soft_reset()
is a plain SystemExit, as MicroPython's.
"""
import sys

if sys.implementation.name != "micropython":
    # CPython's asyncio.run has no idle hook to pace: the watch runs on the simulator there
    raise ImportError("host_sim.board_world runs in the MicroPython unix port")

import os  # noqa: E402
import select  # noqa: E402
import time  # noqa: E402

if "" not in sys.path:  # the flash (the current directory) first, as on the board; micropython
    sys.path.insert(0, "")  # FILE puts FILE's folder there instead

from host_sim import runner, vtime  # noqa: E402  (first: virtual time, the fakes, then asyncio)

import asyncio  # noqa: E402

from firmware import idle as fw_idle  # noqa: E402
from firmware import log  # noqa: E402
from host_sim.world import offset_ms  # noqa: E402

machine = runner.machine
esp32 = runner.esp32
network = runner.network
VT = vtime.VT

_WAIT_MAX_MS = 1000  # a real sleep is cut into pieces this long: virtual time follows the clock
_LAG_MS = 2000  # this far behind the clock (a slow stretch, a pause at the REPL): no race to catch up
_KEEP = 1000  # records kept of each kind in memory (the files have them all)
_TRIM_MS = 3600000
# scenario events the runner runs as tasks of its own event loop around the firmware it started
# (host_sim/flashcut.py wraps the runner's flash folder): skipped here, with a "world" event
_NOT_HERE = ("flash_cut",)


def _repo():
    f = __file__  # .../host_sim/board_world.py, relative to the directory it was found from
    for _ in range(2):
        i = f.rfind("/")
        f = f[:i] if i >= 0 else ""
    if not f.startswith("/"):
        cwd = os.getcwd()
        f = cwd if f in ("", ".") else cwd.rstrip("/") + "/" + f
    return f


REPO = _repo()


def _path(env, default):
    p = os.getenv(env) or default
    return p if p.startswith("/") else REPO + "/" + p


class Reset(SystemExit):
    """The ESP32 left main.py. cause: machine.reset_cause() of the boot that follows (None: it
    stays off, the battery is flat); off_ms: how long it stays down first (None: until a wake)."""

    def __init__(self, cause, why, off_ms=0):
        super().__init__(why)
        self.cause = cause
        self.why = why
        self.off_ms = off_ms


class Wall:
    """Milliseconds of real time, unbounded (ticks_ms wraps; call at least every few days)."""

    def __init__(self):
        self._t = time.ticks_ms()
        self.ms = 0

    def __call__(self):
        now = time.ticks_ms()
        self.ms += time.ticks_diff(now, self._t)
        self._t = now
        return self.ms


class Pacer:
    """VT.idle kept to the wall clock: instead of jumping to the next deadline (or world event)
    it first sleeps until that moment has come in real time / speed. sleep(ms) -> True ends the
    wait early (input arrived): virtual time then stands where the clock is, short of the target.
    Lagging more than _LAG_MS behind, it starts again from now (it never races to catch up)."""

    def __init__(self, vt, speed, wall, sleep):
        if not speed > 0:
            raise ValueError("speed must be above 0, not %r" % (speed,))
        self.vt = vt
        self.speed = speed
        self.wall = wall
        self.sleep = sleep
        self._jump = vt.idle  # the simulator's own idle: the jump
        self._w0 = None
        self._v0 = 0

    def install(self):
        self.vt.idle = self.idle

    def _wall_at(self, v):
        return self._w0 + (v - self._v0) / self.speed

    def _virtual_at(self, w):
        return self._v0 + int((w - self._w0) * self.speed)

    def idle(self, dt):
        vt = self.vt
        nxt = vt.next_event_ms()
        if dt == 0 or (nxt is not None and nxt <= vt.ms):
            return self._jump(dt)  # a task ready, or world events due now: nothing to wait for
        target = nxt if dt < 0 else vt.ms + dt
        if nxt is not None and nxt < target:
            target = nxt
        now = self.wall()
        if self._w0 is None or now - self._wall_at(vt.ms) > _LAG_MS:
            self._w0 = now
            self._v0 = vt.ms
        while True:
            if target is None:
                left = _WAIT_MAX_MS
            else:
                left = int(self._wall_at(target) - now + 0.999)
                if left <= 0:
                    break
            woken = self.sleep(left if left < _WAIT_MAX_MS else _WAIT_MAX_MS)
            now = self.wall()
            v = self._virtual_at(now)
            if target is not None and v >= target:
                break
            if v > vt.ms:
                self._jump(v - vt.ms)  # short of the next event: a plain move
            if woken:
                return
        if target > vt.ms:
            self._jump(target - vt.ms)
        else:
            vt.run_due()


class BoardWorld(runner.Sim):
    """A Sim whose firmware is started by the board's main.py, not by the runner: the ESP32's
    resets, deep sleep and power cuts end main.py with Reset (the Sim restarts the firmware as a
    task of its own event loop instead)."""

    def __init__(self, scenario, out_dir, speed=1, echo=True, start_ms=0, cause=machine.PWRON_RESET):
        super().__init__(scenario, out_dir, echo=False)  # the runner's timeline: not on the console
        self.device_echo = echo
        self.speed = speed
        self.wall = Wall()
        self.pacer = Pacer(VT, speed, self.wall, self._sleep)
        self.pacer.install()
        self._poller = select.poll()
        try:
            self._poller.register(sys.stdin, select.POLLIN)
        except (AttributeError, OSError, TypeError):
            self._poller = None  # no stdin to wake on
        self._wake = None  # the cause of the boot a wake or the power's return asks for
        self._booted = False
        self.resets = []  # [(VT ms, why)]
        log.set_sink(self._log)
        self._events(start_ms)
        VT.after(_TRIM_MS, self._trim)
        if start_ms > 0:  # the world before the board is switched on: jumps, not paced
            self.meter.set("esp32", "off")
            self.meter.set("board", "off")
        while VT.ms < start_ms:
            self.pacer._jump(start_ms - VT.ms)
        self.power_on(cause)

    # ---- the console: log lines, stdin ----
    def _log(self, kind, fields):
        self.rec.event(kind, fields)
        if self.device_echo:  # what firmware/log.py prints on the board
            parts = [kind]
            for k in sorted(fields):
                parts.append("%s=%s" % (k, fields[k]))
            print(" ".join(parts))

    def _stdin_wanted(self):
        """A task waits for input on sys.stdin (the console reads it through asyncio)."""
        q = asyncio.core._io_queue
        for key in q.map:
            sm = q.map[key]
            s = sm[-1]
            if sm[0] is not None and hasattr(s, "fileno") and not hasattr(s, "ioctl"):
                try:
                    if s.fileno() == 0:
                        return True
                except (AttributeError, OSError, TypeError, ValueError):
                    pass
        return False

    def _sleep(self, ms):
        """Wait ms of real time; True if input for the console ended it (and the light sleep)."""
        if self._poller is not None and self._stdin_wanted():
            if self._poller.poll(ms):
                self._woken = True  # ends runner.Sim._lightsleep's loop: the UART woke it
                return True
            return False
        time.sleep_ms(ms)
        return False

    def _look(self, dt=0):
        """The streams tasks wait on, without waiting: Python streams (ThreadSafeFlag) by their
        ioctl, as the simulator does; a real file among them (stdin) takes asyncio's own poll."""
        q = asyncio.core._io_queue
        for key in q.map:
            if not hasattr(q.map[key][-1], "ioctl"):
                return type(q).wait_io_event(q, 0)
        vtime._poll_streams(0)

    def _wait(self, dt):
        """asyncio's wait when the board does not light-sleep: paced virtual time, then a look."""
        VT.idle(dt)
        self._look(0)

    # ---- the ESP32's life: power on, resets ----
    def power_on(self, cause):
        """The ESP32 starts (before main.py runs): a fresh event loop whose wait is the world's;
        the board's light sleep is installed by the firmware itself (firmware/main.py)."""
        W = machine.WIRING
        if W.wdt is not None:
            W.wdt.stop()  # a reset restarts the watchdog's count (the firmware arms it again)
        network.power_off()
        self._chip_starts(cause)
        self.deep_asleep = False
        self._wake = None
        asyncio.new_event_loop()
        fw_idle.install(None, self._wait, self._look)
        self._booted = True

    def running(self):
        """main.py runs (False after a Reset or Ctrl-C ended it)."""
        return self._booted

    def boot(self, cause=machine.PWRON_RESET):
        """runner.Sim asks for a boot (a press wakes deep sleep): run_main() does it."""
        if self.died is None:
            self._wake = cause

    def _watchdog_reset(self):
        self.watchdog_resets += 1
        log.event("watchdog_reset")
        raise Reset(machine.WDT_RESET, "watchdog", 1000)

    def _soft_reset(self):
        """machine.reset() (runner.Sim's name for it): the chip restarts; the ESP32 port's
        machine.reset_cause() then says SOFT_RESET (ESP_RST_SW), as the fake's does."""
        raise Reset(machine.SOFT_RESET, "machine.reset()", 1000)

    def _deep_sleep(self, ms):
        log.event("deep_sleep")
        raise Reset(machine.DEEPSLEEP_RESET, "deep sleep", ms)

    def _on_dead(self, why):
        self.died = self.meter.dead
        log.event("brownout", why=why, mv=self.died[2], left_permille=self.meter.charge_permille())
        raise Reset(None, "flat battery", None)

    def _events(self, start_ms):
        """The scenario's faults at their times from start_ms on (its server commands the Sim
        queued)."""
        end = self.sc.get("duration_s", 86400) * 1000
        for ev in self.sc.get("events") or []:
            at = offset_ms(ev["at"])
            if start_ms <= at < end:
                VT.at(at, lambda ev=ev: self._event(ev))

    def _event(self, ev):
        do = ev["do"]
        if do in _NOT_HERE:
            log.event("world", do=do, skipped="not on the virtual board")
            return
        try:
            self.fault(ev)
        except ValueError as e:  # one only the runner knows (or a new kind): the board runs on
            log.event("world", do=do, skipped=str(e))
            return
        if do != "reboot":
            return
        off_ms = ev.get("for_s", 2) * 1000
        if self._booted:
            raise Reset(machine.PWRON_RESET, "power cut", off_ms)
        self._power_cut()  # already off: it comes back after the cut all the same
        VT.after(off_ms, lambda: self.boot(machine.PWRON_RESET))

    def _power_cut(self):
        self.emu.power_cut()
        self.meter.set("esp32", "off")
        self.meter.set("board", "off")

    def stop(self, why):
        """main.py ended (a Reset, Ctrl-C): the ESP32 runs no firmware; the old event loop's tasks
        are dropped with it."""
        self._booted = False
        self.resets.append((VT.ms, why))
        W = machine.WIRING
        if W.wdt is not None:
            W.wdt.stop()
        network.power_off()
        asyncio.new_event_loop()  # no task of the old firmware waits on stdin or anything else

    def down(self, r):
        """After Reset r: the ESP32 stays down as the board would (a power cut's length, deep
        sleep until its timer or the SOS button), virtual time running. Returns the cause of the
        next boot, or None: it stays off."""
        self.stop(r.why)
        if r.cause is None:
            self._power_cut()
            return None
        if r.cause == machine.PWRON_RESET:
            self._power_cut()
        elif r.cause == machine.DEEPSLEEP_RESET:
            self.deep_asleep = True
            self.meter.set("esp32", "deep")  # RTC memory kept; the SOS button (ext1) wakes it
        deadline = None if r.off_ms is None else VT.ms + r.off_ms
        while self._wake is None and self.died is None:
            if deadline is not None and VT.ms >= deadline:
                return r.cause
            try:
                VT.idle(-1 if deadline is None else deadline - VT.ms)
            except Reset:  # only the cell dying can end a wait without firmware
                pass
        return None if self.died is not None else self._wake

    # ---- memory: a board runs for days ----
    def _trim(self):
        s = self.server
        lists = [s.positions, s.heartbeats, s.health, s.frames, s.commands, s.errors,
                 self.rec.frames_at, self.rec.accepted]
        lists += [p.log for p in self.world.people]
        lists.append(self.world.people.unknown)
        lists += list(self.rec.marks.values())
        for lst in lists:
            if len(lst) > _KEEP:
                del lst[:len(lst) - _KEEP]
        VT.after(_TRIM_MS, self._trim)


class _Flash(os.VfsPosix):
    """VfsPosix rooted at the flash folder, with a rename that works: MicroPython's own builds
    both paths in one buffer, so it renames the new name onto itself (ENOENT; micropython
    issue #7389), and every atomic save of the firmware (fsutil.atomic_write) fails."""

    def __init__(self, root):
        super().__init__(root)
        self._root = root.rstrip("/") + "/"
        self._host = os.VfsPosix()  # no root: paths go to the host as they are

    def _real(self, p):
        return self._root + p[1:] if p.startswith("/") else p  # relative: the real cwd's

    def rename(self, old, new):
        self._host.rename(self._real(old), self._real(new))


def mount_flash(folder=None):
    """Optional, for a front end: make `folder` (default: the current directory) the board's
    "/", so the firmware's "/data/..." lands in folder/data, as on the board. The world needs
    none of it; call it after this module's import (the repository on sys.path is out of
    reach afterwards; what the world needs is loaded by then)."""
    folder = folder or os.getcwd()
    if not folder.startswith("/"):
        folder = os.getcwd().rstrip("/") + "/" + folder
    os.chdir(folder)
    os.umount("/")
    os.mount(_Flash(folder), "/")
    os.chdir("/")


def _load():
    vb = sys.modules.get("vboard")  # tools/vboard_agent.py: the virtual board's facts
    out = os.getenv("TRYGG_VBOARD_OUT") or (getattr(vb, "run_dir", None) if vb else None) or "out/vboard"
    sc = runner.load(_path("TRYGG_VBOARD_SCENARIO", "host_sim/scenarios/school_day.json"))
    speed = float(os.getenv("TRYGG_VBOARD_SPEED") or "1")
    echo = (os.getenv("TRYGG_VBOARD_ECHO") or "1") != "0"
    start_ms = offset_ms(os.getenv("TRYGG_VBOARD_START") or "00:00")
    cause = getattr(vb, "reset_cause", None) or machine.PWRON_RESET  # a process per hard reset there
    return BoardWorld(sc, out if out.startswith("/") else REPO + "/" + out, speed, echo, start_ms,
                      cause)


WORLD = _load()


def _soft_reset():
    """machine.soft_reset(): as MicroPython's, SystemExit without more (the interpreter restarts,
    the chip does not: the front end's business, tools/vboard.py starts a fresh process). The
    fake's soft_reset() would be a machine.reset()."""
    raise SystemExit


machine.soft_reset = _soft_reset


def reboot(r):
    """After Reset r ended main.py (or a machine.reset() typed at the REPL): the ESP32 stays down
    as the board would, then starts again, the world ready for main.py to run again in this
    process (machine.reset_cause() is r.cause). Returns how it restarted, for the front end
    (tools/vboard_agent.py calls this, then runs boot.py and main.py): a chip restart's cause,
    HARD_RESET for machine.reset() (its reset_cause() is SOFT_RESET as on the ESP32, but it is
    no soft reset: the ROM boots, main.py runs); None: the board stays off."""
    cause = WORLD.down(r)
    if cause is None:
        return None
    WORLD.power_on(cause)
    return machine.HARD_RESET if cause == machine.SOFT_RESET else cause


def run_main(path="main.py"):
    """Run the flash folder's main.py as the ESP32 runs it, again after every reset (the world,
    the modem with it, carries on meanwhile). Returns when main.py returns or the board stays
    off (a flat battery); KeyboardInterrupt (Ctrl-C) stops the watch and is raised to the caller.
    Called again after that, the board starts afresh (a soft reset: the cause SOFT_RESET)."""
    w = WORLD
    if not w.running():
        w.power_on(machine.SOFT_RESET)
    while True:
        try:
            with open(path) as f:
                src = f.read()
            exec(src, {"__name__": "__main__"})
            w.stop("main.py returned")
            return
        except Reset as r:
            if reboot(r) is None:
                print("board_world: the board is off (%s)" % r.why)
                return
        except KeyboardInterrupt:
            w.stop("Ctrl-C")
            raise
