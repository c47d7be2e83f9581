"""Scenario runner: one simulated stretch of a watch's life, on CPython or MicroPython.

Wires the world (route, cells, server), the modem emulator behind the fake UART and pins, the
energy meter behind the fake ADC, boots the unmodified firmware on the board module (the
scenario's device "board": BOARDS gives its module, emulator and energy profile), replays
the scenario's faults, and writes (ARCHITECTURE.md §5):
  events.jsonl  {"t": ISO-8601 UTC, "kind": ..., ...}   what the firmware and the world did
  wire.jsonl    {"t", "dir", "channel", "peer", "data"[, "hex"]}   every frame on the wire:
                the watch protocol, and the calls and SMS the emulated network carried
  summary.json  the figures
and prints a readable timeline (local time of the scenario). Scenario events are faults, and
{"do": "press", "for_ms": ...}: the SOS button held (with contact bounce at the start), and
{"do": "battery", "pct": N}: the cell drained (or charged) to where the gauge reads N%;
{"do": "flash_cut", "op": N, "bytes": K, "for_s": S}: the power goes inside the firmware's N-th
flash operation from then (a torn write, a rename or delete that never happened: flashcut.py).
"server_commands": [{"at", "data"}] are queued at the server like Traccar's commands.
"battery_mah" (800), "battery_start_pct" (100) and "battery_end" ("central") set the cell; when
it browns out the run ends there, with "died_at" in summary.json (docs/energy.md).
"""
import json
import sys
import time

from host_sim import vtime  # first: virtual time must be in place before asyncio is used
from host_sim import fakes

machine = fakes.install()
from host_sim.fakes import esp32, network  # noqa: E402

import asyncio  # noqa: E402

from boards import lilygo_t_a7670, lilygo_t_sim7000g  # noqa: E402
from firmware import clock, fsutil, geo, log, zones  # noqa: E402
from firmware import idle as fw_idle  # noqa: E402
from firmware import main as fw_main  # noqa: E402
from firmware.compat import sleep_ms, wait_for_ms  # noqa: E402
from firmware.config import Config  # noqa: E402
from firmware.drivers.battery import percent_from_mv  # noqa: E402
from host_sim.flashcut import FlashCut  # noqa: E402
from host_sim.energy import BATTERY_MAH, ENDS, PARTS, EnergyMeter  # noqa: E402
from host_sim.modem_a76xx import SMS_SLOW_ONE_IN, A76xxEmulator  # noqa: E402
from host_sim.modem_sim7000 import Sim7000Emulator  # noqa: E402
from host_sim import accel, scenario, traccar  # noqa: E402
from host_sim.traccar import WatchServer  # noqa: E402
from host_sim.world import World, offset_ms  # noqa: E402

# The scenario's device "board": its module (boards/), the emulator behind its modem and the
# energy profile of its parts (host_sim/energy.py PROFILES; None: the T-A7670's own table).
BOARDS = {"lilygo_t_a7670": (lilygo_t_a7670, A76xxEmulator, None),
          "lilygo_t_sim7000g": (lilygo_t_sim7000g, Sim7000Emulator, "sim7000")}

VT = vtime.VT
TEST_CA = "Trygg Test Root CA"  # the TLS fronts' CA unless the scenario's "server" names one
BATTERY_CHECK_MS = 10000  # how often the runner looks at the cell between changes of state
_NOTABLE = ("boot", "identity", "clock", "modem_ready", "connect", "connect_failed", "disconnect",
            "error", "fault", "config_recovered", "outbox_restored", "modem_rebooted", "modem_unresponsive",
            "watchdog_reset",
            "downlink",
            "report_skipped", "zone", "fatal", "contacts", "button", "call_ringing", "call_rejected",
            "call_answered", "call_missed", "call_for_sos", "sms_kept", "sms_dropped", "sos",
            "sos_alarm_queued", "sos_sms", "sos_sms_failed", "sos_call", "sos_call_answered",
            "sos_call_ended", "sos_hangup", "sos_accepted", "sos_unanswered", "sos_cancelled",
            "sos_answer_callback", "alarm_delivered", "command", "command_applied", "command_refused",
            "school_mode", "message", "messages_released", "shutdown", "deep_sleep", "voice_message",
            "factory_settings", "battery_low", "battery_critical", "battery_ok",
            "brownout")


_WEEKDAYS = ("Sat", "Sun", "Mon", "Tue", "Wed", "Thu", "Fri")  # 2000-01-01 was a Saturday


def _jstr(s):
    """A JSON string with everything outside printable ASCII escaped, identically on both
    interpreters (MicroPython's json.dumps writes non-ASCII raw, CPython escapes it)."""
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 32 <= c < 127:
            out.append(ch)
        elif c < 0x10000:
            out.append("\\u%04x" % c)
        else:  # a surrogate pair, as JSON wants
            c -= 0x10000
            out.append("\\u%04x\\u%04x" % (0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF)))
    out.append('"')
    return "".join(out)


def _jval(v):
    if isinstance(v, dict):  # keys sorted: MicroPython's json.dumps does not keep an order
        return "{" + ", ".join(_jstr(k) + ": " + _jval(v[k]) for k in sorted(v)) + "}"
    return _jstr(v) if isinstance(v, str) else json.dumps(v)


def json_line(pairs):
    """A JSON object with keys in the given order (MicroPython's json does not keep order)."""
    return "{" + ", ".join(_jstr(k) + ": " + _jval(v) for k, v in pairs) + "}\n"


