"""Performance figures from simulated runs (benchmarks print numbers; tests assert behaviour).

Prints, for the default school day on each interpreter: simulated seconds per wall second,
reports and bytes up/down per simulated day, average current and battery days from the energy
model (host_sim/energy.py cites each current); for the SOS day (sos_park) the alert latencies
(alarm at the server, each SMS submitted, first call dialled) and what the SOS day costs; for
the calls day the phone's figures; the firmware's heap on MicroPython (tools/heap.py) and the
size of the compiled firmware. Energy at the model's three ends, per part, and the week on one
charge (host_sim/scenarios/week.json): when the cell browns out.
"""
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

import compile as mpy  # noqa: E402  (tools/compile.py)
from host_sim.scenario import variant  # noqa: E402

SCENARIO = "host_sim/scenarios/school_day.json"


def simulate(interp, scenario=SCENARIO, device=None, config=None, tag=None):
    """Run a day; device: changes to the scenario's device (emulator options); config: to the
    watch's settings; tag: names the run's folder when the changes' keys alone do not."""
    changes = sorted(device or ()) + sorted(config or ()) + ([tag] if tag else [])
    name = os.path.basename(scenario)[:-5] + ("-" + "-".join(changes) if changes else "")
    out = os.path.join(REPO, "out", "bench", name + "-" + interp)
    if changes:  # the day, its extends followed, with the changes: a file of its own
        changed = os.path.join(out, "scenario.json")
        variant(os.path.join(REPO, scenario), device, config, changed)
        scenario = changed
    if interp == "micropython":
        mp = os.path.join(os.path.dirname(sys.executable), "micropython")
        cmd = [mp, "-X", "heapsize=64M", "-m", "host_sim", "run", scenario, out]
        env = dict(os.environ, MICROPYPATH=".frozen:.")
    else:
        cmd = [sys.executable, "-m", "host_sim", "run", scenario, out]
        env = dict(os.environ)
    t0 = time.time()
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if r.returncode:
        raise SystemExit("%s run failed:\n%s%s" % (interp, r.stdout[-2000:], r.stderr[-2000:]))
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    s["process_wall_s"] = wall
    return s


def _wakes(s):
    """Where an ESP32 deep sleep would pay (docs/energy.md): the light sleeps of the day by
    length, and what making those of each length deep would save with a boot for each wake."""
    day = s["sim_seconds"] / 86400
    w = s["esp32_deep_what_if"]
    print("wakes        the ESP32 woke %d times an hour, slept at most %d s at a time; light sleeps "
          "of >= 10 / 30 / 60 / 300 s: %s a day" % (
              s["esp32_wakes"] / day / 24, s["esp32_longest_sleep_ms"] // 1000,
              " / ".join("%d" % (w[k][0] / day) for k in ("10", "30", "60", "300"))))
    print("             a deep sleep (boot 0.5 / 1 / 2.5 s) instead of every light sleep >= 10 s would "
          "save %s mA, >= 60 s %s mA (low / central / high; negative: it costs)" % tuple(
              " / ".join("%+.2f" % (x / 1000) for x in w[k][2]) for k in ("10", "60")))


def _floor():
    """The least the board can draw while sending every 5 min or every 15 (docs/energy.md)."""
    from host_sim.energy import floor_ua
    from host_sim.modem_a76xx import ACTIVE_MS, SLEEP_IDLE_MS, TAIL_MS

    def f(n, **kw):
        return "/".join("%.2f" % (floor_ua(end, n, ACTIVE_MS, TAIL_MS, SLEEP_IDLE_MS, **kw) / 1000)
                        for end in ("low", "central", "high"))

    print("floor        no firmware draws less (low/central/high mA; nothing for positioning): "
          "asleep %s; one transfer every 5 min %s, every 20 min (a batch of four) %s" % (f(0), f(288), f(72)))
    print("             with ESP32 deep sleep instead of light: every 5 min %s, every 20 min %s; "
          "and no boost, no STATUS LED (a board built for the watch): %s, %s" % (
              f(288, esp32="deep"), f(72, esp32="deep"),
              f(288, esp32="deep", led=False, direct=True), f(72, esp32="deep", led=False, direct=True)))
    print("             as built but without the boost (the cell feeding the parts directly): "
          "every 20 min %s, and no STATUS LED %s" % (f(72, direct=True), f(72, direct=True, led=False)))


