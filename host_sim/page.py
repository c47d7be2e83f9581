"""index.html of a run: one self-contained page (pictures inline as data: URIs, CSS and a few
lines of JS inline; nothing fetched from anywhere), written by host_sim/plot.py's draw():

  * the headline figures from summary.json (and every figure, folded),
  * the pictures (map, energy timeline),
  * the events of the run, filterable by kind (a checkbox per kind; the watch's many "look"
    events start hidden), and what each person's phone saw (people.jsonl).

tests/tools/test_page.py opens it in headless Chromium and checks it loads without console
errors, the filter works, and the screenshot shows the map's zones.
"""
import datetime
import html
import json

from host_sim import plot

HIDDEN_AT_FIRST = ("look",)  # kinds whose rows start hidden (hundreds a day)

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1f3b57;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;opacity:.85;max-width:70em}
main{padding:16px 24px;max-width:1400px}
h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #ddd;padding-bottom:3px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 12px;min-width:150px}
.card b{display:block;font-size:18px}
.card span{color:#666;font-size:12px}
figure{margin:0 0 16px;background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px;
display:inline-block}
figure img{max-width:100%;height:auto;display:block}
figcaption{color:#555;font-size:12px;margin-top:4px}
table{border-collapse:collapse;background:#fff;font-size:12.5px}
td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0;position:sticky;top:0}
#kinds label{display:inline-block;margin:2px 10px 2px 0;white-space:nowrap}
#kinds{margin-bottom:8px}
.scroll{max-height:640px;overflow:auto;border:1px solid #ddd}
td.d{font-family:ui-monospace,Menlo,Consolas,monospace;word-break:break-all}
button{margin-right:6px}
"""

_JS = """
(function () {
  var boxes = Array.prototype.slice.call(document.querySelectorAll('#kinds input[type=checkbox]'));
  var style = document.getElementById('evstyle');
  var shown = document.getElementById('shown');
  function apply() {
    var css = [], n = 0;
    boxes.forEach(function (b) {
      if (b.checked) { n += parseInt(b.getAttribute('data-n'), 10); }
      else { css.push('#events tr.k-' + b.value + '{display:none}'); }
    });
    style.textContent = css.join('\\n');
    shown.textContent = String(n);
  }
  function all(on) { return function () { boxes.forEach(function (b) { b.checked = on; }); apply(); }; }
  boxes.forEach(function (b) { b.addEventListener('change', apply); });
  document.getElementById('all').addEventListener('click', all(true));
  document.getElementById('none').addEventListener('click', all(false));
  apply();
  document.body.setAttribute('data-ready', '1');
})();
"""


def _e(x):
    return html.escape(str(x), quote=True)


def _ms_text(v):
    return "—" if v is None else "%.1f s" % (v / 1000.0)


def headline(s):
    """[(value, label)] of the figures a reader wants first, from summary.json."""
    pe = s.get("position_error_m") or {}
    src = s.get("reports_by_source") or {}
    out = [
        ("%d / %d" % (s.get("reports_delivered", 0), s.get("reports_queued", 0)),
         "reports at the server / made (%d still queued)" % s.get("outbox_left", 0)),
        ("%.2f mA" % (s.get("avg_current_ua", 0) / 1000.0), "average current (central end)"),
        ("%.1f days" % (s.get("battery_days_x10", 0) / 10.0),
         "on %d mAh at that average" % s.get("battery_mah", 0)),
    ]
    if s.get("died_at"):
        out.append((s.get("died_local") or s["died_at"], "the watch died (%s)" % s.get("died_why")))
    else:
        out.append(("%.1f %%" % (s.get("battery_left_permille", 0) / 10.0), "battery left at the end"))
    out.append(("%s / %s / %s m" % (pe.get("p50"), pe.get("p95"), pe.get("max")),
                "position error p50 / p95 / max (%d beyond their accuracy)" % s.get("accuracy_exceeded", 0)))
    out.append((", ".join("%s %d" % kv for kv in sorted(src.items())) or "—", "reports by source"))
    if s.get("zone_crossings"):
        zl = s.get("zone_alert_latency_s") or {}
        out.append(("%s s" % zl.get("worst"), "worst zone alert latency (%d crossings, %d missed)" % (
            s["zone_crossings"], s.get("zone_alerts_missed", 0))))
    if s.get("sos_al_ms") is not None:
        out.append((_ms_text(s["sos_al_ms"]),
                    "SOS alarm at the server (accepted by %s)" % s.get("sos_accepted_by")))
    if s.get("calls_rejected") or s.get("calls_rung"):
        out.append(("%d / %d" % (s.get("calls_rejected", 0), s.get("calls_rung", 0)),
                    "calls rejected / rung"))
    out.append(("%d" % s.get("server_errors", 0), "frames Traccar would reject"))
    out.append(("%d" % s.get("boots", 0), "boots (%d watchdog resets)" % s.get("watchdog_resets", 0)))
    out.append(("%dx" % s.get("sim_per_wall", 0), "real time on %s" % s.get("interpreter", "?")))
    return out


def _local_hms(run, ms, day):
    t = run.start + datetime.timedelta(milliseconds=ms + run.tz_at(ms) * 60000)
    return t.strftime("%a %H:%M:%S" if day else "%H:%M:%S")


def _details(e):
    return " ".join("%s=%s" % (k, e[k]) for k in sorted(e) if k not in ("t", "kind", "ms"))


def build(run, pictures):
    """The page's HTML. pictures: [(name, alt text, PNG bytes)]."""
    s = run.summary
    day = run.end_ms > 26 * 3600000
    kinds = {}
    for e in run.events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<link rel="icon" href="data:,">',  # no favicon request either
           "<title>Trygg: %s</title>" % _e(run.name), "<style>%s</style>" % _CSS,
           '<style id="evstyle">%s</style>' % "".join("#events tr.k-%s{display:none}" % k
                                                        for k in HIDDEN_AT_FIRST),
           "</head><body>",
           "<header><h1>%s on %s</h1><p>%s</p><p>%s, %s simulated</p></header>" % (
               _e(run.name), _e(s.get("interpreter", "?")), _e(run.meta.get("description", "")),
               _e(run.start.strftime("%Y-%m-%d %H:%M UTC")), _e("%.1f h" % (run.end_ms / 3.6e6))),
           "<main>"]
    out.append('<h2>Figures</h2><div class="cards">')
    for value, label in headline(s):
        out.append('<div class="card"><b>%s</b><span>%s</span></div>' % (_e(value), _e(label)))
    out.append("</div>")

    out.append("<h2>Pictures</h2>")
    for name, alt, data in pictures:
        out.append('<figure id="%s"><img src="%s" alt="%s"><figcaption>%s (%s)</figcaption></figure>' % (
            _e(name.split(".")[0]), plot.data_uri(data), _e(alt), _e(alt), _e(name)))

    out.append('<h2>Events (<span id="shown">%d</span> shown of %d)</h2>' % (
        sum(n for k, n in kinds.items() if k not in HIDDEN_AT_FIRST), len(run.events)))
    out.append('<div id="kinds"><button id="all" type="button">all</button>'
               '<button id="none" type="button">none</button>')
    for k in sorted(kinds):
        out.append('<label><input type="checkbox" value="%s" data-n="%d"%s> %s (%d)</label>' % (
            _e(k), kinds[k], "" if k in HIDDEN_AT_FIRST else " checked", _e(k), kinds[k]))
    out.append("</div>")
    out.append('<div class="scroll"><table id="events"><thead><tr><th>local time</th><th>kind</th>'
               "<th>details</th></tr></thead><tbody>")
    for e in run.events:
        out.append('<tr class="k-%s" data-k="%s"><td>%s</td><td>%s</td><td class="d">%s</td></tr>' % (
            _e(e["kind"]), _e(e["kind"]), _local_hms(run, e["ms"], day), _e(e["kind"]), _e(_details(e))))
    out.append("</tbody></table></div>")

    if run.people:
        out.append("<h2>What the people's phones saw</h2>")
        out.append('<div class="scroll"><table id="people"><thead><tr><th>local time</th><th>name</th>'
                   "<th>number</th>"
                   "<th>event</th><th>detail</th></tr></thead><tbody>")
        for p in run.people:
            ms = run.ms(p["t"])
            out.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"d\">%s</td></tr>" % (
                _local_hms(run, ms, day), _e(p.get("name", "")), _e(p.get("number", "")),
                _e(p.get("event", "")),
                _e(p.get("detail", ""))))
        out.append("</tbody></table></div>")

    out.append("<h2>Every figure (summary.json)</h2><details><summary>%d figures</summary>"
               '<table id="summary"><tbody>' % len(s))
    for k in sorted(s):
        value = json.dumps(s[k], sort_keys=True)
        out.append('<tr><th>%s</th><td class="d">%s</td></tr>' % (_e(k), _e(value)))
    out.append("</tbody></table></details>")
    out.append("</main><script>%s</script></body></html>" % _JS)
    return "\n".join(out) + "\n"