class Recorder:
    """Writes events.jsonl / wire.jsonl and prints the timeline."""

    def __init__(self, out_dir, start2000, tz_min, echo, place=None):
        self.place = place  # fn() -> where the child is now (for the hour lines)
        self.places = []
        self.start = start2000
        self.tz_s = tz_min * 60
        self.echo = echo
        self.ev = open(out_dir + "/events.jsonl", "w")
        self.wire = open(out_dir + "/wire.jsonl", "w")
        self.counts = {}
        self.marks = {}  # kind -> [VT ms] of each event
        self.accepted = []  # who accepted each SOS
        self.sources = {}  # report source ("gnss", "place", "last") -> reports queued
        self.frames_at = []  # (VT ms, direction, channel, peer, data) of non-watch frames and ALs
        self.hour = None
        self.hour_counts = {}

    def iso(self, ms=None):
        """ISO-8601 UTC with milliseconds of VT ms (default: now)."""
        if ms is None:
            ms = VT.ms
        return clock.iso8601(self.start + ms // 1000)[:-1] + ".%03dZ" % (ms % 1000)

    # fn(VT ms) -> the local offset in minutes then (World.tz_offset_at: daylight saving moves
    # it); None: tz_min throughout
    tz_at = None

    def local(self):
        tz_s = self.tz_s if self.tz_at is None else self.tz_at(VT.ms) * 60
        t = self.start + VT.ms // 1000 + tz_s
        return "%02d:%02d:%02d" % clock.to_parts(t)[3:6]

    def local_at(self, ms):
        """'Thu 14:32' in the scenario's local time at VT ms."""
        tz_s = self.tz_s if self.tz_at is None else self.tz_at(ms) * 60
        t = self.start + ms // 1000 + tz_s
        return "%s %02d:%02d" % (_WEEKDAYS[t // 86400 % 7], t // 3600 % 24, t // 60 % 60)

    # ---- progress (issue 11): a line on stderr at most every progress_s wall seconds once a run
    # has taken that long (\r-rewritten on a terminal); stdout, the timeline tests read, is
    # untouched. run_file starts it; TRYGG_PROGRESS_S sets the interval (0: none).
    progress_s = 0  # 0: off
    duration_ms = 0  # the run's length, for "of N h"
    _wall0 = None
    _wall_next = 0
    _pn = 0
    _tty = False
    _shown = False  # a \r progress line stands on the terminal

    def start_progress(self, every_s, duration_ms):
        self.progress_s = every_s
        self.duration_ms = duration_ms
        self._wall0 = time.time()
        self._wall_next = self._wall0 + every_s
        try:
            self._tty = sys.stderr.isatty()
        except AttributeError:  # MicroPython's stderr has no isatty: plain lines
            self._tty = False

    def _progress(self):
        now = time.time()
        if now < self._wall_next:
            return
        self._wall_next = now + self.progress_s
        wall = now - self._wall0
        h10 = VT.ms // 360000
        text = "  ... %s, %d.%d h" % (self.local_at(VT.ms), h10 // 10, h10 % 10)
        if self.duration_ms:
            t10 = self.duration_ms // 360000
            text += " of %d.%d h" % (t10 // 10, t10 % 10)
        text += " simulated in %d.%d s, %dx real time, %d reports" % (
            int(wall), int(wall * 10) % 10, int(VT.ms / 1000 / wall) if wall > 0 else 0,
            self.counts.get("report", 0))
        if self._tty:
            sys.stderr.write("\r" + text + "\033[K")
            self._shown = True
            self._text = text
        else:
            sys.stderr.write(text + "\n")

    def _unshow(self):
        """Clear a \r progress line before the timeline prints (they share the terminal)."""
        if self._shown:
            sys.stderr.write("\r\033[K")
            self._shown = False
            self._hidden = True

    _hidden = False
    _text = ""

    def _reshow(self):
        """... and put it back under the line printed (a status line at the bottom)."""
        if self._hidden and self._wall0 is not None:
            sys.stderr.write("\r" + self._text + "\033[K")
            self._shown = True
        self._hidden = False

    # ---- energy.jsonl (issue 11): each part's current, a line per minute that differs ----
    en = None

    def watch_meter(self, meter, out_dir):
        """Follow the meter into energy.jsonl: a header {"kind": "meter", "step_s": 60, "parts":
        "modem,gnss,...", ...}, then {"min": N, "ua": [µA, ...], "pm": P}: in minute N from the
        start, each part's average current at the central end, in the header's order, and the
        cell's charge at the minute's end in per mille, at the battery's end of the model (as
        summary.json's battery_left_permille). A minute like the one before is left out, except
        the last of such a run: the currents hold until the next line, and "pm" is linear in
        between. The last line may cover part of a minute ("span_ms"). ~50 bytes a minute.
        The figures are the meter's own totals at each minute's edge (EnergyMeter.totals_at),
        read before each change of state or clock (its set() and set_clock(), wrapped on this
        instance), so the file and summary.json come from one integration."""
        self._meter = meter
        self._emin = VT.ms // 60000
        self._ebase = meter.totals_at(VT.ms)[0]  # the totals at the start of minute _emin
        self._eprev = None  # the last minute's currents
        self._eheld = None  # the last minute like the one written before it, not yet written
        self._edrained = meter.drained_uah
        self.en = open(out_dir + "/energy.jsonl", "w")
        self.en.write(json_line([("kind", "meter"), ("step_s", 60), ("parts", ",".join(PARTS)),
                                 ("battery_mah", meter.battery_mah), ("start_pct", meter.start_pct),
                                 ("end", meter.end)]))
        orig_set, orig_clock = meter.set, meter.set_clock

        def set_state(comp, state):
            if meter.state(comp) != state:
                self._energy_to(VT.ms)
            orig_set(comp, state)

        def set_clock(mhz):
            self._energy_to(VT.ms)
            orig_clock(mhz)

        meter.set = set_state
        meter.set_clock = set_clock

    def _energy_to(self, now):
        """Write the minutes that ended by now (the rate has held since the last change)."""
        if self.en is None:
            return  # closed: the run is over
        while (self._emin + 1) * 60000 <= now:
            self._energy_line((self._emin + 1) * 60000)

    def _energy_line(self, at):
        """The line of minute _emin, from its start to `at` (its end, or the run's)."""
        m = self._meter
        tot, used = m.totals_at(at)
        span = at - self._emin * 60000
        base = self._ebase
        ua = [(tot.get(p, 0) - base.get(p, 0)) // span for p in PARTS]
        self._ebase = tot
        cap = m.battery_mah * 3600000000
        left = cap * m.start_pct // 100 - used - m.drained_uah * 3600000
        pairs = [("min", self._emin), ("ua", ua), ("pm", left * 1000 // cap if left > 0 else 0)]
        self._emin += 1
        if span != 60000:
            pairs.append(("span_ms", span))
        line = json_line(pairs)
        if ua == self._eprev and m.drained_uah == self._edrained and span == 60000:
            self._eheld = line
            return
        if self._eheld is not None:
            self.en.write(self._eheld)
            self._eheld = None
        self.en.write(line)
        self._eprev = ua
        self._edrained = m.drained_uah

    def _energy_close(self):
        self._energy_to(VT.ms)
        if VT.ms > self._emin * 60000:
            self._energy_line(VT.ms)
        if self._eheld is not None:
            self.en.write(self._eheld)
        self.en.close()
        self.en = None

    def event(self, kind, fields):
        if self._wall0 is not None:
            self._pn += 1
            if self._pn >= 50:
                self._pn = 0
                self._progress()
        if kind == "world" and self.en is not None and fields.get("do") == "battery":
            self._energy_to(VT.ms)  # the cell's charge jumps here: a minute's line shows it
        if kind == "sos_accepted":
            self.accepted.append(fields.get("by"))
        elif kind == "report":
            src = fields.get("src")
            self.sources[src] = self.sources.get(src, 0) + 1
        pairs = [("t", self.iso()), ("kind", kind)]
        for k in sorted(fields):
            v = fields[k]
            if not isinstance(v, (int, str, bool)) and v is not None:
                v = str(v)
            pairs.append((k, v))
        self.ev.write(json_line(pairs))
        self.counts[kind] = self.counts.get(kind, 0) + 1
        self.marks.setdefault(kind, []).append(VT.ms)
        if self.echo:
            self._print(kind, fields)

    def frame(self, direction, channel, peer, data):
        if channel != "watch" or b"*AL," in data:
            self.frames_at.append((VT.ms, direction, channel, peer, data))
        if channel != "watch" and self.echo:
            self._unshow()
            text = data.decode("utf-8", "replace").replace("\r", "\\r").replace("\n", "\\n")
            print("  %s  %-16s %s %s %s" % (self.local(), channel, direction, peer, text[:70]))
            self._reshow()
        pairs = [("t", self.iso()), ("dir", direction), ("channel", channel), ("peer", peer)]
        try:
            text = data.decode()
            ok = all(32 <= b < 127 for b in data)
        except UnicodeError:
            ok = False
        if ok:
            pairs.append(("data", text))
        else:
            pairs.append(("data", "".join("%02x" % b for b in data)))
            pairs.append(("hex", True))
        self.wire.write(json_line(pairs))

    def _print(self, kind, fields):
        hour = self.local()[:2]
        if hour != self.hour:
            self.flush_hour()
            self.hour = hour
        hc = self.hour_counts
        hc[kind] = hc.get(kind, 0) + 1
        if kind == "report":
            hc["valid"] = hc.get("valid", 0) + (1 if fields.get("valid") else 0)
            where = self.place() if self.place else None
            if where and where not in self.places:
                self.places.append(where)
        if kind in _NOTABLE:
            detail = " ".join("%s=%s" % (k, fields[k]) for k in sorted(fields))
            self._unshow()
            print("  %s  %-16s %s" % (self.local(), kind, detail))
            self._reshow()

    def flush_hour(self):
        if self.hour is None or not self.echo:
            return
        hc = self.hour_counts
        if hc.get("report") or hc.get("delivered"):
            self._unshow()
            print("  %s:00  %2d reports, %2d with a fresh fix, %2d batches delivered  %s" % (
                self.hour, hc.get("report", 0), hc.get("valid", 0), hc.get("delivered", 0),
                ", ".join(self.places)))
            self._reshow()
        self.hour_counts = {}
        self.places = []

    def close(self):
        self.flush_hour()
        self._unshow()
        self._wall0 = None
        self.ev.close()
        self.wire.close()
        if self.en is not None:
            self._energy_close()


class Sim:
    def __init__(self, scenario, out_dir, echo=True):
        self.sc = scenario
        self.out = out_dir
        self.echo = echo
        fsutil.makedirs(out_dir)
        VT.reset()
        machine.WIRING.reset()
        self.world = World(scenario, VT)
        board = scenario.get("device", {}).get("board", "lilygo_t_a7670")
        if board not in BOARDS:
            raise ValueError("device board: %r (one of %s)" % (board, ", ".join(sorted(BOARDS))))
        self.board_module, emu_class, profile = BOARDS[board]
        # the cell (docs/energy.md): "battery_mah" (default 800), "battery_start_pct" (100) and
        # "battery_end", the end of the energy model whose charge drains it (default "central")
        self.meter = EnergyMeter(VT, scenario.get("battery_mah", BATTERY_MAH),
                                 scenario.get("battery_start_pct", 100),
                                 scenario.get("battery_end", "central"), profile)
        self.meter.on_dead = self._on_dead
        self.died = None  # (VT ms, why, loaded mV) once the cell browned out
        self._main_task = None
        VT.after(BATTERY_CHECK_MS, self._battery_check)
        network.WIRING_SCAN = self.world.wifi_at  # what WLAN.scan() hears, at the scan's end
        network.METER = self.meter
        network.SCANS = 0
        network.power_off()
        dev = scenario["device"]
        srv = scenario["server"]
        self.device_id = scenario.get("config", {}).get("device_id") or dev["imei"]
        # Traccar closes a socket idle for 1800 s (watch-protocol.md §1): checked every minute
        self.server = WatchServer(devices=set([self.device_id]), now_ms=clock.ticks_ms, after=VT.after)
        self.world.add_server(srv["host"], srv["ip"], srv["port"], self.server)
        # the same Traccar's OsmAnd port (one store: positions, rows, the command queue), and a
        # TLS front before either when the scenario names its port (docs/transports.md):
        # "server": {"tls_port": 5094, "osmand_tls_port": 5056, "ca": "<the front's CA>"}
        self.osmand = traccar.OsmAndServer(self.server, devices=set([self.device_id]), now_ms=clock.ticks_ms,
                                           wall_s=self.world.utc)
        osmand_port = srv.get("osmand_port", traccar.OSMAND_PORT)
        self.world.add_server(srv["host"], srv["ip"], osmand_port, self.osmand)
        self.servers = [self.server, self.osmand]
        self.fronts = []
        for key, backend in (("tls_port", self.server), ("osmand_tls_port", self.osmand)):
            if srv.get(key):
                front = traccar.TlsFront(backend, srv.get("ca", TEST_CA))
                self.world.add_server(srv["host"], srv["ip"], srv[key], front)
                self.fronts.append(front)
                self.servers.append(front)
        # a real server instead (make sim SERVER=host:port; host_sim/realserver.py): the watch's
        # connections go over real TCP, the simulated server above only shadows what it sends
        self.real = None
        real = scenario.get("real_server")
        if real:
            from host_sim.realserver import RealServer

            host, port = real.rsplit(":", 1)
            self.real = RealServer(host, int(port), shadow=self.server)
            self.world.add_server(srv["host"], srv["ip"], srv["port"], self.real)
            VT.waiters.append(self.real.pump)
        self._idle_check()
        self.rec = Recorder(out_dir, self.world.utc(0), scenario.get("tz_offset_min", 0), echo,
                            lambda: self.world.position_at(VT.ms)[5])
        self.rec.tz_at = self.world.tz_offset_at  # the timeline in local time across DST
        for s in self.servers:
            s.wire = self.rec.frame
        self._server_commands()
        self.emu = emu_class(VT, self.world, dev["imei"], dev["iccid"], meter=self.meter,
                                 variant=dev.get("gnss_variant", "foreign"),
                                 sms_capacity=dev.get("sms_capacity", 40),
                                 sms_slow_one_in=dev.get("sms_slow_one_in", SMS_SLOW_ONE_IN),
                                 remote_end=dev.get("remote_end", "both"))
        pins = self.board_module.PINS
        machine.WIRING.attach_uart(pins["modem_tx"], pins["modem_rx"], self.emu)
        W = machine.WIRING
        ri = W.pin(pins["ri"]) if "ri" in pins else None  # the T-SIM7000G wires no RI (hardware.md §5.1)
        self.emu.attach_pins(pwrkey=W.pin(pins["pwrkey"]), dtr=W.pin(pins["dtr"]), ri=ri)
        W.adc_source[pins["battery_adc"]] = lambda: self.meter.battery_mv() * 1000 // 2
        # a step counter on the I2C where the scenario's watch has one (host_sim/accel.py)
        if dev.get("accel") is not None:
            sensor = accel.Lsm6dsl(VT, accel.Steps(self.world, dev["accel"]), self.meter)
            W.i2c[(pins["i2c_scl"], pins["i2c_sda"])] = {accel.ADDR: sensor}
        self.emu.wire = self.rec.frame
        self.button = W.pin(pins["sos_button"])
        self.button.drive(1)  # pulled up: released
        self.ringer_ms = 0
        self._ringer_since = None
        W.pin(pins["vibration"]).watch(self._ringer)
        self.wake_spins = 0  # light sleeps that a level wake ended at once
        W.sleep = self._lightsleep
        W.on_edge = self._edge
        W.schedule = VT.after
        W.unschedule = VT.cancel
        W.on_wdt = self._watchdog_reset
        W.on_reset = self._soft_reset
        W.on_deepsleep = self._deep_sleep
        W.on_freq = self._clock
        self.deep_asleep = False
        self._pending_boot = None
        self._woken = False
        self.flash = out_dir + "/flash"
        self._booted = False
        self.app_task = None
        self.last_app = None
        self.flashcut = None  # host_sim/flashcut.py, installed by the first "flash_cut" event
        self._chip_dead = False  # between a cut inside a flash operation and the power cut
        self._cut_kind = None
        self._cut_event = None
        self.power_cuts_between = 0  # "flash_cut" events whose firmware made no flash operation
        self.boots = 0
        self.watchdog_resets = 0
        self._stopped = []  # firmware tasks cancelled by resets and power cuts
        self.uart_lost = 0  # bytes the ESP32 missed while light-sleeping, over all boots
        self.at_garbage = 0  # lines the AT engine could not use (garbage), over all boots
        self.bad_replies = 0  # replies and URCs the driver could not parse, over all boots

    def _ringer(self, level):
        if level and self._ringer_since is None:
            self._ringer_since = VT.ms
            log.event("ringer", on=True)
        elif not level and self._ringer_since is not None:
            self.ringer_ms += VT.ms - self._ringer_since
            self._ringer_since = None
            log.event("ringer", on=False)

    def _wake_level(self):
        """True if a level wake source holds already (ext0/ext1 are level-triggered)."""
        W = machine.WIRING
        e0 = esp32.wake_ext0
        if e0 is not None and bool(W.pin(e0[0]).level) == bool(e0[1]):
            return True
        e1 = esp32.wake_ext1
        if e1 is not None:
            levels = [bool(W.pin(n).level) for n in e1[0]]
            if e1[1]:  # WAKEUP_ANY_HIGH
                return any(levels)
            return not any(levels)  # WAKEUP_ALL_LOW
        return False

    def _server_commands(self):
        """Traccar's command queue: each scenario command is handed to the server at its time;
        like Traccar it goes out at once on a live session, else right after the watch's next
        uplink frame (watch-protocol.md §5)."""
        for c in self.sc.get("server_commands") or []:
            data = c["data"]
            if not isinstance(data, str) or "at" not in c:
                raise ValueError("server_commands: {\"at\": \"HH:MM\", \"data\": \"...\"} expected")

            def hand_over(data=data):
                log.event("world", do="server_command", data=data[:60])
                self.server.queue_command(self.device_id, data)

            VT.at(offset_ms(c["at"]), hand_over)

    def _idle_check(self):
        self.server.check_idle()
        self.osmand.check_idle()
        VT.after(60000, self._idle_check)

    # ---- the battery running down ----
    def _battery_check(self):
        """The cell's slow decline between the meter's own checks (each change of state checks
        the loaded voltage at once); a world event, so the firmware sees nothing of it."""
        if self.meter.check() is None:
            VT.after(BATTERY_CHECK_MS, self._battery_check)

    def _on_dead(self, why):
        """The cell browned out (the meter calls this from wherever the current changed: a
        firmware task, an emulator callback, the idle hook): the power cut runs as a task of its
        own, as the watchdog's reset does, then the run ends (the world does not go on dead)."""
        self.died = self.meter.dead
        log.event("brownout", why=why, mv=self.died[2], left_permille=self.meter.charge_permille())
        self._death_task = asyncio.create_task(self._brown_out())

    async def _brown_out(self):
        self.power_cut()
        await self.unwind()
        if self._main_task is not None and not self._main_task.done():
            self._main_task.cancel()

    # ---- the fake machine.lightsleep (the board's idle hook, firmware/idle.py, calls it) ----
    def _lightsleep(self, ms):
        """machine.lightsleep(ms) as on the ESP32: only the timer or the ext0 pin (RI low)
        ends it (hardware.md §4); UART bytes arriving meanwhile are lost."""
        W = machine.WIRING
        if self._wake_level():
            # woken at once: ~1 ms of wake-up and back (what a firmware that sleeps with a
            # wake level already present pays, again and again)
            self.wake_spins += 1
            VT.idle(1)
            return
        self.meter.set("esp32", "sleep")
        self._woken = False
        W.asleep = True
        deadline = VT.ms + ms if ms >= 0 else None
        try:
            while not self._woken:
                left = -1 if deadline is None else deadline - VT.ms
                if deadline is not None and left <= 0:
                    break
                VT.idle(left)
        finally:
            W.asleep = False
            self.meter.set("esp32", "active")

    def _clock(self, hz):
        """machine.freq set the ESP32's clock to hz: the meter charges its awake row."""
        self.meter.set_clock(hz // 1000000)

    def _chip_starts(self, cause):
        """The ESP32 powers up or resets (for `cause`): the board on, the chip awake at
        MicroPython's clock, one boot more."""
        self.boots += 1
        self.meter.set("board", "on")
        self.meter.set("esp32", "active")
        machine.WIRING.freq_hz = machine.DEFAULT_HZ
        self._clock(machine.DEFAULT_HZ)
        machine.WIRING.reset_cause = cause

    def _edge(self, pin, level):
        """An input changed: a wake source whose level now holds ends the light sleep."""
        if self._wake_level():
            self._woken = True

    # ---- flash and boot ----
    def provision(self):
        fsutil.rmtree(self.flash)
        fsutil.makedirs(self.flash)
        cfg = Config.load(self.flash)
        cfg.update(self.sc.get("config", {}))
        cfg.save()
        ca = self.sc["device"].get("ca")
        if ca:  # the CA the watch is provisioned with (TLS): "device": {"ca": "<name>"}
            fsutil.atomic_write(self.flash + "/ca.pem", traccar.ca_pem(ca).encode())
        lf = self.sc.get("last_fix")
        if lf:
            t = clock.parse_iso8601(lf["at"])
            line = "%d,%d,%d,%d,%d" % (t, int(round(lf["lat"] * 1000000)), int(round(lf["lon"] * 1000000)),
                                       lf.get("alt", 0), lf.get("acc", 10))
            fsutil.atomic_write(self.flash + "/lastfix.csv", line.encode())

    def boot(self, cause=machine.PWRON_RESET):
        if self.died is not None:
            return  # a flat cell starts nothing (a reset or a press that was under way)
        self._chip_starts(cause)
        # what the board's main.py runs (firmware/main.py), in the simulator's event loop
        fw_main.APP = None
        self.app_task = asyncio.create_task(fw_main.start(self.board_module, self.flash))
        self._booted = True

    @property
    def app(self):
        """The running firmware's App (None before it started or once it stopped)."""
        return fw_main.APP if self._booted else None

    @property
    def board(self):
        a = self.app
        return a.board if a is not None else None

    def _stop_firmware(self):
        if not self._booted:
            return  # already down (a reset in progress)
        self._booted = False
        app = fw_main.APP
        fw_main.APP = None
        if app is not None:
            self.last_app = app  # what it left behind (the outbox at the end of the run)
        fw_idle.install(None)  # no board to sleep: the ESP32 is off, deep asleep or restarting
        for t in (app.tasks if app is not None else []) + [self.app_task]:
            t.cancel()
            self._stopped.append(t)
        if machine.WIRING.wdt is not None:
            machine.WIRING.wdt.stop()
        network.power_off()  # a reset or a power cut stops the Wi-Fi radio
        if app is not None:
            m = app.board.modem
            self.uart_lost += m.at.uart.lost_in_sleep
            self.at_garbage += m.at.garbage
            self.bad_replies += m.bad_replies

    def _watchdog_reset(self):
        """The ESP32 resets; the modem keeps its power and its state (hardware.md §4 WDT).
        Called from the idle hook, where MicroPython's asyncio still counts the last firmware
        task as current (it cannot be cancelled from there): the reset runs as its own task."""
        if self._chip_dead:
            return  # the power went inside a flash operation: nothing restarts but the power
        self._reset_task = asyncio.create_task(self._reset_esp32())

    async def _reset_esp32(self, cause=machine.WDT_RESET):
        if cause == machine.WDT_RESET:
            log.event("watchdog_reset")
            self.watchdog_resets += 1
        self._stop_firmware()
        await self.unwind()
        await sleep_ms(1000)
        self.boot(cause)

    def _soft_reset(self):
        """machine.reset(): the ESP32 restarts, the modem keeps its power and state."""
        if self._chip_dead:
            return  # (main.py's last line of defence after a cut inside a flash operation)
        self._reset_task = asyncio.create_task(self._reset_esp32(machine.SOFT_RESET))

    def _deep_sleep(self, ms):
        """machine.deepsleep(): the firmware stops; the ESP32 draws its deep-sleep current until
        the SOS button (ext1) starts it again (a press event in the scenario). Called from a
        firmware task, which cannot cancel itself: the stop runs as a task of its own."""
        self.deep_asleep = True
        self._reset_task = asyncio.create_task(self._go_deep())

    async def _go_deep(self):
        log.event("deep_sleep")
        self._stop_firmware()
        await self.unwind()
        self.meter.set("esp32", "deep")  # RTC memory kept; the SOS button (ext1) wakes it

    def power_cut(self):
        """Battery out: every task stops where it is, the modem loses power; flash stays."""
        self._stop_firmware()
        self.emu.power_cut()
        self.meter.set("esp32", "off")
        self.meter.set("board", "off")

    async def _flash_cut(self, ev):
        """{"do": "flash_cut", "op": N, "bytes": K, "within_s": W, "for_s": S}: the power goes
        at the firmware's N-th flash operation from now (a write keeps K bytes: host_sim/
        flashcut.py), or after W s (default 600) if it makes none; S s later it comes back."""
        fc = self.flashcut
        if fc is None:
            fc = self.flashcut = FlashCut(self.flash)
            fc.install()
            fc.on_cut = self._cut_now
        fc.arm(ev.get("op", 1), ev.get("bytes", 0))
        self._cut_event = asyncio.Event()
        try:
            await wait_for_ms(self._cut_event.wait(), ev.get("within_s", 600) * 1000)
        except asyncio.TimeoutError:
            fc.armed = None
            self.power_cuts_between += 1
        kind, self._cut_kind = self._cut_kind or "between", None
        self.power_cut()
        await self.unwind()
        self._chip_dead = False
        log.event("fault", do="flash_cut", at=kind)
        fc.revive()
        await sleep_ms(ev.get("for_s", 2) * 1000)
        self.boot()

    def _cut_now(self, kind):
        """The power went inside a flash operation (FlashCut.on_cut, in a firmware task): the
        modem loses power and the chip logs nothing more at this very instant; the firmware's
        tasks are stopped by the scenario task (it cannot cancel the running one from here)."""
        self._cut_kind = kind
        self._chip_dead = True
        self.emu.power_cut()
        self._cut_event.set()

    def _sink(self, kind, fields):
        if not self._chip_dead:
            self.rec.event(kind, fields)

    def fault(self, ev):
        do = ev["do"]
        if do == "press":
            return self._press(ev.get("for_ms", 300))
        if do == "battery":
            return self._battery(ev["pct"])
        log.event("fault", do=do, for_s=ev.get("for_s", 0))
        if do == "modem_reboot":
            self.emu.reboot()
        elif do == "modem_garbage":
            # sent when the ESP32 is awake to read it: bytes that arrive in its light sleep are
            # lost (and would test nothing); the AT engine's garbage count shows they arrived
            data = ev.get("data", "\xff\xfe#@!\r\n+WHAT?\r\n").encode()
            self._when_awake(lambda: self.emu.garbage(data))
        elif do == "modem_mute":
            self.emu.mute(ev.get("for_s", 60) * 1000)
        elif do == "modem_hang":
            self.emu.hang()
        elif do == "firmware_deadlock":
            # a bug that never lets go of the AT engine: every service waits on it forever
            lock = self.board.modem.at._lock
            asyncio.create_task(lock.acquire())
        elif do == "server_down":
            for s in self.servers:
                s.set_down(True)
            VT.after(ev.get("for_s", 600) * 1000, lambda: [s.set_down(False) for s in self.servers])
        elif do == "server_ca":
            # the TLS fronts' certificate chain replaced: now it ends in the CA named "ca" (a
            # proxy misconfigured, then fixed; docs/transports.md)
            for f in self.fronts:
                f.set_ca(ev["ca"])
        elif do == "server_garbage":
            self.server.inject(ev.get("data", "garbage]]\r\n[SG*x").encode())
        elif do == "server_mode":
            # a broken or hostile server (host_sim/traccar.py MODES) for for_s, then normal
            log.event("world", do="server_mode", mode=ev["mode"])
            self.server.set_mode(ev["mode"])
            if ev.get("for_s"):
                VT.after(ev["for_s"] * 1000, lambda: self.server.set_mode("normal"))
        elif do in ("no_coverage",):
            pass  # the world and the emulator handle coverage windows themselves
        elif do != "reboot":
            raise ValueError("unknown scenario event: %r" % do)

    def _when_awake(self, fn):
        """fn() at the first 50 ms step at which the ESP32 is awake. Checked on virtual time's
        own callbacks, where `asleep` is what the UART sees (the runner's task itself only runs
        when the firmware's light sleep has ended for it)."""
        def check():
            if machine.WIRING.asleep:
                VT.after(50, check)
            else:
                fn()

        VT.after(50, check)

    def _battery(self, pct):
        """{"do": "battery", "pct": N}: the cell from now on as if drained (or charged) to where
        the watch's gauge reads N%: an offset to the meter's used charge, which the fake ADC's
        voltage comes from (a day that starts nearly empty, a charger). The currents and the
        averages stay the meter's own."""
        m = self.meter
        used = m.used_uah(m.end)  # the meter's own count, at the end that drains the cell
        start = m.battery_mah * 1000 * m.start_pct // 100
        lo, hi = start - m.battery_mah * 1000 - used, start - used  # the cell full .. empty
        while lo < hi:  # the smallest offset at which the gauge reads N or less
            mid = (lo + hi) // 2
            m.drained_uah = mid
            if percent_from_mv(m.battery_mv()) <= pct:
                hi = mid
            else:
                lo = mid + 1
        m.drained_uah = lo
        got = percent_from_mv(m.battery_mv())
        log.event("world", do="battery", pct=pct, got=got, offset_uah=lo)
        if got != pct:
            raise ValueError("battery: the gauge reads %d%%, not %d%%" % (got, pct))

    def _press(self, for_ms):
        """The SOS button held for for_ms; the contact bounces twice at the start (which the
        firmware must not take for presses of their own). A watch in deep sleep starts."""
        log.event("world", do="press", for_ms=for_ms)
        if self.deep_asleep:
            # the ESP32 wakes (ext1) and boots into main.py: ~1 s (ASSUMED), so the bounces
            # and the start of the press are over when the firmware looks
            self.deep_asleep = False
            VT.after(1000, lambda: self.boot(machine.DEEPSLEEP_RESET))
        b = self.button
        b.drive(0)
        VT.after(2, lambda: b.drive(1))
        VT.after(5, lambda: b.drive(0))
        VT.after(for_ms, lambda: b.drive(1))

    async def main(self):
        self._main_task = asyncio.current_task()
        try:
            await self._scenario()
        except asyncio.CancelledError:
            if self.died is None:
                raise
        if self.died is None:
            self.power_cut()
        await self.unwind()

    async def _scenario(self):
        """The scenario's events in order, then its end (a brown-out cancels this)."""
        self.boot()
        events = sorted(self.sc.get("events", []), key=lambda e: offset_ms(e["at"]))
        end = self.sc["duration_s"] * 1000
        for ev in events:
            at = offset_ms(ev["at"])
            if at >= end:
                break
            if at > VT.ms:
                await _sleep_long(at - VT.ms)
            if ev["do"] == "reboot":
                self.fault(ev)
                self.power_cut()
                await self.unwind()
                await sleep_ms(ev.get("for_s", 2) * 1000)
                self.boot()
            elif ev["do"] == "flash_cut":
                await self._flash_cut(ev)
            else:
                self.fault(ev)
        if end > VT.ms:
            await _sleep_long(end - VT.ms)

    async def unwind(self):
        """Let cancelled firmware tasks finish unwinding (CPython needs a few loop turns)."""
        # CPython 3.11's wait_for can swallow a cancel that races its inner wait (fixed in 3.12):
        # cancel stragglers again, so no task of a reset firmware lives on as a ghost
        tasks = self._stopped
        for _ in range(20):
            left = [t for t in tasks if not t.done()]
            if not left:
                self._stopped = []
                return
            for t in left:
                t.cancel()
            await sleep_ms(1)
        raise RuntimeError("firmware tasks survived a reset: %r" % left)

    def run(self):
        fsutil.makedirs(self.out)
        self.provision()
        log.set_sink(self._sink)
        wall0 = time.time()
        try:
            vtime.run(self.main())
        finally:
            log.set_sink(None)
            if self.flashcut is not None:
                self.flashcut.uninstall()
            if self.real is not None:
                self.real.close_all()
            self.rec.close()
        wall = time.time() - wall0
        summary = self.summary(wall)
        self.write_people()
        with open(self.out + "/summary.json", "w") as f:
            f.write(json_line([(k, summary[k]) for k in sorted(summary)]))
        return summary

    def summary(self, wall_s):
        s = self.server
        ud = [p for p in s.positions if p["type"].startswith("UD")]
        avg_ua = self.meter.average_ua()
        c = self.rec.counts
        out = {
            "scenario": self.sc.get("name", "?"),
            "interpreter": sys.implementation.name,
            "sim_seconds": VT.ms // 1000,
            "wall_seconds": int(wall_s * 1000) / 1000,
            "sim_per_wall": int(VT.ms / 1000 / wall_s) if wall_s > 0 else 0,
            "boots": self.boots,
            "watchdog_resets": self.watchdog_resets,
            "reports_queued": c.get("report", 0),
            "reports_delivered": len(ud),
            "reports_valid": len([p for p in ud if p["valid"]]),
            "heartbeats_acked": c.get("heartbeat", 0),
            "server_acks": s.acks_sent,
            "server_errors": len(s.errors),
            "server_connections": s.connections,
            "bytes_up": s.bytes_up,
            "bytes_down": s.bytes_down,
            # what the operator counts: with IP/TCP/UDP headers, handshakes, ACKs, DNS, AGPS
            # (host_sim/modem_a76xx.py docstring); per day: averaged over the simulated days
            "air_bytes_up": self.emu.air_up,
            "air_bytes_down": self.emu.air_down,
            "air_bytes_per_day": (self.emu.air_up + self.emu.air_down) * 86400 // max(1, VT.ms // 1000),
            "firmware_errors": c.get("error", 0),
            "outbox_left": len(self.last_app.outbox) if self.last_app and self.last_app.outbox else 0,
            "avg_current_ua": avg_ua,
            "battery_mah": self.meter.battery_mah,
            "battery_days_x10": (self.meter.battery_mah * 1000 * 10 // avg_ua // 24) if avg_ua else 0,
            "modem_commands": self.emu.commands,
            "uart_bytes_lost_in_sleep": self.uart_lost,
            "at_garbage": self.at_garbage,
            "modem_bad_replies": self.bad_replies,
            "avg_ua_modem": self.meter.average_ua_of("modem"),
            "avg_ua_gnss": self.meter.average_ua_of("gnss"),
            "avg_ua_esp32": self.meter.average_ua_of("esp32"),
            "avg_ua_board": self.meter.average_ua_of("board"),
            "avg_ua_wifi": self.meter.average_ua_of("wifi"),
            "avg_ua_led": self.meter.average_ua_of("led"),
            "wifi_scans": network.SCANS,
            "wake_spins": self.wake_spins,
            "ringer_ms": self.ringer_ms,
            "calls_rejected": c.get("call_rejected", 0),
            "calls_rung": c.get("call_ringing", 0),
            "sms_dropped": c.get("sms_dropped", 0),
            "sms_kept": c.get("sms_kept", 0),
        }
        out.update(self.battery_figures())
        out.update(self.sos_figures())
        out.update(self.position_figures())
        if self.echo:
            print_summary(out)
        return out


    def battery_figures(self):
        """The energy model at its three ends (docs/energy.md) and the cell: the average current
        and the days a full cell lasts at that average, each part's share, when each end's charge
        ran out (None: not in this run), and the brown-out that ended the run, if any."""
        m = self.meter
        cap = m.battery_mah * 1000
        avg = {}
        days = {}
        empty = {}
        empty_local = {}
        for i in range(len(ENDS)):
            e = ENDS[i]
            avg[e] = m.average_ua_at(e)
            days[e] = cap * 10 // avg[e] // 24 if avg[e] else 0
            t = m.empty_ms[i]
            empty[e] = self.rec.iso(t) if t is not None else None
            empty_local[e] = self.rec.local_at(t) if t is not None else None
        parts = {}
        own = {}
        for p in PARTS:
            parts[p] = [m.average_ua_of_at(p, e) for e in ENDS]
            own[p] = [m.average_own_ua_of_at(p, e) for e in ENDS]
        d = self.died
        from host_sim.energy import SLEEP_OVER_MS

        deep = {}  # light sleeps at least this long (s) made deep: [n, total s, saving µA per end]
        for k in range(len(SLEEP_OVER_MS)):
            over = SLEEP_OVER_MS[k]
            deep[str(over // 1000)] = [m.sleeps_over[k], m.sleep_ms_over[k] // 1000,
                                       [m.deep_saving_ua(over, e) for e in ENDS]]
        return {
            "esp32_wakes": m.wakes,  # light sleeps ended
            "esp32_mhz": m.mhz,  # the clock the firmware left the ESP32 at (machine.freq)
            "esp32_longest_sleep_ms": m.longest_sleep_ms,
            "esp32_deep_what_if": deep,
            "avg_current_ua_ends": avg,
            "battery_days_x10_ends": days,
            "avg_ua_parts": parts,  # part -> [low, central, high]
            # ... had the cell fed each part directly (no boost: a board built for the watch)
            "avg_ua_parts_own": own,
            "battery_start_pct": m.start_pct,
            "battery_end": m.end,
            "battery_left_permille": m.charge_permille(),
            "battery_mv_at_end": m.battery_mv(),
            "battery_empty_at": empty,
            "battery_empty_local": empty_local,
            "died_at": self.rec.iso(d[0]) if d else None,
            "died_after_h_x10": d[0] // 360000 if d else None,
            "died_local": self.rec.local_at(d[0]) if d else None,
            "died_why": d[1] if d else None,
            "died_mv": d[2] if d else None,
        }

    def write_people(self):
        """people.jsonl: what each person experienced (their phone's log), and calls and texts
        to numbers nobody has: {"t", "name", "number", "event", "detail"}."""
        with open(self.out + "/people.jsonl", "w") as f:
            rows = []
            for p in self.world.people:
                for ms, event, detail in p.log:
                    rows.append((ms, p.name, p.number, event, detail))
            for ms, event, number, detail in self.world.people.unknown:
                rows.append((ms, "", number, event, detail))
            rows.sort(key=lambda r: r[0])
            for ms, name, number, event, detail in rows:
                t = self.rec.iso(ms)
                f.write(json_line([("t", t), ("name", name), ("number", number), ("event", event),
                                   ("detail", detail if isinstance(detail, (str, int)) else str(detail))]))

    def zone_crossings(self):
        """The true crossings of the configured zones: [(VT ms, zone name, "exit"|"enter")],
        from the world's route sampled every second (inside: edge <= 0), up to the end of the
        run (a cell that browned out ends it: docs/energy.md)."""
        zl = (self.sc.get("config") or {}).get("zones") or []
        out = []
        if not zl:
            return out
        inside = {}
        end = self.world.duration_s * 1000
        if self.died is not None and VT.ms < end:
            end = VT.ms
        last = None
        for ms in range(0, end + 1, 1000):
            lat, lon = self.world.position_at(ms)[:2]
            if (lat, lon) == last:
                continue  # standing still: nothing crosses (a week is mostly that)
            last = (lat, lon)
            for z in zl:
                now_in = zones.edge_m(z, lat, lon) <= 0
                was = inside.get(z["name"])
                if was is not None and was != now_in:
                    out.append((ms, z["name"], "enter" if now_in else "exit"))
                inside[z["name"]] = now_in
        return out

    def position_figures(self):
        """How honest the reports were, each against the world's truth at its time: error
        (p50, p95, max, metres), reports whose error exceeds the accuracy they state, reports
        by source; zone alerts against the true crossings (seconds from the crossing to the
        AL at the server; None: never alerted); time GNSS was powered."""
        s = self.server
        errs = []
        exceeded = 0
        for p in s.positions:
            if not p["type"].startswith("UD"):
                continue
            ms = (p["time"] - self.world.start) * 1000
            lat, lon = self.world.position_at(ms)[:2]
            e = geo.distance_m(lat, lon, p["lat"], p["lon"])
            errs.append(e)
            if p["accuracy"] is None or e > p["accuracy"]:
                exceeded += 1
        errs.sort()

        def pct(q):
            return errs[min(len(errs) - 1, len(errs) * q // 100)] if errs else None

        als = []
        for t, d, ch, _, data in self.rec.frames_at:
            if ch == "watch" and d == "up" and b"*AL," in data:
                try:
                    st = traccar.decode_position(data[data.index(b"*AL,") + 1:-1])["status"]
                except ValueError:
                    continue
                als.append((t, "exit" if st & 0x40000 else "enter" if st & 0x80000 else None))
            elif ch == "osmand" and d == "up" and b"&alarm=" in data:  # the same alarms by OsmAnd
                als.append((t, "exit" if b"alarm=geofenceExit" in data else
                            "enter" if b"alarm=geofenceEnter" in data else None))
        lat_s = []
        used = set()
        for ms, name, ev in self.zone_crossings():
            late = None
            for i, (t, kind) in enumerate(als):
                if i not in used and kind == ev and t >= ms - 120000:
                    used.add(i)
                    late = max(0, t - ms) // 1000
                    break
            lat_s.append(late)
        known = sorted([x for x in lat_s if x is not None])
        return {
            "position_error_m": {"p50": pct(50), "p95": pct(95), "max": errs[-1] if errs else None},
            "accuracy_exceeded": exceeded,
            "reports_by_source": dict(self.rec.sources),
            "zone_crossings": len(lat_s),
            "zone_alerts_missed": len(lat_s) - len(known),
            "zone_alerts_extra": len([a for a in als if a[1] is not None]) - len(known),
            "zone_alert_latency_s": {"median": known[len(known) // 2] if known else None,
                                     "worst": known[-1] if known else None},
            "zone_alert_latencies_s": lat_s,  # in the order of the true crossings
            "traccar_rows": s.rows,
            "gnss_on_s": self.meter.seconds_in("gnss", "on"),
        }

    def sos_figures(self):
        """Alert latencies of the first SOS, measured on the wire from the moment the press
        became an SOS (held for sos_press_ms; no later than the release): the AL at the server,
        each SMS submitted to the network, the first call dialled."""
        marks = self.rec.marks
        longs = marks.get("button", [])
        starts = [t for t in marks.get("sos", [])]
        out = {"sos_al_ms": None, "sos_sms_ms": [], "sos_call_ms": None, "sos_accepted_by": None}
        if not starts:
            return out
        # from the long press that started it (the SOS task begins a few ms later)
        t0 = starts[0]
        for t in longs:
            if starts[0] - 1000 <= t <= starts[0]:
                t0 = t
        frames = self.rec.frames_at
        al = [t for t, d, ch, _, data in frames if d == "up" and t >= t0 and (
            ch == "watch" or (ch == "osmand" and b"&alarm=sos" in data))]
        if al:
            out["sos_al_ms"] = al[0] - t0
        # this SOS's SMS: up to the next SOS (slow ones may go after the first call)
        sos_end = starts[1] if len(starts) > 1 else VT.ms
        out["sos_sms_ms"] = [t - t0 for t, d, ch, _, data in frames
                             if ch == "sms" and d == "up" and t0 <= t <= sos_end and data.startswith(b"SOS ")]
        dials = [t for t, d, ch, _, data in frames
                 if ch == "call" and d == "up" and data == b"dial" and t >= t0]
        if dials:
            out["sos_call_ms"] = dials[0] - t0
        acc = self.rec.accepted
        if acc:
            out["sos_accepted_by"] = acc[0]
        return out


async def _sleep_long(ms):
    """sleep_ms for any length: MicroPython's asyncio orders timers by ticks_diff, valid below
    2**29 ms (6.2 days: a week-long sleep would count as long past); longer ones go in steps."""
    while ms > 0:
        step = ms if ms < _MAX_SLEEP_MS else _MAX_SLEEP_MS
        await sleep_ms(step)
        ms -= step


_MAX_SLEEP_MS = (1 << 29) - 1


def print_summary(s):
    print("")
    print("  %(scenario)s on %(interpreter)s: %(sim_seconds)d simulated s in %(wall_seconds)s s "
          "(%(sim_per_wall)dx real time)" % s)
    print("  reports: %(reports_queued)d queued, %(reports_delivered)d at the server "
          "(%(reports_valid)d with a fresh fix), %(outbox_left)d still queued" % s)
    print("  link: %(server_connections)d connections, %(heartbeats_acked)d heartbeats, "
          "%(bytes_up)d bytes up, %(bytes_down)d bytes down" % s)
    print("  power: %d.%02d mA average -> %d.%d days on %d mAh" % (
        s["avg_current_ua"] // 1000, s["avg_current_ua"] % 1000 // 10, s["battery_days_x10"] // 10,
        s["battery_days_x10"] % 10, s["battery_mah"]))
    ends = s["avg_current_ua_ends"]
    days = s["battery_days_x10_ends"]
    print("         energy model's ends: low %d.%02d mA (%d.%d days), high %d.%02d mA (%d.%d days); "
          "docs/energy.md" % (ends["low"] // 1000, ends["low"] % 1000 // 10, days["low"] // 10,
                              days["low"] % 10, ends["high"] // 1000, ends["high"] % 1000 // 10,
                              days["high"] // 10, days["high"] % 10))
    if s["died_at"]:
        print("  battery: the watch died %s (%s), %d.%d h after the start: %s at %d mV (%s end, %d mAh "
              "from %d %%)" % (s["died_local"], s["died_at"], s["died_after_h_x10"] // 10,
                               s["died_after_h_x10"] % 10, "flat" if s["died_why"] == "empty" else
                               "loaded voltage below the modem's minimum", s["died_mv"], s["battery_end"],
                               s["battery_mah"], s["battery_start_pct"]))
    else:
        print("  battery: %d.%d %% left at the end (%d mV at rest), %s end, %d mAh from %d %%" % (
            s["battery_left_permille"] // 10, s["battery_left_permille"] % 10, s["battery_mv_at_end"],
            s["battery_end"], s["battery_mah"], s["battery_start_pct"]))
    print("  problems: %(firmware_errors)d firmware errors logged, %(server_errors)d frames Traccar "
          "would reject, %(boots)d boots" % s)
    pe = s["position_error_m"]
    zl = s["zone_alert_latency_s"]
    src = ", ".join("%s %d" % (k, v) for k, v in sorted(s["reports_by_source"].items()))
    print("  positions: error p50 %s m, p95 %s m, max %s m; %d reports beyond their stated accuracy; "
          "by source %s; GNSS on %d s" % (pe["p50"], pe["p95"], pe["max"], s["accuracy_exceeded"], src,
                                          s["gnss_on_s"]))
    if s["zone_crossings"]:
        print("  zones: %d crossings, alerted after %s s (median %s, worst %s), %d missed, %d extra" % (
            s["zone_crossings"], s["zone_alert_latencies_s"], zl["median"], zl["worst"],
            s["zone_alerts_missed"], s["zone_alerts_extra"]))
    if s["calls_rejected"] or s["calls_rung"] or s["sms_dropped"] or s["sms_kept"]:
        print("  phone: %(calls_rung)d calls rang, %(calls_rejected)d rejected; %(sms_kept)d SMS kept, "
              "%(sms_dropped)d dropped" % s)
    if s["sos_al_ms"] is not None or s["sos_sms_ms"]:
        print("  SOS: alarm at the server after %s ms, SMS submitted after %s ms, first call after %s ms, "
              "accepted by %s" % (s["sos_al_ms"], s["sos_sms_ms"], s["sos_call_ms"], s["sos_accepted_by"]))


load = scenario.load  # a scenario file, with its "extends" followed (host_sim/scenario.py)


def _write_truth(sim, path):
    """truth.jsonl, so a saved run can be drawn again from its folder alone (host_sim/plot.py):
    {"kind": "scenario", "path", "name", "description", "start", "duration_s",
     "tz": [[ms, offset_min], ...]} (the local offset from each ms on),
    {"kind": "zone", ...} for each of the config's zones (as in the config), and
    {"kind": "waypoint", "ms", "t", "local", "lat", "lon", "sky", "place"} for each waypoint of
    the route (micro-degrees): the child walks straight between them (world.py)."""
    sc = sim.sc
    rec = sim.rec
    w = sim.world
    tz = []
    for ms in range(0, w.duration_s * 1000 + 1, 3600000):  # daylight saving changes on the hour
        off = w.tz_offset_at(ms)
        if not tz or tz[-1][1] != off:
            tz.append([ms, off])
    with open(sim.out + "/truth.jsonl", "w") as f:
        f.write(json_line([("kind", "scenario"), ("path", path), ("name", sc.get("name", "?")),
                           ("description", sc.get("description", "")), ("start", rec.iso(0)),
                           ("duration_s", w.duration_s), ("tz", tz)]))
        for z in (sc.get("config") or {}).get("zones") or []:
            f.write(json_line([("kind", "zone")] + [(k, z[k]) for k in sorted(z)]))
        for p in sc.get("route") or []:
            ms = offset_ms(p["at"])
            f.write(json_line([("kind", "waypoint"), ("ms", ms), ("t", rec.iso(ms)),
                               ("local", rec.local_at(ms)), ("lat", int(round(p["lat"] * 1000000))),
                               ("lon", int(round(p["lon"] * 1000000))),
                               ("sky", p.get("sky", "open")), ("place", p.get("place", ""))]))


def _progress_s():
    """Seconds between progress lines: TRYGG_PROGRESS_S, default 3 (0: none)."""
    import os

    try:
        v = os.getenv("TRYGG_PROGRESS_S")
        return float(v) if v else 3
    except (AttributeError, ValueError):
        return 3


def run_file(path, out_dir, echo=True, draw=False, server=None):
    """Run a scenario file into out_dir (checked against host_sim/scenario.schema.json first,
    on CPython); draw: also the pictures and out_dir/index.html (host_sim/plot.py, CPython);
    server: "host:port" of a real server for the watch's connections (host_sim/realserver.py)."""
    sc = scenario.load(path, check=True)
    if server:
        sc["real_server"] = server
    if echo:
        print("Trygg simulator: %s (%s)" % (sc.get("name", path), sc.get("description", "")))
    sim = Sim(sc, out_dir, echo)
    _write_truth(sim, path)
    sim.rec.watch_meter(sim.meter, out_dir)
    every = _progress_s()
    if every > 0:
        sim.rec.start_progress(every, sim.world.duration_s * 1000)
    s = sim.run()
    if draw:
        from host_sim import plot

        page = plot.draw(out_dir)
        if echo:
            print("  pictures: %s" % page)
    return s
