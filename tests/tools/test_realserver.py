"""make sim SERVER=host:port (host_sim/realserver.py): the simulated watch's connections go over
real TCP to a server the user runs. Here that server is the simulated Traccar itself, listening
on loopback in a thread: the watch logs in, every report of three hours arrives over the real
socket, each LK is acked over it, and virtual time waited for those acks."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests", "scenario"))

import days  # noqa: E402  (the scenario tests' accounting of reports)
from firmware import clock  # noqa: E402
from host_sim import scenario  # noqa: E402
from host_sim.traccar import WatchServer  # noqa: E402


class _Run:
    """A run's output folder, as the scenario tests' days helpers read it."""

    def __init__(self, out):
        self.out = str(out)
        self.summary = json.loads((out / "summary.json").read_text())
        self.events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
        self.wire = [json.loads(line) for line in (out / "wire.jsonl").read_text().splitlines()]

    def kinds(self, kind):
        return [e for e in self.events if e["kind"] == kind]


class LoopbackTraccar:
    """host_sim/traccar.py's WatchServer on a real listening socket."""

    def __init__(self):
        self.server = WatchServer(devices=None, now_ms=lambda: int(time.monotonic() * 1000))
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                s, addr = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(s, addr), daemon=True).start()

    def _serve(self, s, addr):
        with self.lock:
            conn = self.server.connect("%s:%d" % addr, s.sendall, lambda: s.shutdown(socket.SHUT_RDWR))
        while True:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                with self.lock:
                    conn.close()
                return
            with self.lock:
                conn.receive(data)


def test_the_watch_reports_to_a_real_server_over_loopback(tmp_path):
    real = LoopbackTraccar()
    sc = scenario.load(os.path.join(REPO, "host_sim", "scenarios", "school_day.json"))
    sc["duration_s"] = 3 * 3600
    path = tmp_path / "three_hours.json"
    path.write_text(json.dumps(sc))
    out = tmp_path / "out"
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "host_sim", "run", str(path), str(out), "--server",
                        "127.0.0.1:%d" % real.port], cwd=REPO, capture_output=True, text=True, timeout=300)
    wall = time.monotonic() - t0
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    s = json.loads((out / "summary.json").read_text())
    with real.lock:
        uds = [p for p in real.server.positions if p["type"].startswith("UD")]
        devices = set(p["device"] for p in real.server.positions)
    # every report the watch made reached the real server, from the watch's id, once, but the
    # batch still held at the end (batch_s), each accounted for by its seq
    n = days.every_report_accounted_for(_Run(out), days.timeline(clock.parse_iso8601(sc["start"]))[0])
    held = s["outbox_left"]
    assert n == s["reports_queued"] >= 30 and len(uds) == s["reports_delivered"] == n - held
    assert devices == {"862000012345674"} and real.accepted >= 1
    # the acks came back over the socket: delivered means acked by the real server's LK reply
    assert s["server_errors"] == 0 and wall < 120
