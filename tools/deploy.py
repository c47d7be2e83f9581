"""Flash the watch: compile firmware/ and boards/ with mpy-cross and copy them with mpremote.

    make flash BOARD=lilygo_t_a7670 PORT=/dev/ttyUSB0
    python tools/deploy.py --port /dev/pts/7 --config my-watch.json    (a virtual board's pty too)

One mpremote session, in this order:
1. on the board (mpremote exec): main.py is removed first, so a reset while the copy is under
   way (the watchdog keeps running after Ctrl-C on the ESP32) boots into the REPL, not into a
   half-copied watch; the folders are made; every .py and .mpy under firmware/ and boards/ (and
   lib/firmware, lib/boards, where `mip install` puts them) that is not in this build is removed:
   a module the build no longer has, and the .py source of a module the build has as .mpy
   (MicroPython imports foo.py before foo.mpy from the same folder: docs/reference/mpyfiles.rst).
   /data (the settings, the outbox, the learned places) is left alone.
2. the .mpy files of the build (mpremote skips those already there unchanged);
3. with --config FILE: the settings, checked by the firmware's validator and written as the
   firmware writes them (tools/provision.py), to /data/config.json; without, the board's
   config stays as it is. A config without a "pin" gets a fresh random 6-digit PIN for the
   guardians' SMS commands (there is no shared default: the PIN is this watch's own), printed
   once: write it down;
4. main.py (last: from now on the board boots the watch), then a hard reset.

--frozen: the firmware is frozen into the MicroPython image (manifest.py): nothing is copied
but main.py and the config, and every firmware/ and boards/ file on the flash is removed (files
on the flash would shadow the frozen modules: "" comes before ".frozen" on sys.path).
--dry-run prints the mpremote command and the board-side script and runs nothing.

--package-json rewrites package.json (the `mip install` package: every firmware and board
module, the list tools/compile.py compiles; tests/tools/test_deploy.py keeps it so).
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import compile as mpy  # noqa: E402
import provision as prov  # noqa: E402

MAIN = """import boards.{board} as board
import firmware.main
firmware.main.run(board)
"""
# the folders deploy owns on the board: everything .py / .mpy in them is the build's or goes
OWNED = ("firmware", "boards", "lib/firmware", "lib/boards")

# Runs on the board (MicroPython, cwd "/"): KEEP and DIRS are filled in. Prints each removal.
_PREPARE = """import os
KEEP = set({keep})
def _rm(p):
    try:
        os.remove(p)
        print("removed", p)
    except OSError:
        pass
def _walk(d):
    try:
        entries = list(os.ilistdir(d))
    except OSError:
        return
    for e in entries:
        p = d + "/" + e[0]
        if e[1] & 0x4000:
            _walk(p)
        elif (p.endswith(".py") or p.endswith(".mpy")) and p not in KEEP:
            _rm(p)
_rm("main.py")
for d in {dirs}:
    try:
        os.mkdir(d)
    except OSError:
        pass
for d in {owned}:
    _walk(d)
"""


def provision(values, pin=None):
    """The settings to install: values with a PIN (the one given, or a fresh random one if
    values has none). Returns (values, pin_if_new or None). (tools/provision.py with_pin)"""
    return prov.with_pin(values, pin)


def targets(sources):
    """The board's paths of a build: firmware/app.py -> firmware/app.mpy."""
    return [rel[:-3] + ".mpy" for rel in sources]


def prepare_script(keep):
    """The board-side script of step 1 for a build whose files on the board are keep."""
    dirs = ["data"]
    for p in sorted(keep):
        d = p.rsplit("/", 1)[0] if "/" in p else ""
        parts = d.split("/") if d else []
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if sub not in dirs:
                dirs.append(sub)
    dirs.sort(key=lambda s: (s.count("/"), s))
    return _PREPARE.format(keep=json.dumps(sorted(keep)), dirs=json.dumps(dirs),
                           owned=json.dumps(list(OWNED)))


