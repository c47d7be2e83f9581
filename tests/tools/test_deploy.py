"""tools/deploy.py: every watch gets a PIN of its own (no shared default); the board ends up with
exactly the build (stale modules and .py files that would shadow the .mpy removed, /data left
alone); manifest.py and package.json list exactly the modules tools/compile.py compiles."""
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))

import compile as mpy  # noqa: E402
import deploy  # noqa: E402

from firmware import config  # noqa: E402

MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


def test_a_config_without_a_pin_gets_a_fresh_valid_one():
    pins = set()
    for _ in range(20):
        values, pin = deploy.provision({"server_host": "t.example"})
        config.check("pin", pin)
        assert values["pin"] == pin and values["server_host"] == "t.example"
        pins.add(pin)
    assert len(pins) > 15  # random, not a default
    assert deploy.provision({"pin": "4711"}) == ({"pin": "4711"}, None)  # kept
    assert deploy.provision({"pin": "4711"}, "123456") == ({"pin": "123456"}, "123456")


def _dry_run(capsys, monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["deploy", "--dry-run"] + list(args))
    assert deploy.main() == 0
    out = capsys.readouterr().out
    start = out.rfind("\n", 0, out.index("mpremote connect ")) + 1  # the script spans lines
    return out, shlex.split(out[start:])


def _steps(cmd):
    """The mpremote command's steps, split at "+": [["exec", script], ["cp", src, dst], ...]."""
    assert cmd[1:3] == ["connect", "/dev/ttyUSB0"]
    steps = [[]]
    for w in cmd[3:]:
        if w == "+":
            steps.append([])
        else:
            steps[-1].append(w)
    return steps


