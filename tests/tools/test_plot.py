"""host_sim/plot.py: the map and the energy timeline show this run, drawn from its folder alone.

One run (CPython, ~4 s): the SOS day at the park (sos_park.json) with the school day's safe zones
and a stranger's call at noon, so the map has zone alerts, two SOS and a rejected call. The tests
compare what plot.py drew (its returned data and the matplotlib artists themselves) with the
scenario and with the run's events.jsonl read here on its own, not with plot.py's reading."""
import json
import math
import os
import shutil
import subprocess
import sys

import matplotlib.image
import pytest
from matplotlib import patches

from firmware import geo, zones
from host_sim import plot, scenario

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SC_DIR = os.path.join(REPO, "host_sim", "scenarios")


def _scenario():
    sc = scenario.load(os.path.join(SC_DIR, "sos_park.json"))
    sc["name"] = "sos_park_with_zones"
    sc["config"]["zones"] = scenario.load(os.path.join(SC_DIR, "school_day.json"))["config"]["zones"]
    for p in sc["people"]:
        if p["name"] == "Stranger":
            p["calls"].insert(0, {"at": "12:00", "ring_s": 20})  # not a contact: rejected at once
    return sc


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("plot")
    sc = _scenario()
    path = d / "sos_zones.json"
    path.write_text(json.dumps(sc))
    out = d / "out"
    r = subprocess.run([sys.executable, "-m", "host_sim", "run", str(path), str(out)], cwd=REPO,
                       capture_output=True, text=True, timeout=240,
                       env=dict(os.environ, TRYGG_PROGRESS_S="0"))
    assert r.returncode == 0 and (out / "summary.json").exists(), r.stdout[-2000:] + r.stderr[-2000:]
    path.unlink()  # the pictures must come from the folder alone
    return str(out), sc


@pytest.fixture(scope="module")
def events(run_dir):
    with open(os.path.join(run_dir[0], "events.jsonl")) as f:
        return [json.loads(line) for line in f]


@pytest.fixture(scope="module")
def drawn(run_dir):
    run = plot.Run(run_dir[0])
    d = plot.draw_map(run)
    yield run, d
    plot.plt.close(d["fig"])


def test_the_projection_keeps_metres_and_right_angles_at_60_north(drawn):
    run, d = drawn
    proj = d["proj"]
    assert 59.8e6 < proj.lat0 < 60.0e6
    # 1 km east and 1 km north of the centre, by the firmware's own geometry
    for de, dn in ((1000000, 0), (0, 1000000), (700000, -700000)):
        lat, lon = geo.move(int(proj.lat0), int(proj.lon0), de, dn)
        x, y = proj.xy(lat, lon)
        assert abs(x - de / 1000) < 2 and abs(y - dn / 1000) < 2, (de, dn, x, y)
    ax = d["ax"]
    assert ax.get_aspect() == 1.0  # equal: a metre is as long north as east


def test_the_zones_drawn_are_the_scenarios(run_dir, drawn):
    sc = run_dir[1]
    run, d = drawn
    proj = d["proj"]
    want = sc["config"]["zones"]
    assert [z["name"] for z in d["zones"]] == [z["name"] for z in want]
    on_axes = d["ax"].patches
    for z, got in zip(want, d["zones"]):
        art = got["artist"]
        assert art in on_axes
        if "r" in z:
            assert isinstance(art, patches.Circle)
            cx, cy = proj.xy(z["lat"], z["lon"])
            assert art.get_radius() == z["r"]
            assert math.isclose(art.center[0], cx, abs_tol=1e-6)
            assert math.isclose(art.center[1], cy, abs_tol=1e-6)
        else:
            assert isinstance(art, patches.Polygon)
            xy = art.get_xy()[:len(z["poly"])]
            for (la, lo), (x, y) in zip(z["poly"], xy):
                px, py = proj.xy(la, lo)
                assert math.isclose(x, px, abs_tol=1e-6) and math.isclose(y, py, abs_tol=1e-6)
        assert art.get_facecolor()[:3] == matplotlib.colors.to_rgb(plot.ZONE_FACE)


def _xy_of(artist):
    return [tuple(p) for p in artist.get_offsets()]


def test_the_zone_markers_are_the_runs_zone_events(run_dir, drawn, events):
    sc = run_dir[1]
    run, d = drawn
    by_name = {z["name"]: z for z in sc["config"]["zones"]}
    zone_events = [e for e in events if e["kind"] == "zone"]
    assert len(zone_events) >= 4  # the walks to school, home and the park
    got = d["markers"]["zone_exit"] + d["markers"]["zone_enter"]
    assert sorted((m["event"]["t"], m["event"]["zone"], m["event"]["event"]) for m in got) == \
        sorted((e["t"], e["zone"], e["event"]) for e in zone_events)
    for key in ("zone_exit", "zone_enter"):
        ms = d["markers"][key]
        assert all(m["event"]["event"] == key[5:] for m in ms)
        assert _xy_of(d["marker_artists"][key]) == [m["xy"] for m in ms]  # the points drawn are these
        for m in ms:
            # where the watch decided: near that zone's edge, by the firmware's geometry
            edge = zones.edge_m(by_name[m["event"]["zone"]], int(m["lat"]), int(m["lon"]))
            assert abs(edge) < 150, (m["label"], edge)


