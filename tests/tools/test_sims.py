"""tools/sims.py (every scenario on both interpreters in parallel, one table) and the runner's
progress lines (stderr only: the timeline on stdout, which the scenario tests read, is the same
with and without them). Runs the one-hour boot_sos day: a few seconds on each interpreter."""
import json
import os
import re
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import sims  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
PROGRESS = re.compile(r"^  \.\.\. (Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d\d:\d\d, \d+\.\d h of 1\.0 h simulated in "
                      r"\d+\.\d s, \d+x real time, \d+ reports$")


def _summary(**kw):
    s = {"scenario": "x", "interpreter": "cpython", "reports_queued": 300, "reports_delivered": 298,
         "outbox_left": 2, "position_error_m": {"p50": 10, "p95": 31, "max": 40},
         "zone_alert_latency_s": {"median": 30, "worst": 51}, "sos_al_ms": None, "avg_current_ua": 11378,
         "battery_days_x10": 29, "died_local": None, "server_errors": 0}
    s.update(kw)
    return s


def _res(name, interp, summary, rc=0, wall=3.2):
    return {"name": name, "interp": interp, "summary": summary, "rc": rc, "wall": wall, "out": "", "tail": ""}


def test_the_table_has_a_row_per_run_with_the_figures():
    results = [
        _res("week", "micropython",
             _summary(interpreter="micropython", died_local="Fri 07:10", battery_days_x10=32)),
        _res("sos_park", "cpython", _summary(sos_al_ms=512, reports_delivered=290)),
        _res("week", "cpython", None, rc=2),
        _res("school_day", "cpython", _summary(zone_alert_latency_s={"median": None, "worst": None},
                                               position_error_m={"p50": None, "p95": None, "max": None})),
    ]
    lines = sims.table(results).split("\n")
    assert lines[0].split() == ["scenario", "interpreter", "reports", "lost", "err", "p95", "zone", "SOS",
                                "mA", "days", "wall", "s"]
    assert set(lines[1]) <= {"-", " "}
    rows = [line.split() for line in lines[2:]]
    assert [r[:2] for r in rows] == [["school_day", "cpython"], ["sos_park", "cpython"], ["week", "cpython"],
                                     ["week", "micropython"]]
    assert rows[0][2:9] == ["298/300", "0", "-", "-", "-", "11.38", "2.9"]
    assert rows[1][2:7] == ["290/300", "8", "31", "51", "512"]  # 300 made, 290 arrived, 2 queued: 8 lost
    assert rows[2][2:5] == ["FAILED", "(exit", "2)"]
    assert rows[3][8:] == ["3.2", "(died", "Fri", "07:10)", "3"]
    assert sims.bad(results[1]) and sims.bad(results[2]) and not sims.bad(results[0])


def test_sims_runs_both_interpreters_in_parallel_and_prints_one_table(tmp_path):
    r = subprocess.run([sys.executable, "tools/sims.py", "--only", "boot_sos", "--out", str(tmp_path),
                        "-j", "2"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    rows = [line.split() for line in r.stdout.strip().split("\n")[2:]]
    assert [row[:2] for row in rows] == [["boot_sos", "cpython"], ["boot_sos", "micropython"]]
    for row, interp in zip(rows, ("cpython", "micropython")):
        with open(tmp_path / ("boot_sos-%s" % interp) / "summary.json") as f:
            s = json.load(f)
        assert s["interpreter"] == interp
        assert row[2] == "%d/%d" % (s["reports_delivered"], s["reports_queued"])
        assert row[6] == str(s["sos_al_ms"])
        assert row[7] == "%.2f" % (s["avg_current_ua"] / 1000.0)
    assert rows[0][2:8] == rows[1][2:8]  # frame for frame the same day
    assert "2 runs, 2 at a time" in r.stderr


def _run(interp, out, progress_s):
    if interp == "micropython":
        cmd = [MICROPYTHON, "-X", "heapsize=64M", "-m", "host_sim", "run", "host_sim/scenarios/boot_sos.json",
               out]
        env = dict(os.environ, MICROPYPATH=".frozen:.")
    else:
        cmd = [sys.executable, "-m", "host_sim", "run", "host_sim/scenarios/boot_sos.json", out]
        env = dict(os.environ)
    env["TRYGG_PROGRESS_S"] = progress_s
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r


def _timeline(stdout):
    # the summary's line with the wall time and the speed changes from run to run
    return [line for line in stdout.split("\n") if "simulated s in" not in line]


def test_progress_goes_to_stderr_and_leaves_the_timeline_alone(tmp_path):
    quiet = _run("cpython", str(tmp_path / "a"), "0")
    busy = _run("cpython", str(tmp_path / "b"), "0.05")
    assert quiet.stderr == ""
    lines = busy.stderr.rstrip("\n").split("\n")
    assert len(lines) >= 2, busy.stderr  # not a terminal: a plain line each time, no \r
    for line in lines:
        assert PROGRESS.match(line), line
    assert _timeline(busy.stdout) == _timeline(quiet.stdout)
    assert "  ... " not in busy.stdout
    reports = [int(line.rsplit(" ", 2)[1]) for line in lines]
    assert reports == sorted(reports)


def test_progress_on_micropython(tmp_path):
    r = _run("micropython", str(tmp_path / "m"), "0.05")
    lines = r.stderr.rstrip("\n").split("\n")
    assert lines and all(PROGRESS.match(line) for line in lines), r.stderr
    assert "  ... " not in r.stdout
