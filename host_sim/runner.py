"""Scenario runner: one simulated stretch of a watch's life, on CPython or MicroPython.

Wires the world (route, cells, server), the A76xx emulator behind the fake UART and pins, the
energy meter behind the fake ADC, boots the unmodified firmware on the board module, replays
the scenario's faults, and writes (ARCHITECTURE.md §5):
  events.jsonl  {"t": ISO-8601 UTC, "kind": ..., ...}   what the firmware and the world did
  wire.jsonl    {"t", "dir", "channel", "peer", "data"[, "hex"]}   every frame on the wire
  summary.json  the figures
and prints a readable timeline (local time of the scenario).
"""
import json
import sys
import time

from host_sim import vtime  # first: virtual time must be in place before asyncio is used
from host_sim import fakes

machine = fakes.install()
from host_sim.fakes import esp32  # noqa: E402

import asyncio  # noqa: E402

import boards.lilygo_t_a7670 as board_module  # noqa: E402
from firmware import clock, fsutil, log  # noqa: E402
from firmware.app import App  # noqa: E402
from firmware.compat import sleep_ms  # noqa: E402
from firmware.config import Config  # noqa: E402
from host_sim.energy import BATTERY_MAH, EnergyMeter  # noqa: E402
from host_sim.modem_a76xx import A76xxEmulator  # noqa: E402
from host_sim.traccar import WatchServer  # noqa: E402
from host_sim.world import World, offset_ms  # noqa: E402

VT = vtime.VT
_NOTABLE = ("boot", "identity", "clock", "modem_ready", "connect", "connect_failed", "disconnect",
            "error", "fault", "config_recovered", "outbox_restored", "modem_rebooted", "modem_unresponsive",
            "watchdog_reset",
            "downlink",
            "report_skipped", "fatal")


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
        self.hour = None
        self.hour_counts = {}

    def iso(self):
        t = self.start + VT.ms // 1000
        return clock.iso8601(t)[:-1] + ".%03dZ" % (VT.ms % 1000)

    def local(self):
        t = self.start + VT.ms // 1000 + self.tz_s
        return "%02d:%02d:%02d" % clock.to_parts(t)[3:6]

    def event(self, kind, fields):
        pairs = [("t", self.iso()), ("kind", kind)]
        for k in sorted(fields):
            v = fields[k]
            if not isinstance(v, (int, str, bool)) and v is not None:
                v = str(v)
            pairs.append((k, v))
        self.ev.write(json_line(pairs))
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if self.echo:
            self._print(kind, fields)

    def frame(self, direction, channel, peer, data):
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
            print("  %s  %-16s %s" % (self.local(), kind, detail))

    def flush_hour(self):
        if self.hour is None or not self.echo:
            return
        hc = self.hour_counts
        if hc.get("report") or hc.get("delivered"):
            print("  %s:00  %2d reports, %2d with a fresh fix, %2d batches delivered  %s" % (
                self.hour, hc.get("report", 0), hc.get("valid", 0), hc.get("delivered", 0),
                ", ".join(self.places)))
        self.hour_counts = {}
        self.places = []

    def close(self):
        self.flush_hour()
        self.ev.close()
        self.wire.close()