def test_the_sos_and_rejected_call_markers_are_the_runs(run_dir, drawn, events):
    run, d = drawn
    sos = [e for e in events if e["kind"] == "sos"]
    rejected = [e for e in events if e["kind"] == "call_rejected"]
    assert len(sos) == 2 and len(rejected) >= 1
    assert [m["event"]["t"] for m in d["markers"]["sos"]] == [e["t"] for e in sos]
    assert [m["event"]["t"] for m in d["markers"]["call_rejected"]] == [e["t"] for e in rejected]
    assert _xy_of(d["marker_artists"]["sos"]) == [m["xy"] for m in d["markers"]["sos"]]
    assert _xy_of(d["marker_artists"]["call_rejected"]) == [m["xy"] for m in d["markers"]["call_rejected"]]
    # the first SOS at the park (17:10), the second at home (21:00): where the child really was
    for m in d["markers"]["sos"]:
        lat, lon = run.truth_at(m["ms"])
        assert geo.distance_m(int(lat), int(lon), int(m["lat"]), int(m["lon"])) < 100, m["label"]
    assert "SOS 17:10" in [t.get_text() for t in d["ax"].texts]


def test_the_reports_drawn_are_the_runs_by_source(run_dir, drawn, events):
    run, d = drawn
    reports = [e for e in events if e["kind"] == "report"]
    counts = {}
    for e in reports:
        counts[e["src"]] = counts.get(e["src"], 0) + 1
    assert {src: len(v) for src, v in d["reports"].items()} == counts == run.summary["reports_by_source"]
    labels = [h.get_label() for h in d["ax"].get_legend().legend_handles]
    for src, n in counts.items():
        assert "report: %s (%d)" % (src, n) in labels


def test_the_route_has_times_and_the_map_a_scale_bar(drawn):
    run, d = drawn
    texts = [t.get_text() for t in d["ax"].texts]
    assert any("16:40-" in t for t in texts)  # arrived at the park
    assert d["scale_m"] in (50, 100, 200, 500, 1000, 2000, 5000)
    bars = [a for a in d["ax"].artists if type(a).__name__ == "AnchoredSizeBar"]
    assert len(bars) == 1
    assert len(d["route"]) >= len([w for w in run.waypoints if w["ms"] <= run.end_ms])
    assert run.places and len(d["places"]) == len(run.places)  # learned places from flash/places.dat


def test_the_energy_timeline_adds_up_to_the_summary(run_dir):
    run = plot.Run(run_dir[0])
    d = plot.draw_energy(run)
    s = run.summary
    try:
        for p in plot.PARTS:
            want = s["avg_ua_parts"][p][1] * s["sim_seconds"] / 3.6e6
            assert abs(d["mah_log"][p] - want) < 0.01 * want + 0.1, (p, d["mah_log"][p], want)
            assert d["mah_summary"][p][1] == pytest.approx(want)
        bx, by = d["battery"]
        assert by[0] == s["battery_start_pct"] and by[-1] == s["battery_left_permille"] / 10
        assert bx == sorted(bx)
        sos_ms = [run.ms(e["t"]) for e in run.kinds("sos")]
        assert set(sos_ms) <= set(d["event_rows"]["SOS"])
        assert len(d["event_rows"]["reports"]) == s["reports_queued"]
        xs, ma = d["steps"]
        assert xs[0] == 0 and set(ma) == set(plot.PARTS)
        assert max(ma["modem"]) > 50  # the SOS calls (modem "call": 320 mA at the central end)
    finally:
        plot.plt.close(d["fig"])


def test_plot_redraws_a_saved_run_from_its_folder(run_dir, tmp_path):
    copy = tmp_path / "saved"
    shutil.copytree(run_dir[0], copy)
    r = subprocess.run([sys.executable, "-m", "host_sim", "plot", str(copy)], cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(copy / "index.html")
    for name in ("map.png", "energy.png"):
        img = matplotlib.image.imread(str(copy / name))
        assert img.shape[0] > 500 and img.shape[1] > 800
        assert img[..., :3].std() > 0.05  # drawn, not blank
    assert (copy / "index.html").stat().st_size > 50000


def test_a_folder_from_before_truth_jsonl_uses_the_named_scenario(tmp_path):
    """summary.json names the scenario: its file gives the route and the zones."""
    (tmp_path / "summary.json").write_text(json.dumps({"scenario": "school_day_oslo", "sim_seconds": 86400}))
    (tmp_path / "events.jsonl").write_text("")
    run = plot.Run(str(tmp_path))
    assert [z["name"] for z in run.zones] == ["home", "school"]
    d = plot.draw_map(run)
    try:
        assert len(d["zones"]) == 2 and len(d["route"]) > 10
    finally:
        plot.plt.close(d["fig"])