def plan(port, build, rels, main_py, config_path=None, mpremote="mpremote", ca_path=None):
    """The mpremote command line: exec the prepare script, copy the build, the config, the TLS
    CA, main.py, reset. rels: the build's relative .py paths ([] with a frozen image)."""
    keep = targets(rels)
    cmd = [mpremote, "connect", port, "exec", prepare_script(keep)]
    for t in keep:
        cmd += ["+", "cp", os.path.join(build, t), ":" + t]
    if config_path:
        cmd += ["+", "cp", config_path, ":data/config.json"]
    if ca_path:  # the CA the server's certificate is checked against ("tls": docs/transports.md)
        cmd += ["+", "cp", ca_path, ":data/ca.pem"]
    cmd += ["+", "cp", main_py, ":main.py", "+", "reset"]
    return cmd


def package_json(old=None):
    """package.json for mip: every module tools/compile.py compiles, as source (mip copies files
    as they are; relative URLs are fetched next to package.json). Keeps old's version."""
    rels = [os.path.relpath(p, REPO).replace(os.sep, "/") for p in mpy.sources()]
    return {"urls": [[r, r] for r in rels], "deps": [],
            "version": (old or {}).get("version", "0.1.0")}


def write_package_json(path=os.path.join(REPO, "package.json")):
    old = None
    if os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
    pj = package_json(old)
    rows = ",\n".join("    " + json.dumps(u) for u in pj["urls"])  # one module a line
    with open(path, "w") as f:
        f.write('{\n  "urls": [\n%s\n  ],\n  "deps": [],\n  "version": %s\n}\n'
                % (rows, json.dumps(pj["version"])))
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", default="lilygo_t_a7670")
    ap.add_argument("--port", default="/dev/ttyUSB0", help="serial device: /dev/ttyUSB0, or a "
                    "virtual board's /dev/pts/N")
    ap.add_argument("--config", help="a provisioning file (tools/provision.py) to install as "
                    "/data/config.json")
    ap.add_argument("--pin", help="the PIN for SMS commands (4-8 digits); default: the config's, "
                    "else a random one")
    ap.add_argument("--ca", help="a PEM file with the CA of the TLS front, installed as /data/ca.pem "
                    "(with \"tls\": true in the config; docs/transports.md)")
    ap.add_argument("--frozen", action="store_true", help="the firmware is frozen in the image: "
                    "copy only main.py and the config, remove firmware files from the flash")
    ap.add_argument("--mpremote", default=os.path.join(os.path.dirname(sys.executable), "mpremote"))
    ap.add_argument("--dry-run", action="store_true", help="print the mpremote command only")
    ap.add_argument("--package-json", action="store_true", help="rewrite package.json from the "
                    "build's module list, and nothing else")
    a = ap.parse_args(argv)
    if a.package_json:
        print("wrote %s" % write_package_json())
        return 0
    if not os.path.exists(os.path.join(REPO, "boards", a.board + ".py")):
        raise SystemExit("unknown board %r (see boards/)" % a.board)
    with tempfile.TemporaryDirectory(prefix="trygg-deploy-") as tmp:
        return _deploy(a, tmp)


def _deploy(a, tmp):
    cfg_path = None
    if a.config:
        try:
            values = prov.checked(prov.load(a.config))
        except prov.ProvisionError as e:
            for where, shown, why in e.problems:
                print("%s: %s = %s: %s" % (a.config, where, shown, why), file=sys.stderr)
            raise SystemExit("%s: not usable, nothing flashed (python tools/provision.py check %s)"
                             % (a.config, a.config))
        values, new_pin = provision(values, a.pin)
        cfg_path = prov.write(values, tmp)
        if new_pin and a.pin is None:  # generated here: shown once; a PIN of one's own never
            print("PIN for SMS commands on this watch: %s (write it down; give it to the guardians)"
                  % new_pin)
    build = os.path.join(REPO, "out", "mpy")
    rels = []
    if not a.frozen:
        sizes = mpy.compile_all(build)
        rels = [rel for rel, _ in sizes]
        print("compiled %d modules (%d bytes)" % (len(sizes), sum(n for _, n in sizes)))
    main_py = os.path.join(tmp, "main.py")
    with open(main_py, "w") as f:
        f.write(MAIN.format(board=a.board))
    if a.ca is not None:
        with open(a.ca, "rb") as f:
            if b"-----BEGIN CERTIFICATE-----" not in f.read():
                raise SystemExit("%s: not a PEM certificate, nothing flashed" % a.ca)
    cmd = plan(a.port, build, rels, main_py, cfg_path, a.mpremote, a.ca)
    if a.dry_run:
        print(shlex.join(cmd))
        return 0
    subprocess.run(cmd, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
