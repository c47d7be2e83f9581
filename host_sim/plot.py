"""Pictures of a simulated run, drawn offline from its output folder (matplotlib, Agg; no map
tiles, no network), and the page that holds them (host_sim/page.py):

    python -m host_sim plot out/sim      ->  out/sim/map.png, energy.png, index.html
    python -m host_sim run SCENARIO OUT --plot   (make sim) draws them at the end of the run

What is read, all from the folder: events.jsonl, wire.jsonl, people.jsonl, summary.json,
flash/places.dat, and the runner's additive files truth.jsonl (the scenario's route, zones and
time zone) and energy.jsonl (each part's current, minute by minute). A folder from before those
existed is drawn from the scenario file whose "name" summary.json gives (host_sim/scenarios/),
without the energy timeline.

map.png, in metres east and north of the map's centre (a local equirectangular projection:
longitude scaled by cos(latitude), so a circle is round at 60°N): the true route (grey, with
local times where the child set off or arrived), the reports coloured by source with their
accuracy circles, the learned places, the safe zones, and markers for zone alerts, SOS and
rejected calls; a scale bar in metres.

energy.png: the current of each part over the run, stacked (minute averages, the model's
central end), the battery level, the run's events on the same time axis, and the charge each
part drew (mAh; whiskers: the model's low and high ends, docs/energy.md).

draw_map() and draw_energy() return what they drew as data next to the figure (Drawn), so
tests compare the picture with the run: the zones' geometry, each marker's event and place.
"""
import base64
import bisect
import datetime
import glob
import json
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import patches  # noqa: E402
from matplotlib.collections import PatchCollection  # noqa: E402
from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
M_PER_DEG = 111195.0  # metres per degree of latitude (firmware/geo.py MM_PER_UDEG: 2 pi 6371 km / 360)
PARTS = ("modem", "gnss", "esp32", "wifi", "led", "board", "accel")  # host_sim/energy.py PARTS
ENDS = ("low", "central", "high")

# colours (the page's test looks for the zones' fill in a screenshot: keep it unlike the rest)
ZONE_FACE = "#00b050"
ZONE_ALPHA = 0.22
ZONE_EDGE = "#007a37"
SRC_COLORS = {"gnss": "#1f5fbf", "place": "#f08000", "last": "#8a8a8a"}
OTHER_SRC = "#9b59b6"
ROUTE_COLOR = "#303030"
PLACE_COLOR = "#a0522d"
PART_COLORS = {"modem": "#4e79a7", "gnss": "#59a14f", "esp32": "#f28e2b", "wifi": "#e15759",
               "led": "#b07aa1", "board": "#9c755f"}
MARKERS = {  # kind -> (matplotlib marker, colour, size, label)
    "zone_exit": ("v", "#d62728", 110, "zone exit alert"),
    "zone_enter": ("^", "#2ca02c", 110, "zone enter alert"),
    "sos": ("*", "#e00000", 320, "SOS"),
    "call_rejected": ("X", "#6a0dad", 110, "call rejected"),
}
ACC_DRAWN_MAX_M = 2000  # accuracy circles larger than this (no position at all) are not drawn
NEAR_MS = 300000  # a marker sits at the watch's own position of the last 5 minutes, else the truth's


# ---------------------------------------------------------------------------------------------
# the run's folder


