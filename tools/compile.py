"""Compile every firmware and board module with mpy-cross (the device runs .mpy files).

--check: compile to out/mpy and fail on the first module mpy-cross rejects; prints the total
size, which `make bench` reports too. Used by `make test`, `make bench` and tools/deploy.py.
"""
import os
import subprocess
import sys

ROOTS = ("firmware", "boards")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
MPY_CROSS = os.path.join(os.path.dirname(sys.executable), "mpy-cross")


def sources():
    out = []
    for root in ROOTS:
        for d, _dirs, files in os.walk(os.path.join(REPO, root)):
            out += [os.path.join(d, f) for f in sorted(files) if f.endswith(".py")]
    return sorted(out)


def compile_all(dest=os.path.join(REPO, "out", "mpy")):
    """Compile to dest (mirroring the tree); returns [(relpath, mpy_size)]. Raises on error."""
    sizes = []
    for src in sources():
        rel = os.path.relpath(src, REPO)
        target = os.path.join(dest, rel[:-3] + ".mpy")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        r = subprocess.run([MPY_CROSS, "-march=xtensawin", "-o", target, src], capture_output=True, text=True)
        if r.returncode:
            raise SystemExit("mpy-cross rejected %s:\n%s" % (rel, r.stderr or r.stdout))
        sizes.append((rel, os.path.getsize(target)))
    return sizes


def main():
    sizes = compile_all()
    total = sum(s for _, s in sizes)
    print("mpy-cross: %d modules compiled, %d bytes of .mpy" % (len(sizes), total))


if __name__ == "__main__":
    main()
