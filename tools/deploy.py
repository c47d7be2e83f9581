"""Flash the watch: compile firmware/ and boards/ with mpy-cross and copy them with mpremote.

    make flash BOARD=lilygo_t_a7670 PORT=/dev/ttyUSB0

Writes a main.py that runs the chosen board, then resets the device into the watch. Config is
left alone if the device already has one (/data/config.json); pass --config FILE to install one.
A config without a "pin" gets a fresh random 6-digit PIN for the guardians' SMS commands
(there is no shared default: the PIN is this watch's own), printed once: write it down.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import compile as mpy  # noqa: E402

MAIN = """import boards.{board} as board
import firmware.main
firmware.main.run(board)
"""


def provision(values, pin=None):
    """The settings to install: values with a PIN (the one given, or a fresh random one if
    values has none). Returns (values, pin_if_new or None)."""
    values = dict(values)
    if pin is not None:
        values["pin"] = pin
        return values, pin
    if values.get("pin"):
        return values, None
    values["pin"] = "%06d" % secrets.randbelow(1000000)
    return values, values["pin"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="lilygo_t_a7670")
    ap.add_argument("--port", default="/dev/ttyUSB0")
    ap.add_argument("--config", help="a config.json to install as /data/config.json")
    ap.add_argument("--pin", help="the PIN for SMS commands (4-8 digits); default: the config's, "
                    "else a random one")
    ap.add_argument("--dry-run", action="store_true", help="print the mpremote commands only")
    a = ap.parse_args()
    if not os.path.exists(os.path.join(REPO, "boards", a.board + ".py")):
        raise SystemExit("unknown board %r (see boards/)" % a.board)
    build = os.path.join(REPO, "out", "mpy")
    sizes = mpy.compile_all(build)
    print("compiled %d modules (%d bytes)" % (len(sizes), sum(n for _, n in sizes)))
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    main_py = os.path.join(tempfile.mkdtemp(), "main.py")
    with open(main_py, "w") as f:
        f.write(MAIN.format(board=a.board))
    mkdirs = []
    for d in ("firmware", "firmware/drivers", "boards", "data"):
        mkdirs += ["mkdir", ":" + d, "+"]
    copies = []
    for rel, _ in sizes:
        copies += ["cp", os.path.join(build, rel[:-3] + ".mpy"), ":" + rel[:-3] + ".mpy", "+"]
    copies += ["cp", main_py, ":main.py", "+"]
    if a.config:
        with open(a.config) as f:
            values, new_pin = provision(json.load(f), a.pin)
        cfg_path = os.path.join(os.path.dirname(main_py), "config.json")
        with open(cfg_path, "w") as f:
            json.dump(values, f)
        if new_pin:
            print("PIN for SMS commands on this watch: %s (write it down; give it to the guardians)"
                  % new_pin)
        copies += ["cp", cfg_path, ":data/config.json", "+"]
    copies += ["reset"]
    base = [mpremote, "connect", a.port]
    if a.dry_run:
        print(" ".join(base + mkdirs[:-1]))
        print(" ".join(base + copies))
        return
    # mpremote stops at the first failing command and mkdir fails when the folder exists, so
    # the folders are made in a call of their own whose errors are ignored
    subprocess.run(base + mkdirs[:-1], check=False)
    subprocess.run(base + copies, check=True)


if __name__ == "__main__":
    main()