def _read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _utc(text):
    """'2026-09-14T05:48:16.480Z' -> aware datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class Run:
    """One run's output folder, read: summary, events (each with "ms" since the start), wire,
    people, truth (scenario, zones, waypoints, tz), energy (header, lines), places."""

    def __init__(self, out):
        self.out = out
        with open(os.path.join(out, "summary.json")) as f:
            self.summary = json.load(f)
        self.events = _read_jsonl(os.path.join(out, "events.jsonl"))
        self.wire = _read_jsonl(os.path.join(out, "wire.jsonl"))
        self.people = _read_jsonl(os.path.join(out, "people.jsonl"))
        truth = _read_jsonl(os.path.join(out, "truth.jsonl"))
        if not truth:
            truth = _truth_from_scenario(self.summary.get("scenario"))
        meta = [t for t in truth if t.get("kind") == "scenario"]
        self.meta = meta[0] if meta else {}
        self.zones = [dict((k, v) for k, v in t.items() if k != "kind")
                      for t in truth if t.get("kind") == "zone"]
        self.waypoints = [t for t in truth if t.get("kind") == "waypoint"]
        self.tz = self.meta.get("tz") or [[0, 0]]
        if self.meta.get("start"):
            self.start = _utc(self.meta["start"])
        elif self.events:
            self.start = _utc(self.events[0]["t"])
        else:
            self.start = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
        for e in self.events:
            e["ms"] = self.ms(e["t"])
        self.end_ms = self.summary.get("sim_seconds", 0) * 1000
        energy = _read_jsonl(os.path.join(out, "energy.jsonl"))
        self.energy_head = energy[0] if energy and energy[0].get("kind") == "meter" else None
        self.energy = [e for e in energy if "min" in e]
        self.energy_parts = tuple((self.energy_head or {}).get("parts", ",".join(PARTS)).split(","))
        self.places = read_places(os.path.join(out, "flash", "places.dat"))
        self.name = self.summary.get("scenario") or self.meta.get("name") or "?"

    def ms(self, iso):
        return int(round((_utc(iso) - self.start).total_seconds() * 1000))

    def tz_at(self, ms):
        off = self.tz[0][1]
        for t, o in self.tz:
            if t <= ms:
                off = o
        return off

    def local(self, ms, day=False):
        """'HH:MM' (day: 'Mon HH:MM') in the scenario's local time, ms after the start."""
        t = self.start + datetime.timedelta(milliseconds=ms + self.tz_at(ms) * 60000)
        return t.strftime("%a %H:%M" if day else "%H:%M")

    def kinds(self, kind):
        return [e for e in self.events if e["kind"] == kind]

    def truth_at(self, ms):
        """(lat, lon) micro-degrees where the child really was at ms (world.py's straight walk
        between waypoints), or None without a route."""
        wps = self.waypoints
        if not wps:
            return None
        if ms <= wps[0]["ms"]:
            return wps[0]["lat"], wps[0]["lon"]
        for a, b in zip(wps, wps[1:]):
            if a["ms"] <= ms < b["ms"]:
                span = b["ms"] - a["ms"]
                f = (ms - a["ms"]) / span if span else 0
                return a["lat"] + (b["lat"] - a["lat"]) * f, a["lon"] + (b["lon"] - a["lon"]) * f
        return wps[-1]["lat"], wps[-1]["lon"]

    def route(self):
        """[(ms, lat, lon)] of the true route up to the end of the run."""
        pts = [(w["ms"], w["lat"], w["lon"]) for w in self.waypoints if w["ms"] <= self.end_ms]
        if self.waypoints and self.end_ms and (not pts or pts[-1][0] < self.end_ms):
            lat, lon = self.truth_at(self.end_ms)
            pts.append((self.end_ms, lat, lon))
        return pts


def _truth_from_scenario(name):
    """truth.jsonl's lines made from the scenario file with this name (a run from before the
    runner wrote truth.jsonl): no daylight-saving changes."""
    if not name:
        return []
    from host_sim import scenario
    from host_sim.world import offset_ms

    for path in sorted(glob.glob(os.path.join(HERE, "scenarios", "*.json"))):
        sc = scenario.load(path)
        if sc.get("name") != name:
            continue
        start = _utc(sc["start"])
        out = [{"kind": "scenario", "path": path, "name": name, "start": sc["start"],
                "duration_s": sc.get("duration_s", 86400), "tz": [[0, sc.get("tz_offset_min", 0)]]}]
        for z in (sc.get("config") or {}).get("zones") or []:
            out.append(dict(z, kind="zone"))
        for w in sc.get("route") or []:
            ms = offset_ms(w["at"])
            out.append({"kind": "waypoint", "ms": ms,
                        "t": (start + datetime.timedelta(milliseconds=ms)).isoformat(),
                        "lat": int(round(w["lat"] * 1e6)), "lon": int(round(w["lon"] * 1e6)),
                        "sky": w.get("sky", "open"), "place": w.get("place", "")})
        return out
    return []


