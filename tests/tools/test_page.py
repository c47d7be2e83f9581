"""host_sim/page.py: out/sim/index.html is one self-contained page (nothing fetched), and in a
real headless browser (Debian's Chromium) it loads without a console error, its event filter
works, and a screenshot shows the map with its safe zones.

The browser is driven over the DevTools protocol on --remote-debugging-pipe (fds 3 and 4,
NUL-separated JSON; a client of a few lines below): console messages, exceptions and log
entries arrive as events, and Page.captureScreenshot returns the PNG. One school day (~3 s) is
run with `--plot`, as `make sim` does."""
import base64
import fcntl
import io
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time

import matplotlib.colors
import numpy
import pytest
from PIL import Image

from host_sim import plot

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHROMIUM = os.environ.get("TRYGG_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0", "--remote-debugging-pipe",
         "--window-size=1300,2400"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("page") / "sim"
    r = subprocess.run([sys.executable, "-m", "host_sim", "run", "host_sim/scenarios/school_day.json", str(d),
                        "--plot"], cwd=REPO, capture_output=True, text=True, timeout=240,
                       env=dict(os.environ, TRYGG_PROGRESS_S="0"))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "  pictures: %s" % (d / "index.html") in r.stdout
    return d


@pytest.fixture(scope="module")
def page(out):
    with open(out / "index.html", encoding="utf-8") as f:
        return f.read()


def _events(out):
    with open(out / "events.jsonl") as f:
        return [json.loads(line) for line in f]


def test_the_page_is_self_contained(page):
    # nothing that would be fetched: no scheme in any src/href, no external script or style
    refs = re.findall(r'(?:src|href)\s*=\s*"([^"]*)"', page)
    outside = [r[:40] for r in refs if not r.startswith("data:")]
    assert refs and not outside, outside
    assert "<script src" not in page and "<link" not in page.replace('<link rel="icon" href="data:,">', "")
    assert "http://" not in page and "https://" not in page
    imgs = re.findall(r'<img src="data:image/png;base64,([^"]+)"', page)
    assert len(imgs) == 2
    for b64 in imgs:
        im = Image.open(io.BytesIO(base64.b64decode(b64)))
        assert im.format == "PNG" and im.size[0] > 800


def test_the_page_shows_the_runs_figures_and_events(out, page):
    with open(out / "summary.json") as f:
        s = json.load(f)
    assert "%d / %d" % (s["reports_delivered"], s["reports_queued"]) in page
    assert "%.2f mA" % (s["avg_current_ua"] / 1000.0) in page
    assert "%s s" % s["zone_alert_latency_s"]["worst"] in page
    events = _events(out)
    assert page.count('<tr class="k-') == len(events)
    kinds = {}
    for e in events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    for k, n in kinds.items():
        assert 'value="%s" data-n="%d"' % (k, n) in page
    for k in s:  # every figure, folded
        assert "<tr><th>%s</th>" % k in page


# ---------------------------------------------------------------------------------------------
# a small DevTools-protocol client over --remote-debugging-pipe


class Chromium:
    def __init__(self):
        if not os.path.exists(CHROMIUM):
            pytest.fail("Chromium is not installed (%s): install it with `apt-get install -y chromium` "
                        "(CI's .ci/run installs it); the page is tested in a real headless browser"
                        % CHROMIUM)
        self.profile = tempfile.mkdtemp(prefix="trygg-chromium-")
        to_r, self.w = os.pipe()  # we write, Chromium reads its fd 3
        self.r, from_w = os.pipe()  # Chromium writes its fd 4, we read

        def fds():  # in the child: the pipe's ends become its fds 3 and 4 (via fds >= 10: no clash)
            a = fcntl.fcntl(to_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = tempfile.TemporaryFile()
        self.p = subprocess.Popen([CHROMIUM] + FLAGS + ["--user-data-dir=" + self.profile, "about:blank"],
                                  preexec_fn=fds, pass_fds=(3, 4, to_r, from_w), stdin=subprocess.DEVNULL,
                                  stdout=self.log, stderr=self.log)
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.n = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30):
        self.n += 1
        msg = {"id": self.n, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        n = self.n
        m = self.wait(lambda m: m.get("id") == n, timeout)
        if "error" in m:
            raise RuntimeError("%s: %s" % (method, m["error"]))
        return m["result"]

    def wait(self, pred, timeout=30):
        end = time.time() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                m = json.loads(raw)
                if "method" in m:
                    self.events.append(m)
                if pred(m):
                    return m
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in %d s:\n%s" % (timeout, self.stderr()[-2000:]))
            if select.select([self.r], [], [], left)[0]:
                chunk = os.read(self.r, 1 << 20)
                if not chunk:
                    raise EOFError("Chromium closed the pipe:\n%s" % self.stderr()[-2000:])
                self.buf += chunk

    def stderr(self):
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def open(self, url):
        """A page target attached (flat session), its events on, navigated to url and loaded."""
        targets = self.send("Target.getTargets")["targetInfos"]
        tid = [t for t in targets if t["type"] == "page"][0]["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        for m in ("Runtime.enable", "Log.enable", "Page.enable"):
            self.send(m, session=self.session)
        self.send("Page.navigate", {"url": url}, session=self.session)
        self.wait(lambda m: m.get("method") == "Page.loadEventFired", 60)

    def js(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=self.session)
        assert "exceptionDetails" not in r, r
        return r["result"].get("value")

    def errors(self):
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.exceptionThrown":
                out.append(p["exceptionDetails"].get("text"))
            elif e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(p.get("args"))
            elif e["method"] == "Log.entryAdded" and p["entry"].get("level") == "error":
                out.append(p["entry"].get("text"))
        return out

    def close(self):
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, EOFError, OSError):
            pass
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(5)
        os.close(self.w)
        os.close(self.r)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(out):
    b = Chromium()
    try:
        b.open("file://" + str(out / "index.html"))
        yield b
    finally:
        b.close()


def test_the_page_loads_in_chromium_without_console_errors(browser):
    assert browser.js("document.body.getAttribute('data-ready')") == "1"  # the inline script ran to its end
    assert browser.js("document.images.length") == 2
    assert browser.js("Array.prototype.every.call(document.images, function (i) { return i.complete && "
                      "i.naturalWidth > 800; })")
    assert browser.errors() == []
    log = browser.stderr()
    assert "Uncaught" not in log and "ERROR:CONSOLE" not in log


def test_the_event_filter_works(browser, out):
    events = _events(out)
    n = {}
    for e in events:
        n[e["kind"]] = n.get(e["kind"], 0) + 1
    visible = ("Array.prototype.filter.call(document.querySelectorAll('#events tbody tr'), function (r) {"
               " return getComputedStyle(r).display !== 'none'; }).length")
    assert browser.js(visible) == len(events) - n["look"]  # the watch's looks start hidden
    assert browser.js("document.getElementById('shown').textContent") == str(len(events) - n["look"])
    browser.js("document.querySelector('#kinds input[value=report]').click()")
    assert browser.js(visible) == len(events) - n["look"] - n["report"]
    browser.js("document.getElementById('none').click();"
               " document.querySelector('#kinds input[value=zone]').click()")
    assert n["zone"] >= 2 and browser.js(visible) == n["zone"]
    assert browser.js("document.getElementById('shown').textContent") == str(n["zone"])
    browser.js("document.getElementById('all').click()")
    assert browser.js(visible) == len(events)
    assert browser.errors() == []


def test_a_screenshot_shows_the_map_with_its_zones(browser):
    browser.js("window.scrollTo(0, 0)")
    rect = browser.js("(function () { var r = document.querySelector('#map img').getBoundingClientRect();"
                      " return [r.left, r.top, r.width, r.height]; })()")
    shot = browser.send("Page.captureScreenshot", {"format": "png"}, session=browser.session)
    im = Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB")
    left, top, w, h = [int(v) for v in rect]
    assert w > 600 and h > 600 and top + h <= im.size[1], (rect, im.size)  # the whole map is on screen
    # the zones' fill over white, as plot.py paints it
    face = matplotlib.colors.to_rgb(plot.ZONE_FACE)
    want = [round(255 * (1 - plot.ZONE_ALPHA * (1 - c))) for c in face]
    px = numpy.asarray(im).astype(int)
    zone = (abs(px - numpy.array(want)) <= 6).all(axis=2)
    inside = int(zone[top:top + h, left:left + w].sum())
    assert inside > 20000, (inside, want)  # two zones: tens of thousands of pixels
    assert int(zone.sum()) - inside < 200  # ... and nowhere else on the page