class Sim:
    def __init__(self, scenario, out_dir, echo=True):
        self.sc = scenario
        self.out = out_dir
        self.echo = echo
        fsutil.makedirs(out_dir)
        VT.reset()
        machine.WIRING.reset()
        self.world = World(scenario, VT)
        self.meter = EnergyMeter(VT)
        dev = scenario["device"]
        srv = scenario["server"]
        self.device_id = scenario.get("config", {}).get("device_id") or dev["imei"]
        # Traccar closes a socket idle for 1800 s (watch-protocol.md §1): checked every minute
        self.server = WatchServer(devices=set([self.device_id]), now_ms=clock.ticks_ms)
        self._idle_check()
        self.world.add_server(srv["host"], srv["ip"], srv["port"], self.server)
        self.rec = Recorder(out_dir, self.world.utc(0), scenario.get("tz_offset_min", 0), echo,
                            lambda: self.world.position_at(VT.ms)[5])
        self.server.wire = self.rec.frame
        self.emu = A76xxEmulator(VT, self.world, dev["imei"], dev["iccid"], meter=self.meter,
                                 variant=dev.get("gnss_variant", "foreign"))
        pins = board_module.PINS
        machine.WIRING.attach_uart(pins["modem_tx"], pins["modem_rx"], self.emu)
        W = machine.WIRING
        self.emu.attach_pins(pwrkey=W.pin(pins["pwrkey"]), dtr=W.pin(pins["dtr"]), ri=W.pin(pins["ri"]))
        W.adc_source[pins["battery_adc"]] = lambda: self.meter.battery_mv() * 1000 // 2
        W.sleep = self._lightsleep
        W.on_edge = self._edge
        W.schedule = VT.after
        W.unschedule = VT.cancel
        W.on_wdt = self._watchdog_reset
        self._pending_boot = None
        self._woken = False
        self.flash = out_dir + "/flash"
        self.app = None
        self.app_task = None
        self.board = None
        self.boots = 0
        self.watchdog_resets = 0
        self._stopped = []  # firmware tasks cancelled by resets and power cuts
        self.uart_lost = 0  # bytes the ESP32 missed while light-sleeping, over all boots

    def _idle_check(self):
        self.server.check_idle()
        VT.after(60000, self._idle_check)

    # ---- the board's idle hook, simulated ----
    def _lightsleep(self, ms):
        """machine.lightsleep(ms) as on the ESP32: only the timer or the ext0 pin (RI low)
        ends it (hardware.md §4); UART bytes arriving meanwhile are lost."""
        W = machine.WIRING
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

    def _edge(self, pin, level):
        ext0 = esp32.wake_ext0
        if ext0 is not None and ext0[0] == pin and bool(level) == bool(ext0[1]):
            self._woken = True

    def idle(self, dt):
        b = self.board
        if dt and b is not None and b.sleep_ok(dt):
            self._lightsleep(dt)
        else:
            VT.idle(dt)

    # ---- flash and boot ----
    def provision(self):
        fsutil.rmtree(self.flash)
        fsutil.makedirs(self.flash)
        cfg = Config.load(self.flash)
        cfg.update(self.sc.get("config", {}))
        cfg.save()
        lf = self.sc.get("last_fix")
        if lf:
            t = clock.parse_iso8601(lf["at"])
            line = "%d,%d,%d,%d,%d" % (t, int(round(lf["lat"] * 1000000)), int(round(lf["lon"] * 1000000)),
                                       lf.get("alt", 0), lf.get("acc", 10))
            fsutil.atomic_write(self.flash + "/lastfix.csv", line.encode())

    def boot(self, cause=machine.PWRON_RESET):
        self.boots += 1
        self.meter.set("board", "on")
        self.meter.set("esp32", "active")
        machine.WIRING.reset_cause = cause
        self.board = board_module.build(machine)
        self.app = App(self.board, self.flash)
        self.app_task = asyncio.create_task(self.app.run())

    def _stop_firmware(self):
        if self.board is None:
            return  # already down (a reset in progress)
        for t in self.app.tasks + [self.app_task]:
            t.cancel()
            self._stopped.append(t)
        if machine.WIRING.wdt is not None:
            machine.WIRING.wdt.stop()
        self.uart_lost += self.board.modem.at.uart.lost_in_sleep
        self.board = None

    def _watchdog_reset(self):
        """The ESP32 resets; the modem keeps its power and its state (hardware.md §4 WDT).
        Called from the idle hook, where MicroPython's asyncio still counts the last firmware
        task as current (it cannot be cancelled from there): the reset runs as its own task."""
        self._reset_task = asyncio.create_task(self._reset_esp32())

    async def _reset_esp32(self):
        log.event("watchdog_reset")
        self._stop_firmware()
        await self.unwind()
        self.watchdog_resets += 1
        await sleep_ms(1000)
        self.boot(machine.WDT_RESET)

    def power_cut(self):
        """Battery out: every task stops where it is, the modem loses power; flash stays."""
        self._stop_firmware()
        self.emu.power_cut()
        self.meter.set("esp32", "off")
        self.meter.set("board", "off")

    def fault(self, ev):
        do = ev["do"]
        log.event("fault", do=do, for_s=ev.get("for_s", 0))
        if do == "modem_reboot":
            self.emu.reboot()
        elif do == "modem_garbage":
            self.emu.garbage(ev.get("data", "\xff\xfe#@!\r\n+WHAT?\r\n").encode())
        elif do == "modem_mute":
            self.emu.mute(ev.get("for_s", 60) * 1000)
        elif do == "modem_hang":
            self.emu.hang()
        elif do == "firmware_deadlock":
            # a bug that never lets go of the AT engine: every service waits on it forever
            lock = self.board.modem.at._lock
            asyncio.create_task(lock.acquire())
        elif do == "server_down":
            self.server.set_down(True)
            VT.after(ev.get("for_s", 600) * 1000, lambda: self.server.set_down(False))
        elif do == "server_garbage":
            self.server.inject(ev.get("data", "garbage]]\r\n[SG*x").encode())
        elif do in ("no_coverage",):
            pass  # the world and the emulator handle coverage windows themselves
        elif do != "reboot":
            raise ValueError("unknown scenario event: %r" % do)

    async def main(self):
        self.boot()
        events = sorted(self.sc.get("events", []), key=lambda e: offset_ms(e["at"]))
        end = self.sc["duration_s"] * 1000
        for ev in events:
            at = offset_ms(ev["at"])
            if at >= end:
                break
            if at > VT.ms:
                await sleep_ms(at - VT.ms)
            if ev["do"] == "reboot":
                self.fault(ev)
                self.power_cut()
                await self.unwind()
                await sleep_ms(ev.get("for_s", 2) * 1000)
                self.boot()
            else:
                self.fault(ev)
        if end > VT.ms:
            await sleep_ms(end - VT.ms)
        self.power_cut()
        await self.unwind()

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
        log.set_sink(self.rec.event)
        wall0 = time.time()
        try:
            vtime.run(self.main(), idle=self.idle)
        finally:
            log.set_sink(None)
            self.rec.close()
        wall = time.time() - wall0
        summary = self.summary(wall)
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
            "firmware_errors": c.get("error", 0),
            "outbox_left": len(self.app.outbox) if self.app and self.app.outbox else 0,
            "avg_current_ua": avg_ua,
            "battery_mah": BATTERY_MAH,
            "battery_days_x10": (BATTERY_MAH * 1000 * 10 // avg_ua // 24) if avg_ua else 0,
            "modem_commands": self.emu.commands,
            "uart_bytes_lost_in_sleep": self.uart_lost,
            "avg_ua_modem": self.meter.average_ua_of("modem"),
            "avg_ua_gnss": self.meter.average_ua_of("gnss"),
            "avg_ua_esp32": self.meter.average_ua_of("esp32"),
            "avg_ua_board": self.meter.average_ua_of("board"),
        }
        if self.echo:
            print_summary(out)
        return out


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
    print("  problems: %(firmware_errors)d firmware errors logged, %(server_errors)d frames Traccar "
          "would reject, %(boots)d boots" % s)


def load(path):
    with open(path) as f:
        return json.load(f)


def run_file(path, out_dir, echo=True):
    sc = load(path)
    if echo:
        print("Trygg simulator: %s (%s)" % (sc.get("name", path), sc.get("description", "")))
    return Sim(sc, out_dir, echo).run()