def read_places(path):
    """The learned places in a places.dat (firmware/places.py): [{"lat", "lon", "r", "n"}];
    lines that do not parse are skipped (the firmware drops them too)."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path, "rb") as f:
        lines = f.read().split(b"\n")
    if not lines or lines[0] != b"places 1":
        return out
    for line in lines[1:]:
        parts = line.split()
        if len(parts) < 7:
            continue
        try:
            out.append({"lat": int(parts[0]), "lon": int(parts[1]), "r": int(parts[2]), "n": int(parts[4])})
        except ValueError:
            continue
    return out


# ---------------------------------------------------------------------------------------------
# the map


class Projection:
    """Micro-degrees <-> metres east and north of (lat0, lon0): equirectangular with the
    longitude scaled by cos(lat0), good to well under a metre across a city."""

    def __init__(self, lat0, lon0):
        self.lat0 = lat0
        self.lon0 = lon0
        self.kx = M_PER_DEG * math.cos(math.radians(lat0 / 1e6)) / 1e6
        self.ky = M_PER_DEG / 1e6

    def xy(self, lat, lon):
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * self.ky

    def latlon(self, x, y):
        return self.lat0 + y / self.ky, self.lon0 + x / self.kx


class Drawn(dict):
    """What a drawing shows, as data (keys per figure), with the figure as ["fig"]."""


def _nice(m):
    """A round length (1, 2, 5 x 10^n metres) of about m."""
    p = 10 ** math.floor(math.log10(max(m, 1)))
    for k in (5, 2, 1):
        if k * p <= m:
            return k * p
    return p


def _position_at(run, ms):
    """Where a marker goes: the watch's own last position (a look or report with an accuracy
    under 1 km) within NEAR_MS before ms, else the true position then."""
    own = run.__dict__.get("_own")
    if own is None:
        own = run._own = [(e["ms"], e["lat"], e["lon"]) for e in run.events
                          if e["kind"] in ("look", "report") and "lat" in e and e.get("acc", 9999) < 1000]
    i = bisect.bisect_right(own, (ms, float("inf"), float("inf")))
    if i and own[i - 1][0] >= ms - NEAR_MS:
        return own[i - 1][1], own[i - 1][2], "watch"
    t = run.truth_at(ms)
    if t is None:
        return None
    return t[0], t[1], "truth"


def markers(run):
    """{"zone_exit"|"zone_enter"|"sos"|"call_rejected": [{"ms", "lat", "lon", "from", "label", "event"}]}:
    one per such event of the run."""
    out = {k: [] for k in MARKERS}
    day = run.end_ms > 26 * 3600000  # more than a day: "Tue 07:57"
    for e in run.events:
        if e["kind"] not in ("zone", "sos", "call_rejected"):
            continue
        when = run.local(e["ms"], day)
        if e["kind"] == "zone":
            key = "zone_exit" if e.get("event") == "exit" else "zone_enter"
            label = "%s %s %s" % (when, e.get("event", "?"), e.get("zone", "?"))
        elif e["kind"] == "sos":
            key, label = "sos", "SOS %s" % when
        elif e["kind"] == "call_rejected":
            key = "call_rejected"
            who = "withheld" if e.get("withheld") else (e.get("caller") or "?")
            label = "%s call from %s rejected%s" % (when, who,
                                                    " (%s)" % e["why"] if e.get("why") else "")
        else:
            continue
        pos = _position_at(run, e["ms"])
        if pos is None:
            continue
        out[key].append({"ms": e["ms"], "lat": pos[0], "lon": pos[1], "from": pos[2], "label": label,
                         "event": e})
    return out


def outages(run, do):
    """[(ms0, ms1)] of the run's "fault" events of a kind with a length ("no_coverage",
    "server_down"), cut at the end of the run."""
    out = []
    for e in run.events:
        if e["kind"] == "fault" and e.get("do") == do:
            end = e["ms"] + e.get("for_s", 0) * 1000 if e.get("for_s") else run.end_ms
            out.append((e["ms"], min(end, run.end_ms) if run.end_ms else end))
    return out


def _route_labels(run, proj, route, min_stay_ms=300000):
    """[(x, y, text)]: when the child stayed somewhere (at least min_stay_ms, or at the start
    or the end), as local "arrived-left" times, grouped by spot (within 25 m), at most three
    each ("+N" more; the same times on other days count once)."""
    stays = []  # [ms0, ms1, lat, lon]
    for ms, lat, lon in route:
        if stays and (stays[-1][2], stays[-1][3]) == (lat, lon):
            stays[-1][1] = ms
        else:
            stays.append([ms, ms, lat, lon])
    spots = []  # [x, y, [texts]]
    for i, (t0, t1, lat, lon) in enumerate(stays):
        first, last = i == 0, i == len(stays) - 1
        if t1 - t0 < min_stay_ms and not first and not last:
            continue
        if first:
            text = "-%s" % run.local(t1)
        elif last:
            text = "%s-" % run.local(t0)
        else:
            text = "%s-%s" % (run.local(t0), run.local(t1))
        x, y = proj.xy(lat, lon)
        for sp in spots:
            if math.hypot(sp[0] - x, sp[1] - y) < 25:
                if text not in sp[2]:
                    sp[2].append(text)
                break
        else:
            spots.append([x, y, [text]])
    out = []
    for x, y, texts in spots:
        shown = texts[:3] + (["+%d" % (len(texts) - 3)] if len(texts) > 3 else [])
        out.append((x, y, ", ".join(shown)))
    return out


def draw_map(run, size=(12, 9), dpi=100):
    """The map of the run (see the module's docstring). Returns a Drawn: "fig", "ax", "proj",
    "zones" [{"name", "kind": "circle"|"poly", "center"/"xy" (m), "r" (m), "artist"}],
    "markers" (markers(run), each with "xy"), "marker_artists" {kind: scatter},
    "reports" {src: [(x, y, acc)]}, "route" [(x, y)], "places" [{"xy", "r"}], "scale_m"."""
    route = run.route()
    reports = [e for e in run.events if e["kind"] == "report" and "lat" in e]
    mk = markers(run)
    pts = [(lat, lon) for _, lat, lon in route]
    pts += [(e["lat"], e["lon"]) for e in reports if e.get("acc", 9999) < ACC_DRAWN_MAX_M]
    pts += [(p["lat"], p["lon"]) for p in run.places]
    for z in run.zones:
        pts += [(z["lat"], z["lon"])] if "r" in z else [tuple(v) for v in z.get("poly", [])]
    for ms in mk.values():
        pts += [(m["lat"], m["lon"]) for m in ms]
    if not pts:
        pts = [(0, 0)]
    lats = [p[0] for p in pts]
    lons = [p[1] for p in pts]
    proj = Projection((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
    xs = [proj.xy(la, lo)[0] for la, lo in pts]
    ys = [proj.xy(la, lo)[1] for la, lo in pts]
    for z in run.zones:  # a circle's whole extent
        if "r" in z:
            cx, cy = proj.xy(z["lat"], z["lon"])
            xs += [cx - z["r"], cx + z["r"]]
            ys += [cy - z["r"], cy + z["r"]]
    w = max(max(xs) - min(xs), max(ys) - min(ys), 200)
    pad = w * 0.06 + 40
    xlim = (min(xs) - pad, max(xs) + pad)
    ylim = (min(ys) - pad, max(ys) + pad)
    # the figure takes the map's shape (the legend in a column of its own on the right)
    aspect = (ylim[1] - ylim[0]) / (xlim[1] - xlim[0])
    map_w = size[0] - 3.2
    map_h = min(max(map_w * aspect, 4.5), size[1])
    map_w = min(map_w, map_h / aspect)
    fw, fh = max(map_w + 3.4, 9.5), map_h + 1.0  # wide enough for the title and the legend
    fig = plt.figure(figsize=(fw, fh), dpi=dpi)
    ax = fig.add_axes([0.9 / fw, 0.6 / fh, map_w / fw, map_h / fh])
    d = Drawn(fig=fig, ax=ax, proj=proj, zones=[], markers=mk, marker_artists={}, reports={},
              route=[], places=[])
    ax.set_aspect("equal")
    ax.set_facecolor("#ffffff")
    handles = []

    # safe zones
    for z in run.zones:
        if "r" in z:
            c = proj.xy(z["lat"], z["lon"])
            art = patches.Circle(c, z["r"], facecolor=ZONE_FACE, alpha=ZONE_ALPHA, edgecolor="none", zorder=1)
            edge = patches.Circle(c, z["r"], fill=False, edgecolor=ZONE_EDGE, lw=1.6, zorder=2)
            d["zones"].append({"name": z["name"], "kind": "circle", "center": c, "r": z["r"], "artist": art})
            at = (c[0], max(c[1] - z["r"], ylim[0]))
        else:
            xy = [proj.xy(la, lo) for la, lo in z["poly"]]
            art = patches.Polygon(xy, closed=True, facecolor=ZONE_FACE, alpha=ZONE_ALPHA, edgecolor="none",
                                  zorder=1)
            edge = patches.Polygon(xy, closed=True, fill=False, edgecolor=ZONE_EDGE, lw=1.6, zorder=2)
            d["zones"].append({"name": z["name"], "kind": "poly", "xy": xy, "artist": art})
            at = (sum(p[0] for p in xy) / len(xy), min(p[1] for p in xy))
        ax.add_patch(art)
        ax.add_patch(edge)
        ax.annotate("zone %s" % z["name"], at, xytext=(0, 4), textcoords="offset points", ha="center",
                    va="bottom", color=ZONE_EDGE, fontsize=9, fontweight="bold", zorder=6,
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6})
    if run.zones:
        handles.append(patches.Patch(facecolor=ZONE_FACE, alpha=ZONE_ALPHA + 0.2, edgecolor=ZONE_EDGE,
                                     label="safe zone"))

    # learned places
    for p in run.places:
        c = proj.xy(p["lat"], p["lon"])
        ax.add_patch(patches.Circle(c, p["r"], fill=False, edgecolor=PLACE_COLOR, lw=1, ls=":", zorder=3))
        d["places"].append({"xy": c, "r": p["r"]})
    if run.places:
        xs = [q["xy"][0] for q in d["places"]]
        ys = [q["xy"][1] for q in d["places"]]
        handles.append(ax.scatter(xs, ys, marker="s", s=40, facecolor="white", edgecolor=PLACE_COLOR,
                                  lw=1.5, zorder=7, label="learned place (places.dat)"))

    # the true route
    if route:
        xy = [proj.xy(lat, lon) for _, lat, lon in route]
        d["route"] = xy
        (line,) = ax.plot([p[0] for p in xy], [p[1] for p in xy], "-", color=ROUTE_COLOR, lw=1.4, alpha=0.55,
                          zorder=4, label="true route")
        handles.append(line)
        for x, y, text in _route_labels(run, proj, route):
            ax.annotate(text, (x, y), xytext=(5, -10), textcoords="offset points", fontsize=7.5,
                        color=ROUTE_COLOR, zorder=8,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})

    # where the phone network was out of reach (the scenario's no_coverage events)
    d["no_signal"] = []
    for a, b in outages(run, "no_coverage"):
        pts_ab = [(a,) + tuple(run.truth_at(a))] + [p for p in route if a < p[0] < b]
        pts_ab.append((b,) + tuple(run.truth_at(b)))
        xy = [proj.xy(lat, lon) for _, lat, lon in pts_ab]
        (line,) = ax.plot([p[0] for p in xy], [p[1] for p in xy], ":", color="#c00000", lw=3.2, zorder=4.5,
                          label="no phone signal")
        d["no_signal"].append((a, b, xy))
        mid = xy[len(xy) // 2]
        ax.annotate("no signal %s-%s" % (run.local(a), run.local(b)), mid, xytext=(-8, 0),
                    textcoords="offset points", ha="right", fontsize=7.5, color="#c00000", zorder=8,
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75})
    if d["no_signal"]:
        handles.append(line)

    # the reports and their accuracy
    by_src = {}
    for e in reports:
        by_src.setdefault(e.get("src", "?"), []).append(e)
    for src in sorted(by_src, key=lambda s: (s not in SRC_COLORS, s)):
        es = by_src[src]
        color = SRC_COLORS.get(src, OTHER_SRC)
        xs = []
        circles = {}
        for e in es:
            x, y = proj.xy(e["lat"], e["lon"])
            xs.append((x, y, e.get("acc", 0)))
            acc = e.get("acc", 0)
            if 0 < acc <= ACC_DRAWN_MAX_M:  # one circle for the many reports at one place
                circles[(round(x / 5), round(y / 5), acc // 5)] = patches.Circle((x, y), acc)
        d["reports"][src] = xs
        if circles:  # the larger, the fainter: a stale "last" position's grows to a km
            rgb = matplotlib.colors.to_rgb(color)
            edges = [rgb + (0.22 * min(1.0, 120.0 / c.get_radius()),) for c in circles.values()]
            ax.add_collection(PatchCollection(list(circles.values()), facecolor="none", edgecolors=edges,
                                              lw=0.6, zorder=3))
        handles.append(ax.scatter([p[0] for p in xs], [p[1] for p in xs], s=14, color=color, alpha=0.85,
                                  edgecolor="white", lw=0.4, zorder=5,
                                  label="report: %s (%d)" % (src, len(es))))

    # zone alerts, SOS, rejected calls
    for key, (marker, color, size, label) in MARKERS.items():
        ms = mk[key]
        if not ms:
            continue
        for m in ms:
            m["xy"] = proj.xy(m["lat"], m["lon"])
        art = ax.scatter([m["xy"][0] for m in ms], [m["xy"][1] for m in ms], marker=marker, s=size,
                         color=color,
                         edgecolor="black", lw=0.7, zorder=9, label="%s (%d)" % (label, len(ms)))
        d["marker_artists"][key] = art
        handles.append(art)
        for m in ms:
            ax.annotate(m["label"], m["xy"], xytext=(7, 5), textcoords="offset points", fontsize=7.5,
                        color=color, zorder=10,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": color, "lw": 0.5,
                              "alpha": 0.85})

    # the extent (not the accuracy circles), a scale bar, a north arrow
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    span = xlim[1] - xlim[0]
    scale = _nice(span / 5)
    d["scale_m"] = scale
    ax.add_artist(AnchoredSizeBar(ax.transData, scale,
                                  "%d m" % scale if scale < 1000 else "%g km" % (scale / 1000),
                                  "lower right", pad=0.6, borderpad=0.8, sep=4, frameon=True,
                                  size_vertical=span / 300, color="black"))
    ax.annotate("N", xy=(0.03, 0.97), xytext=(0.03, 0.88), xycoords="axes fraction", ha="center", va="center",
                fontsize=11, fontweight="bold", arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5})
    ax.set_xlabel("metres east of %.5f°E" % (proj.lon0 / 1e6))
    ax.set_ylabel("metres north of %.5f°N" % (proj.lat0 / 1e6))
    ax.grid(True, color="#e0e0e0", lw=0.6, zorder=0)
    s = run.summary
    pe = s.get("position_error_m") or {}
    day0 = run.start + datetime.timedelta(minutes=run.tz_at(0))
    ax.set_title("%s, %s: %d reports, position error p95 %s m" % (
        run.name, day0.strftime("%a %d %b %Y"), s.get("reports_delivered", 0), pe.get("p95")), fontsize=11,
        loc="left")  # left: a tall, narrow map leaves room on its right, not its left
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, framealpha=0.9,
              borderaxespad=0)
    return d


# ---------------------------------------------------------------------------------------------
# the energy timeline


def _part_color(p):
    return PART_COLORS.get(p, "#bab0ac")


def energy_steps(run):
    """(x_hours, {part: [mA]}) of the energy log: each value holds from its x to the next
    (the last one to the end of the run); ([], {}) without energy.jsonl."""
    if not run.energy:
        return [], {}
    xs = [e["min"] / 60.0 for e in run.energy]
    ma = {p: [e["ua"][i] / 1000.0 for e in run.energy] for i, p in enumerate(run.energy_parts)}
    return xs, ma


def energy_mah(run):
    """{part: mAh} drawn over the run at the central end, from energy.jsonl (each line's
    minute average held until the next line)."""
    out = {p: 0.0 for p in run.energy_parts}
    lines = run.energy
    for i, e in enumerate(lines):
        t0 = e["min"] * 60000
        t1 = lines[i + 1]["min"] * 60000 if i + 1 < len(lines) else t0 + e.get("span_ms", 60000)
        for i, p in enumerate(run.energy_parts):
            out[p] += e["ua"][i] * (t1 - t0) / 3.6e9
    return out


def battery_curve(run):
    """(x_hours, percent) of the cell's charge (energy.jsonl's "pm", at the end of each line's
    minute), from the start."""
    if not run.energy:
        return [], []
    start = (run.energy_head or {}).get("start_pct", 100)
    xs, ys = [0.0], [float(start)]
    for e in run.energy:
        xs.append((e["min"] * 60000 + e.get("span_ms", 60000)) / 3.6e6)
        ys.append(e["pm"] / 10.0)
    return xs, ys


_EVENT_ROWS = (  # (label, kinds or a test)
    ("reports", ("report",)),
    ("zone alerts", ("zone",)),
    ("SOS", ("sos", "sos_sms", "sos_call", "sos_accepted", "sos_unanswered", "sos_cancelled")),
    ("calls, SMS", ("call_ringing", "call_rejected", "call_answered", "call_missed", "sms_kept",
                    "sms_dropped")),
    ("faults", ("fault", "watchdog_reset", "brownout", "error", "modem_rebooted", "modem_unresponsive")),
    ("battery", ("battery_low", "battery_critical", "battery_ok")),
    ("boots", ("boot", "deep_sleep", "shutdown")),
)


def _time_ticks(run, hours):
    """Tick positions (hours since the start) on whole local hours, and their labels."""
    if hours <= 0:
        return [], []
    step = 2 if hours <= 30 else 6 if hours <= 80 else 12 if hours <= 200 else 24
    off_h = run.tz_at(0) / 60.0
    t0 = run.start.hour + run.start.minute / 60.0 + off_h
    first = (step - t0 % step) % step
    ticks = []
    x = first
    while x <= hours + 1e-9:
        ticks.append(x)
        x += step
    day = hours > 30
    return ticks, [run.local(int(t * 3.6e6), day=day).replace(" ", "\n") for t in ticks]


def draw_energy(run, size=(12, 9), dpi=100):
    """The energy timeline (see the module's docstring). Returns a Drawn: "fig", "axes",
    "steps" (energy_steps), "battery" (battery_curve), "mah_log" (energy_mah), "mah_summary"
    {part: [low, central, high] mAh from summary.json}, "event_rows" {label: [ms]}."""
    s = run.summary
    hours = run.end_ms / 3.6e6
    fig = plt.figure(figsize=size, dpi=dpi)
    gs = fig.add_gridspec(3, 2, width_ratios=(4.2, 1), height_ratios=(3, 1.3, 1.6), hspace=0.12, wspace=0.22)
    ax_i = fig.add_subplot(gs[0, 0])
    ax_b = fig.add_subplot(gs[1, 0], sharex=ax_i)
    ax_e = fig.add_subplot(gs[2, 0], sharex=ax_i)
    ax_m = fig.add_subplot(gs[:, 1])
    d = Drawn(fig=fig, axes=(ax_i, ax_b, ax_e, ax_m))

    xs, ma = energy_steps(run)
    d["steps"] = (xs, ma)
    if xs:
        x = xs + [hours if hours > xs[-1] else xs[-1] + 1 / 60.0]
        base = [0.0] * len(xs)
        for p in run.energy_parts:
            top = [b + v for b, v in zip(base, ma[p])]
            ax_i.fill_between(x, base + [base[-1]], top + [top[-1]], step="post", color=_part_color(p), lw=0,
                              label="%s" % p)
            base = top
        ax_i.set_ylim(0, max(base) * 1.08 if max(base) > 0 else 1)
    else:
        ax_i.text(0.5, 0.5, "no energy.jsonl in this run's folder", ha="center", va="center",
                  transform=ax_i.transAxes)
    for do, color, label in (("no_coverage", "#c00000", "no phone signal"),
                             ("server_down", "#7f7f7f", "server down")):
        for i, (a, b) in enumerate(outages(run, do)):
            ax_i.axvspan(a / 3.6e6, b / 3.6e6, color=color, alpha=0.12, lw=0, label=None if i else label)
            ax_e.axvspan(a / 3.6e6, b / 3.6e6, color=color, alpha=0.12, lw=0)
    if xs:
        ax_i.legend(loc="upper right", ncol=3, fontsize=8, title="minute averages, central end",
                    title_fontsize=8)
    avg = s.get("avg_current_ua", 0)
    ax_i.axhline(avg / 1000.0, color="black", lw=0.8, ls="--")
    ax_i.annotate("average %.2f mA" % (avg / 1000.0), (0.005, avg / 1000.0),
                  xycoords=("axes fraction", "data"),
                  xytext=(0, 3), textcoords="offset points", fontsize=8)
    ax_i.set_ylabel("current (mA)")
    ax_i.set_title("%s on %s: %.2f mA average, %.1f days on %d mAh" % (
        run.name, s.get("interpreter", "?"), avg / 1000.0, s.get("battery_days_x10", 0) / 10.0,
        s.get("battery_mah", 0)), fontsize=11)

    bx, by = battery_curve(run)
    d["battery"] = (bx, by)
    if bx:
        ax_b.plot(bx, by, color="#2f7d32", lw=1.6)
        ax_b.fill_between(bx, by, color="#2f7d32", alpha=0.12)
    ax_b.set_ylim(0, 100)
    ax_b.set_ylabel("battery %")
    died = s.get("died_at")
    if died:
        t = run.ms(died) / 3.6e6
        for a in (ax_i, ax_b, ax_e):
            a.axvline(t, color="#d62728", lw=1.2)
        ax_b.annotate("died %s" % (s.get("died_local") or ""), (t, 50), xytext=(-4, 0),
                      textcoords="offset points",
                      ha="right", color="#d62728", fontsize=8)

    rows = {}
    labels = []
    for i, (label, kinds) in enumerate(_EVENT_ROWS):
        es = [e for e in run.events if e["kind"] in kinds]
        rows[label] = [e["ms"] for e in es]
        labels.append("%s (%d)" % (label, len(es)))
        if not es:
            continue
        if label == "reports":
            colors = [SRC_COLORS.get(e.get("src"), OTHER_SRC) for e in es]
        else:
            colors = [MARKERS["sos"][1] if label == "SOS" else "#333333"] * len(es)
        ax_e.scatter([e["ms"] / 3.6e6 for e in es], [i] * len(es), marker="|", s=90, c=colors, lw=1.2)
    d["event_rows"] = rows
    ax_e.set_yticks(range(len(_EVENT_ROWS)))
    ax_e.set_yticklabels(labels, fontsize=8)
    ax_e.set_ylim(len(_EVENT_ROWS) - 0.5, -0.5)
    ticks, tlabels = _time_ticks(run, hours)
    ax_e.set_xticks(ticks)
    ax_e.set_xticklabels(tlabels, fontsize=8)
    ax_e.set_xlim(0, hours if hours > 0 else 1)
    ax_e.set_xlabel("local time")
    for a in (ax_i, ax_b):
        plt.setp(a.get_xticklabels(), visible=False)
    for a in (ax_i, ax_b, ax_e):
        a.grid(True, axis="x", color="#e6e6e6", lw=0.6)

    parts = s.get("avg_ua_parts") or {}
    names = [p for p in PARTS if p in parts] + sorted(p for p in parts if p not in PARTS)
    secs = s.get("sim_seconds", 0)
    mah = {p: [v * secs / 3.6e6 for v in parts[p]] for p in names}
    d["mah_summary"] = mah
    d["mah_log"] = energy_mah(run)
    central = [mah[p][1] for p in names]
    lo = [mah[p][1] - mah[p][0] for p in names]
    hi = [mah[p][2] - mah[p][1] for p in names]
    ax_m.barh(range(len(names)), central, xerr=[lo, hi], color=[_part_color(p) for p in names],
              error_kw={"ecolor": "#333333", "capsize": 3, "lw": 1})
    for i, v in enumerate(central):
        ax_m.annotate("%.0f" % v, (v, i), xytext=(4, -10), textcoords="offset points", fontsize=8)
    ax_m.set_yticks(range(len(names)))
    ax_m.set_yticklabels(names)
    ax_m.invert_yaxis()
    ax_m.set_xlabel("mAh over the run")
    ax_m.set_title("charge per part\n(whiskers: low..high end)", fontsize=9)
    ax_m.grid(True, axis="x", color="#e6e6e6", lw=0.6)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.94, bottom=0.09)
    return d


# ---------------------------------------------------------------------------------------------


def png(fig):
    """The figure as PNG bytes."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def data_uri(data):
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def draw(out):
    """map.png, energy.png and index.html in the run's folder `out`; returns index.html's path."""
    from host_sim import page

    run = Run(out)
    pics = []
    for name, fn, alt in (("map.png", draw_map, "map of the run"),
                          ("energy.png", draw_energy, "current, battery and events over time")):
        d = fn(run)
        data = png(d["fig"])
        plt.close(d["fig"])
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        pics.append((name, alt, data))
    path = os.path.join(out, "index.html")
    with open(path, "w", encoding="utf-8") as f:
        f.write(page.build(run, pics))
    return path
