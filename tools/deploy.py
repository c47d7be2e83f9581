"""Flash the watch: compile firmware/ and boards/ with mpy-cross and copy them with mpremote.

    make flash BOARD=lilygo_t_a7670 PORT=/dev/ttyUSB0

Writes a main.py that runs the chosen board, then resets the device into the watch. Config is
left alone if the device already has one (/data/config.json); pass --config FILE to install one.
"""
import argparse
import os
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="lilygo_t_a7670")
    ap.add_argument("--port", default="/dev/ttyUSB0")
    ap.add_argument("--config", help="a config.json to install as /data/config.json")
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
        copies += ["cp", a.config, ":data/config.json", "+"]
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