def _steps():
    """The school day on a watch with a step counter (school_day_steps.json), the child walking
    about indoors at three rates (host_sim/accel.py: none found, so both ends are run)."""
    path = "host_sim/scenarios/school_day_steps.json"
    for label, day, night in (("quiet", 2, 0), ("central", 6, 0), ("restless", 20, 2)):
        o = simulate("python", path, device={"accel": {"walks_per_h": day, "night_walks_per_h": night}},
                     tag=label)
        e, d = o["avg_current_ua_ends"], o["battery_days_x10_ends"]
        ends = ", ".join("%s %.2f mA -> %.1f days" % (k, e[k] / 1000, d[k] / 10)
                         for k in ("low", "central", "high"))
        print("%-12s the school day with a step counter, a %s child (walks about indoors %d/h by day, "
              "%d/h at night): %s" % ("steps" if label == "quiet" else "", label, day, night, ends))
        print("             central per part: %s; %d Wi-Fi scans, GNSS on %d s; zone alerts after %s s" % (
            ", ".join("%s %.2f" % (part, o["avg_ua_parts"][part][1] / 1000)
                      for part in ("modem", "gnss", "esp32", "wifi", "led", "board", "accel")),
            o["wifi_scans"], o["gnss_on_s"], o["zone_alert_latencies_s"]))
        if label == "central":
            # a board built for the watch: the cell feeding the parts directly (no boost, the
            # parts' own currents, host_sim/energy.py rows(direct=True)), and no STATUS LED,
            # which draws whatever the firmware does
            own = o["avg_ua_parts_own"]
            bare = [sum(own[p][i] for p in own if p != "led") for i in range(3)]
            print("             the same on a board built for the watch (no boost, no STATUS LED): %s" % (
                ", ").join(
                "%s %.2f mA -> %.1f days" % (k, ua / 1000, o["battery_mah"] * 1000 / ua / 24)
                for k, ua in zip(("low", "central", "high"), bare)))


