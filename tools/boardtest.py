"""The board suite (tests/board/) on a board: flash it, then run the suite over its serial port
with pytest-embedded's serial service.

    python tools/boardtest.py                        the virtual board (what `make test` runs)
    python tools/boardtest.py --port /dev/ttyUSB0    a real board (`make board-test PORT=...`)
        [--config my-watch.json] [--board lilygo_t_a7670] [--no-flash] [-- pytest args]

Without --port it starts tools/vboard.py with the simulated world behind it
(host_sim/board_world.py: the school day from 07:45, the walk to school, at 20 times real
time), flashes it like a real board (tools/deploy.py: the compiled firmware, main.py and a
config from the school day's settings plus a PIN), runs the suite, and stops the board. The
suite also reads the simulated server's wire.jsonl there (TRYGG_BOARD_WIRE). With --port it
flashes that board (unless --no-flash) with --config (required: your server, contacts, PIN)
and runs the same suite; the watch then needs a SIM, coverage and ideally the sky.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCENARIO = os.path.join(REPO, "host_sim", "scenarios", "school_day.json")
TEST_PIN = "482913"  # the virtual watch's PIN (a real watch gets its own from its config)


def _run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, cwd=REPO, **kw).returncode


def _start_vboard(work):
    env = dict(os.environ, TRYGG_VBOARD_SPEED=os.environ.get("TRYGG_VBOARD_SPEED", "20"),
               TRYGG_VBOARD_START=os.environ.get("TRYGG_VBOARD_START", "07:45"),
               TRYGG_VBOARD_SCENARIO=SCENARIO)
    port_file = os.path.join(work, "port")
    err = open(os.path.join(work, "vboard.err"), "wb")
    vb = subprocess.Popen([sys.executable, os.path.join(HERE, "vboard.py"), "--flash",
                           os.path.join(work, "flash"), "--run-dir", work, "--world",
                           "host_sim.board_world", "--port-file", port_file, "--log",
                           os.path.join(work, "serial.log")],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
                          start_new_session=True)
    deadline = time.monotonic() + 30
    while not (os.path.exists(port_file) and open(port_file).read().strip()):
        if vb.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the virtual board did not start: see %s/vboard.err" % work)
        time.sleep(0.1)
    return vb, open(port_file).read().strip()


def _stop(vb):
    try:
        os.killpg(vb.pid, signal.SIGTERM)  # the virtual board and its MicroPython process
    except ProcessLookupError:
        return
    try:
        vb.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(vb.pid, signal.SIGKILL)
        vb.wait(10)


def main(argv):
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    opts = {"--port": None, "--config": None, "--board": "lilygo_t_a7670"}
    flash = True
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--no-flash":
            flash = False
        elif a in opts and i + 1 < len(argv):
            i += 1
            opts[a] = argv[i]
        else:
            raise SystemExit(__doc__)
        i += 1
    port, config = opts["--port"], opts["--config"]
    vb = None
    work = tempfile.mkdtemp(prefix="trygg-board-")
    env = dict(os.environ)
    try:
        if port is None:
            vb, port = _start_vboard(work)
            env["TRYGG_BOARD_WIRE"] = os.path.join(work, "wire.jsonl")
            if config is None:
                with open(SCENARIO) as f:
                    values = json.load(f)["config"]
                values["pin"] = TEST_PIN
                config = os.path.join(work, "watch.json")
                with open(config, "w") as f:
                    json.dump(values, f)
        elif flash and config is None:
            raise SystemExit("a real board needs --config FILE (its server, contacts and PIN; "
                             "docs/provision.example.json)")
        if flash:
            rc = _run([sys.executable, os.path.join(HERE, "deploy.py"), "--board", opts["--board"],
                       "--port", port, "--config", config], timeout=300)
            if rc:
                raise SystemExit("flashing failed (exit %d)" % rc)
        rc = _run([sys.executable, "-m", "pytest", "tests/board", "-p", "pytest_embedded",
                   "-W", "ignore::pytest.PytestExperimentalApiWarning",
                   "--embedded-services", "serial", "--port", port, "--baud", "115200"] + extra,
                  env=env, timeout=1200)
        if rc and vb is not None:
            log = os.path.join(work, "serial.log")
            if os.path.exists(log):
                print("---- the board's serial, last lines ----")
                print(open(log, errors="replace").read()[-4000:])
        return rc
    finally:
        if vb is not None:
            _stop(vb)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
