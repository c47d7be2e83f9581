"""Every scenario on both interpreters, in parallel processes, and one table of what matters.

    python tools/sims.py                      # host_sim/scenarios/*.json x {cpython, micropython}
    python tools/sims.py -j 1 --interp cpython --only school_day,sos_park --out out/sims

Each run is `python -m host_sim run SCENARIO OUT/<scenario>-<interpreter>` (MicroPython as
`make sim PY=micropython` runs it); the table comes from each run's summary.json:

  reports   at the server / made          lost   made, neither delivered nor still queued
  err p95   position error, 95th pct (m)  zone   worst zone alert latency (s)
  SOS       first SOS's alarm at the server (ms)
  mA        average current (central end) days   a full cell at that average (or when it died)

A pool of 2 by default (the machine has 2 CPUs); the slowest runs start first (the week on
MicroPython takes minutes). Exit 1 if a run failed, lost a report or made frames Traccar would
reject. `make sims` runs it.
"""
import argparse
import concurrent.futures
import glob
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
VENV_BIN = os.path.join(REPO, ".venv", "bin")
INTERPRETERS = ("cpython", "micropython")
COLUMNS = (("scenario", "<"), ("interpreter", "<"), ("reports", ">"), ("lost", ">"), ("err p95", ">"),
           ("zone", ">"), ("SOS", ">"), ("mA", ">"), ("days", ">"), ("wall s", ">"))


def scenarios(only=None):
    """Scenario files (sorted); only: names ("school_day") or paths to keep."""
    paths = sorted(glob.glob(os.path.join(REPO, "host_sim", "scenarios", "*.json")))
    if only:
        want = set(os.path.splitext(os.path.basename(x))[0] for x in only)
        paths = [p for p in paths if os.path.splitext(os.path.basename(p))[0] in want]
        missing = want - set(os.path.splitext(os.path.basename(p))[0] for p in paths)
        if missing:
            raise SystemExit("no such scenario: %s" % ", ".join(sorted(missing)))
    return paths


def command(path, interp, out):
    """(argv, env) of one run."""
    rel = os.path.relpath(path, REPO)
    if interp == "micropython":
        mp = os.path.join(VENV_BIN, "micropython")
        return ([mp, "-X", "heapsize=64M", "-m", "host_sim", "run", rel, out],
                dict(os.environ, MICROPYPATH=".frozen:."))
    py = os.path.join(VENV_BIN, "python")
    if not os.path.exists(py):
        py = sys.executable
    return [py, "-m", "host_sim", "run", rel, out], dict(os.environ)


def cost(path, interp):
    """A guess at a run's wall time, to start the slowest first: simulated days, x3 on MicroPython."""
    try:
        from host_sim import scenario

        dur = scenario.load(path).get("duration_s", 86400)
    except (OSError, ValueError):
        dur = 86400
    return dur * (3 if interp == "micropython" else 1)


def run_one(path, interp, out_root, timeout):
    """Run one scenario; returns a result dict: name, interp, summary (None if it failed),
    rc, wall, out, tail (the end of its output when it failed)."""
    name = os.path.splitext(os.path.basename(path))[0]
    out = os.path.join(out_root, "%s-%s" % (name, interp))
    argv, env = command(path, interp, out)
    env["TRYGG_PROGRESS_S"] = "0"  # one progress line per run here, not the runner's
    t0 = time.time()
    summary = None
    tail = ""
    try:
        r = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
        rc = r.returncode
        tail = (r.stdout[-1500:] + r.stderr[-1500:]) if rc not in (0, 1) else ""
    except subprocess.TimeoutExpired:
        rc = None
        tail = "timed out after %d s" % timeout
    sp = os.path.join(out, "summary.json")
    if rc in (0, 1) and os.path.exists(sp):
        with open(sp) as f:
            summary = json.load(f)
    return {"name": name, "interp": interp, "summary": summary, "rc": rc, "wall": time.time() - t0,
            "out": out, "tail": tail}


def lost(s):
    """Reports made that are neither at the server nor still queued (0 if more arrived: resends)."""
    n = s.get("reports_queued", 0) - s.get("reports_delivered", 0) - s.get("outbox_left", 0)
    return n if n > 0 else 0


def _or_dash(v, fmt="%s"):
    return "-" if v is None else fmt % v


def row(res):
    """The table's cells for one result."""
    s = res["summary"]
    if s is None:
        why = "timed out" if res["rc"] is None else "FAILED (exit %s)" % res["rc"]
        return [res["name"], res["interp"], why, "", "", "", "", "", "", "%.0f" % res["wall"]]
    days = "%.1f" % (s.get("battery_days_x10", 0) / 10.0)
    if s.get("died_local"):
        days += " (died %s)" % s["died_local"]
    return [
        res["name"], s.get("interpreter", res["interp"]),
        "%d/%d" % (s.get("reports_delivered", 0), s.get("reports_queued", 0)),
        "%d" % lost(s),
        _or_dash((s.get("position_error_m") or {}).get("p95")),
        _or_dash((s.get("zone_alert_latency_s") or {}).get("worst")),
        _or_dash(s.get("sos_al_ms")),
        "%.2f" % (s.get("avg_current_ua", 0) / 1000.0),
        days,
        "%.0f" % res["wall"],
    ]


def table(results):
    """The results as one text table (sorted by scenario, then interpreter)."""
    rows = [row(r) for r in sorted(results, key=lambda r: (r["name"], INTERPRETERS.index(r["interp"])
                                                            if r["interp"] in INTERPRETERS else 9))]
    head = [c[0] for c in COLUMNS]
    widths = [max([len(head[i])] + [len(r[i]) for r in rows]) for i in range(len(head))]

    def fmt(cells):
        return "  ".join(c.ljust(w) if a == "<" else c.rjust(w)
                         for c, w, (_, a) in zip(cells, widths, COLUMNS))

    lines = [fmt(head), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def bad(res):
    s = res["summary"]
    return s is None or lost(s) > 0 or s.get("server_errors", 0) > 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-j", "--jobs", type=int, default=2, help="runs at once (default 2)")
    ap.add_argument("--interp", default=",".join(INTERPRETERS), help="cpython,micropython (default both)")
    ap.add_argument("--only", default="", help="scenario names, comma-separated (default all)")
    ap.add_argument("--out", default=os.path.join(REPO, "out", "sims"), help="folder for the runs")
    ap.add_argument("--timeout", type=int, default=3600, help="seconds a run may take (default 3600)")
    a = ap.parse_args(argv)
    interps = [x for x in a.interp.split(",") if x]
    for x in interps:
        if x not in INTERPRETERS:
            raise SystemExit("--interp: %r is not cpython or micropython" % x)
    paths = scenarios([x for x in a.only.split(",") if x])
    jobs = sorted(((p, i) for p in paths for i in interps), key=lambda j: -cost(*j))
    os.makedirs(a.out, exist_ok=True)
    print("%d runs, %d at a time, into %s" % (len(jobs), a.jobs, a.out), file=sys.stderr)
    results = []
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futs = [pool.submit(run_one, p, i, a.out, a.timeout) for p, i in jobs]
        for f in concurrent.futures.as_completed(futs):
            r = f.result()
            results.append(r)
            print("  [%d/%d %3.0f s] %s on %s: %s in %.0f s" % (
                len(results), len(jobs), time.time() - t0, r["name"], r["interp"],
                "ok" if r["summary"] is not None else "FAILED", r["wall"]), file=sys.stderr)
            if r["tail"]:
                print(r["tail"], file=sys.stderr)
    print(table(results))
    return 1 if any(bad(r) for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