def main():
    rows = []
    for interp in ("python", "micropython"):
        s = simulate(interp)
        rows.append(s)
        day = s["sim_seconds"] / 86400
        print("%-12s %7.0f sim-s/wall-s  (%d s simulated in %.2f s, process %.2f s)" % (
            interp, s["sim_seconds"] / s["wall_seconds"], s["sim_seconds"], s["wall_seconds"],
            s["process_wall_s"]))
        print("%-12s %7d reports/day at the server, %d bytes up/day, %d bytes down/day, "
              "%d AT commands/day" % ("", s["reports_delivered"] / day, s["bytes_up"] / day,
                                       s["bytes_down"] / day, s["modem_commands"] / day))
    s = rows[0]
    print("energy       %.2f mA average -> %.1f days on %d mAh (model: host_sim/energy.py)" % (
        s["avg_current_ua"] / 1000, s["battery_days_x10"] / 10, s["battery_mah"]))
    print("             modem %.2f mA, GNSS %.2f mA, ESP32 %.2f mA, board %.2f mA, Wi-Fi %.2f mA "
          "(%d scans)" % (tuple(s["avg_ua_" + k] / 1000 for k in ("modem", "gnss", "esp32", "board", "wifi"))
                          + (s["wifi_scans"],)))
    e, d = s["avg_current_ua_ends"], s["battery_days_x10_ends"]
    print("             at the model's three ends (docs/energy.md): %s" % ", ".join(
        "%s %.2f mA -> %.1f days" % (k, e[k] / 1000, d[k] / 10) for k in ("low", "central", "high")))
    for part in ("modem", "gnss", "esp32", "wifi", "led", "board"):
        lo, mid, hi = s["avg_ua_parts"][part]
        print("             %-6s %6.2f / %6.2f / %6.2f mA (low / central / high)" % (
            part, lo / 1000, mid / 1000, hi / 1000))
    _wakes(s)
    _floor()
    for label, path, cfg in (("sick day", "host_sim/scenarios/sick_day.json", None),
                             ("weekend", "host_sim/scenarios/weekend_walks.json", None),
                             ("unbatched", SCENARIO, {"batch_s": 0})):
        o = simulate("python", path, config=cfg)
        e, d = o["avg_current_ua_ends"], o["battery_days_x10_ends"]
        what = {"sick day": "at home all day (sick_day.json)",
                "weekend": "long walks, the tram to the forest (weekend_walks.json)",
                "unbatched": "the school day, every report its own transfer (batch_s 0)"}[label]
        print("%-12s %s: %s" % (label, what, ", ".join(
            "%s %.2f mA -> %.1f days" % (k, e[k] / 1000, d[k] / 10) for k in ("low", "central", "high"))))
        print("             per part (low/central/high mA): %s; zone alerts after %s s" % (", ".join(
            "%s %s" % (part, "/".join("%.2f" % (x / 1000) for x in o["avg_ua_parts"][part]))
            for part in ("modem", "gnss", "esp32", "wifi", "led", "board")), o["zone_alert_latencies_s"]))
    _steps()
    # bytes on air, everything counted (IP/TCP headers, handshakes, ACKs, DNS, AGPS: the
    # docstring of host_sim/modem_a76xx.py), against the SIM's fair use and the goal (issue 8)
    air, per_day = s["air_bytes_per_day"], 86400 / s["sim_seconds"]
    print("data         %d bytes/day on air (%d up, %d down) for %d of payload; x30 = %.1f MB/month "
          "of the SIM's 150 MB fair use (PepCall) = %.1f %%; goal <= 200 KB/day: %s" % (
              air, s["air_bytes_up"] * per_day, s["air_bytes_down"] * per_day,
              (s["bytes_up"] + s["bytes_down"]) * per_day, air * 30 / 1e6, air * 30 / 1.5e6,
              "met" if air <= 200000 else "MISSED"))
    for mode in ("slowloris", "drip_acks", "flood", "never_ack"):  # issue 8: <= 1.5x the day
        h = simulate("python", "host_sim/scenarios/hostile_%s.json" % mode)
        print("hostile      %-9s server 07:00-19:00: %.2f mA average (%.2fx the school day's %.2f mA), "
              "%d connections, %d bytes/day on air, %d reports still queued" % (
                  mode, h["avg_current_ua"] / 1000, h["avg_current_ua"] / s["avg_current_ua"],
                  s["avg_current_ua"] / 1000, h["server_connections"], h["air_bytes_per_day"],
                  h["outbox_left"]))
    w = simulate("python", "host_sim/scenarios/week.json")
    if w["died_at"]:
        print("week         on one %d mAh charge the watch dies %s (%s), %.1f h after Monday 00:00 "
              "(%s, %d mV; %.2f mA average); the harsh end's charge was gone %s" % (
                  w["battery_mah"], w["died_local"], w["died_at"], w["died_after_h_x10"] / 10,
                  w["died_why"], w["died_mv"], w["avg_current_ua"] / 1000,
                  w["battery_empty_local"]["high"] or "not at all"))
    else:
        print("week         on one %d mAh charge: %.1f %% left on Sunday night (%.2f mA average)" % (
            w["battery_mah"], w["battery_left_permille"] / 10, w["avg_current_ua"] / 1000))
    pe, zl = s["position_error_m"], s["zone_alert_latency_s"]
    print("positions    error p50 %s m, p95 %s m, max %s m; %d of %d reports beyond their stated "
          "accuracy; by source %s; GNSS on %d s/day" % (
              pe["p50"], pe["p95"], pe["max"], s["accuracy_exceeded"], s["reports_delivered"],
              ", ".join("%s %d" % kv for kv in sorted(s["reports_by_source"].items())), s["gnss_on_s"]))
    print("zones        %d crossings alerted at the server %s s after the child crossed (worst %s), "
          "%d missed" % (s["zone_crossings"], s["zone_alert_latencies_s"], zl["worst"],
                         s["zone_alerts_missed"]))
    nz = simulate("python", config={"zones": []})
    print("             the same day without zones: %.2f mA (zones cost %.2f mA: looks near the edges, "
          "%d more Wi-Fi scans, %d s more GNSS)" % (
              nz["avg_current_ua"] / 1000, (s["avg_current_ua"] - nz["avg_current_ua"]) / 1000,
              s["wifi_scans"] - nz["wifi_scans"], s["gnss_on_s"] - nz["gnss_on_s"]))
    s = simulate("python", "host_sim/scenarios/sos_park.json")
    print("SOS          alarm at the server %s ms after the press became an SOS, SMS submitted after "
          "%s ms, first call dialled after %s ms, accepted by %s" % (
              s["sos_al_ms"], ", ".join(str(x) for x in s["sos_sms_ms"]), s["sos_call_ms"],
              s["sos_accepted_by"]))
    slow = simulate("python", "host_sim/scenarios/sos_park.json", {"sms_slow_one_in": 1})
    print("             with every SMS submission slow (4-40 s; the manual allows 40 s, A76-ATM "
          "§9.2.13): alarm %s ms, SMS %s ms, first call %s ms" % (
              slow["sos_al_ms"], ", ".join(str(x) for x in slow["sos_sms_ms"]), slow["sos_call_ms"]))
    print("             the SOS day (two SOS, fast tracking, calls): %.2f mA average, %d reports, "
          "%d s of ringer/vibration, ESP32 %.2f mA" % (
              s["avg_current_ua"] / 1000, s["reports_delivered"], s["ringer_ms"] // 1000,
              s["avg_ua_esp32"] / 1000))
    s = simulate("python", "host_sim/scenarios/calls_day.json")
    print("phone        calls day: %d rang, %d rejected, %d SMS kept, %d dropped, %.2f mA average, "
          "%d level-wake spins" % (s["calls_rung"], s["calls_rejected"], s["sms_kept"], s["sms_dropped"],
                                   s["avg_current_ua"] / 1000, s["wake_spins"]))
    mp = os.path.join(os.path.dirname(sys.executable), "micropython")
    r = subprocess.run([mp, "tools/heap.py"], cwd=REPO, capture_output=True, text=True,
                       env=dict(os.environ, MICROPYPATH=".frozen:."))
    heap = dict(line.split() for line in r.stdout.split("\n") if line.startswith("heap_"))
    print("heap         %s bytes after importing the firmware, %s more for its services, 50 contacts "
          "and a 20-report queue (MicroPython, tools/heap.py)" % (heap.get("heap_import_bytes", "?"),
                                                          heap.get("heap_services_bytes", "?")))
    second_board()
    sizes = mpy.compile_all()
    total = sum(n for _, n in sizes)
    print("firmware     %d modules, %d bytes of .mpy (firmware/ + boards/)" % (len(sizes), total))
    for rel, n in sorted(sizes, key=lambda x: -x[1])[:5]:
        print("             %6d  %s" % (n, rel))