def test_dry_run_installs_the_provisioned_config(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "my.json"
    cfg.write_text('{"server_host": "t.example"}')
    out, cmd = _dry_run(capsys, monkeypatch, "--config", str(cfg))
    assert "PIN for SMS commands on this watch: " in out and ":data/config.json" in out


def test_the_tls_ca_goes_to_data_ca_pem_and_nothing_else_does(tmp_path, capsys, monkeypatch):
    ca = tmp_path / "front-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    out, cmd = _dry_run(capsys, monkeypatch, "--ca", str(ca))
    steps = _steps(cmd)
    assert ["cp", str(ca), ":data/ca.pem"] in steps
    assert steps.index(["cp", str(ca), ":data/ca.pem"]) < len(steps) - 2  # before main.py
    bad = tmp_path / "not.pem"
    bad.write_text("hello")
    monkeypatch.setattr(sys, "argv", ["deploy", "--dry-run", "--ca", str(bad)])
    try:
        deploy.main()
        assert False, "a file that is no certificate was accepted"
    except SystemExit as e:
        assert "not a PEM certificate" in str(e)


def test_the_plan_copies_the_build_then_main_py_last_and_resets(capsys, monkeypatch):
    out, cmd = _dry_run(capsys, monkeypatch)
    steps = _steps(cmd)
    assert steps[0][0] == "exec" and "KEEP" in steps[0][1]
    assert steps[-1] == ["reset"] and steps[-2][0] == "cp" and steps[-2][2] == ":main.py"
    copied = [s[2][1:] for s in steps[1:-2]]
    assert copied == deploy.targets([os.path.relpath(p, REPO) for p in mpy.sources()])
    assert all(c.endswith(".mpy") for c in copied)  # never a .py that would shadow an .mpy
    assert ":data/config.json" not in out  # without --config the board's settings stay


def test_frozen_copies_only_main_py(capsys, monkeypatch):
    out, cmd = _dry_run(capsys, monkeypatch, "--frozen")
    steps = _steps(cmd)
    assert [s[0] for s in steps] == ["exec", "cp", "reset"] and steps[1][2] == ":main.py"
    assert "KEEP = set([])" in steps[0][1]


def test_a_bad_config_stops_the_flash_and_its_pin_is_not_shown(tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "bad.json"
    cfg.write_text('{"server_host": "a b", "pin": "98x76", "server_port": 0}')
    monkeypatch.setattr(sys, "argv", ["deploy", "--dry-run", "--config", str(cfg)])
    with pytest.raises(SystemExit):
        deploy.main()
    r = capsys.readouterr()
    text = r.out + r.err
    assert "server_host" in text and "server_port" in text and "pin = ***" in text
    assert "98x76" not in text and "mpremote" not in text


def _tree(root):
    out = []
    for d, _dirs, files in os.walk(root):
        out += [os.path.relpath(os.path.join(d, f), root) for f in files]
    return sorted(out)


def test_the_board_side_script_removes_stale_and_shadowing_files_only(tmp_path):
    """The script deploy runs on the board, run on the MicroPython unix port in a folder laid
    out like a board's flash after earlier deploys and a mip install."""
    keep = ["firmware/__init__.mpy", "firmware/app.mpy", "firmware/drivers/at.mpy", "boards/b.mpy"]
    files = keep + [
        "firmware/app.py",  # a .py next to its .mpy: imported first, would shadow the new build
        "firmware/gone.mpy",  # a module the build no longer has
        "firmware/drivers/old.py",
        "lib/firmware/app.py",  # mip install's copy
        "main.py",
        "data/config.json", "data/outbox/head", "data/notes.py",  # the watch's own: kept
        "lib/other/thing.py", "boot.py",  # not deploy's
        "firmware/README.txt",  # not a module
    ]
    for f in files:
        p = tmp_path / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    r = subprocess.run([MICROPYTHON, "-c", deploy.prepare_script(keep)], cwd=str(tmp_path),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert _tree(tmp_path) == sorted(keep + [
        "data/config.json", "data/outbox/head", "data/notes.py", "lib/other/thing.py", "boot.py",
        "firmware/README.txt"])
    assert "removed firmware/app.py" in r.stdout and "removed main.py" in r.stdout
    assert (tmp_path / "firmware" / "drivers").is_dir() and (tmp_path / "data").is_dir()


def _manifest_modules():
    """The .py files manifest.py freezes, by MicroPython's manifest rules (tools/manifestfile.py):
    package(path) takes every .py below path, module(path) one file, both relative to the
    manifest's folder (base_path); include() of the port's manifest adds no file of ours."""
    found = []

    def package(path, files=None, base_path=".", opt=None):
        top = os.path.join(REPO, base_path, path)
        for d, _dirs, names in os.walk(top):
            for n in names:
                rel = os.path.relpath(os.path.join(d, n), top)
                if n.endswith(".py") and (files is None or rel in files):
                    found.append(os.path.relpath(os.path.join(d, n), REPO))

    def module(path, base_path=".", opt=None):
        found.append(os.path.normpath(os.path.join(base_path, path)))

    def include(path, **kw):
        assert path.startswith("$(PORT_DIR)") or path.startswith("$(MPY_DIR)"), path

    with open(os.path.join(REPO, "manifest.py")) as f:
        code = f.read()
    exec(code, {"package": package, "module": module, "include": include,
                "require": lambda *a, **k: None, "metadata": lambda **k: None})
    return sorted(found)


def test_manifest_and_package_json_list_exactly_the_compiled_modules():
    compiled = sorted(os.path.relpath(p, REPO) for p in mpy.sources())
    assert _manifest_modules() == compiled
    with open(os.path.join(REPO, "package.json")) as f:
        pj = json.load(f)
    assert sorted(dst for dst, _ in pj["urls"]) == compiled, \
        "package.json is stale: python tools/deploy.py --package-json"
    assert all(src == dst for dst, src in pj["urls"])  # fetched next to package.json
    assert pj["deps"] == [] and pj["version"]
    assert pj == deploy.package_json(pj)


@pytest.mark.skipif(not os.path.exists(os.path.join(REPO, "tools", "vboard.py")),
                    reason="no virtual board (tools/vboard.py)")
def test_deploy_to_a_virtual_board_pty_boots_the_watch(tmp_path):
    """make flash PORT=/dev/pts/N against tools/vboard.py with the board world: the build, the
    config and main.py land in its flash folder, the reset starts the watch, and its login and a
    report reach the world's server (wire.jsonl in the virtual board's run folder)."""
    with open(os.path.join(REPO, "host_sim", "scenarios", "school_day.json")) as f:
        (tmp_path / "watch.json").write_text(json.dumps(json.load(f)["config"]))
    env = dict(os.environ, TRYGG_VBOARD_SPEED="30", TRYGG_VBOARD_START="16:45", TRYGG_VBOARD_ECHO="0")
    vb = subprocess.Popen([sys.executable, os.path.join(REPO, "tools", "vboard.py"), "--flash",
                           str(tmp_path / "flash"), "--run-dir", str(tmp_path), "--world",
                           "host_sim.board_world", "--port-file", str(tmp_path / "port"), "--log",
                           str(tmp_path / "serial.log"), "-v"],
                          cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                          stderr=open(tmp_path / "vboard.err", "wb"), start_new_session=True)

    def said():  # what the board printed and what vboard said, for a failure's message
        return "".join((tmp_path / n).read_text(errors="replace")[-3000:] + "\n"
                       for n in ("serial.log", "vboard.err") if (tmp_path / n).exists())

    try:
        port = tmp_path / "port"
        for _ in range(200):
            if port.exists() and port.read_text().strip():
                break
            time.sleep(0.1)
        r = subprocess.run([sys.executable, os.path.join(REPO, "tools", "deploy.py"), "--port",
                            port.read_text().strip(), "--config", str(tmp_path / "watch.json")],
                           cwd=REPO, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + said()
        assert (tmp_path / "flash" / "main.py").exists()
        assert (tmp_path / "flash" / "data" / "config.json").exists()
        assert not list((tmp_path / "flash" / "firmware").glob("*.py"))  # only the build's .mpy
        wire = tmp_path / "wire.jsonl"
        up = []
        for _ in range(200):
            if wire.exists():
                up = [json.loads(x)["data"] for x in wire.read_text().splitlines(True)
                      if x.endswith("\n") and '"dir": "up"' in x]
            if any("*LK" in d for d in up) and any("*UD," in d for d in up):
                break
            time.sleep(0.2)
        assert any(d.startswith("[SG*862000012345674*") and "*UD," in d for d in up), (up, said())
    finally:
        try:
            os.killpg(vb.pid, signal.SIGTERM)  # the virtual board and its MicroPython process
        except ProcessLookupError:
            pass
        try:
            vb.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(vb.pid, signal.SIGKILL)
            vb.wait(10)