# ---- the second board (issue 9): the LilyGO T-SIM7000G (docs/sim7000.md) ----------------------
SIM7000_DAY = "host_sim/scenarios/school_day_sim7000.json"


def second_board():
    """The school day on the T-SIM7000G (SIM7000G, Cat-M, no voice, no RI; its energy rows are
    host_sim/energy.py's "sim7000" profile), against the T-A7670's day above: reports, bytes,
    energy at the three ends and per part, the floor, zone alerts, the SOS without calls."""
    from host_sim.energy import floor_ua
    from host_sim.modem_a76xx import ACTIVE_MS, SLEEP_IDLE_MS, TAIL_MS

    s = simulate("python", SIM7000_DAY)
    day = s["sim_seconds"] / 86400
    e, d = s["avg_current_ua_ends"], s["battery_days_x10_ends"]
    print("T-SIM7000G   the school day (school_day_sim7000.json): %d reports/day at the server, %d bytes "
          "up/day, %d down/day, %d bytes/day on air, %d AT commands/day" % (
              s["reports_delivered"] / day, s["bytes_up"] / day, s["bytes_down"] / day,
              s["air_bytes_per_day"], s["modem_commands"] / day))
    print("             energy %s" % ", ".join(
        "%s %.2f mA -> %.1f days" % (k, e[k] / 1000, d[k] / 10) for k in ("low", "central", "high")))
    print("             central per part: %s" % ", ".join(
        "%s %.2f" % (part, s["avg_ua_parts"][part][1] / 1000)
        for part in ("modem", "gnss", "esp32", "wifi", "led", "board")))

    def f(n, **kw):
        return "/".join("%.2f" % (floor_ua(end, n, ACTIVE_MS, TAIL_MS, SLEEP_IDLE_MS, profile="sim7000", **kw)
                                  / 1000) for end in ("low", "central", "high"))

    print("             floor (low/central/high mA): asleep %s; a transfer every 5 min %s; with deep sleep, "
          "no LEDs and no boost %s" % (f(0), f(288), f(288, esp32="deep", led=False, direct=True)))
    print("             zones: %d crossings alerted after %s s, %d missed; SOS without voice: alarm after "
          "%s ms, SMS after %s ms, no call; GNSS on %d s; UART bytes lost in light sleep %d (no RI)" % (
              s["zone_crossings"], s["zone_alert_latencies_s"], s["zone_alerts_missed"], s["sos_al_ms"],
              ", ".join(str(x) for x in s["sos_sms_ms"]), s["gnss_on_s"], s["uart_bytes_lost_in_sleep"]))


if __name__ == "__main__":
    main()
