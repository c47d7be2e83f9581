"""Fuzz every parser that meets the outside world: the seeded mutation fuzzer (tests/fuzz/).

Runs on CPython and on MicroPython, with the same inputs for the same seed:

    python tools/fuzz.py [--target NAME[,NAME...]] [--n 100000] [--seed S]
    MICROPYPATH=.frozen:.:tests/unit micropython tools/fuzz.py --n 300

For each target: its seeds and its corpus (tests/fuzz/corpus/<target>/) are replayed, then n
mutated inputs are run. Prints per target the inputs tried, the failures and the time; exits 1
on any failure. A failure is shrunk and written to tests/fuzz/corpus/<target>/<crc32>, where
it stays as a regression case (docs/fuzzing.md).

Options:
  --target NAMES   comma-separated target names (default: all); --list shows them
  --n N            mutated inputs per target (default 100000); --short is --n 300
  --seed S         the run's seed (default 1): input i of a target depends on (S, target, i) only
  --replay         the seeds and the corpus only, no mutation
  --no-save        do not write failures to the corpus
  --digest         print a CRC of each target's first n inputs instead of running them (equal
                   on CPython and MicroPython)
  --show I         print input I of each selected target (repr) and run it
  --file PATH      run one file's bytes as input of the (single) selected target
"""
import sys


def _root():
    """The repository: the parent of this file's folder."""
    parts = sys.argv[0].replace("\\", "/").split("/")[:-2]
    return "/".join(parts) or "."


_ROOT = _root()
_PRE = "" if _ROOT == "." else _ROOT + "/"
for _p in (_ROOT, _PRE + "tests/unit", _PRE + "tests/fuzz"):
    if _p not in sys.path:
        sys.path.append(_p)

import support  # noqa: E402,F401  (virtual time before anything imports asyncio)
import fuzzer  # noqa: E402

_USAGE = ("usage: fuzz.py [--target NAMES] [--n N | --short] [--seed S] [--replay] [--no-save] "
          "[--digest] [--show I] [--file PATH] [--list]")


def _args(argv):
    o = {"target": None, "n": 100000, "seed": 1, "replay": False, "save": True, "digest": False,
         "show": None, "file": None, "list": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("--target", "--n", "--seed", "--show", "--file"):
            if i + 1 >= len(argv):
                raise ValueError(a + " needs a value")
            v = argv[i + 1]
            o[a[2:]] = v if a in ("--target", "--file") else int(v)
            i += 2
            continue
        if a == "--short":
            o["n"] = 300
        elif a == "--replay":
            o["replay"] = True
        elif a == "--no-save":
            o["save"] = False
        elif a == "--digest":
            o["digest"] = True
        elif a == "--list":
            o["list"] = True
        elif a in ("-h", "--help"):
            raise ValueError("")
        else:
            raise ValueError("unknown argument " + a)
        i += 1
    return o


def main(argv):
    try:
        o = _args(argv)
    except ValueError as e:
        print((str(e) + "\n" if str(e) else "") + _USAGE)
        return 2
    every = fuzzer.targets()
    if o["list"]:
        for t in every:
            doc = (t.doc or "").strip().split("\n")[0]
            print("%-14s %s" % (t.name, doc))
        return 0
    chosen = every if not o["target"] else [fuzzer.get(n) for n in o["target"].split(",")]
    if o["digest"]:
        for t in chosen:
            print("%-14s %08x" % (t.name, fuzzer.digest(t, o["n"], o["seed"])))
        return 0
    if o["file"] is not None or o["show"] is not None:
        failed = 0
        for t in chosen:
            if o["file"] is not None:
                data = fuzzer.fsutil.read_bytes(o["file"])
            else:
                data = t.input(o["seed"], o["show"])
            print("%s input %r" % (t.name, data))
            label, sig, msg, ms = fuzzer.run_one(t, data)
            print("  -> %s (%d ms)" % (label if sig is None else "FAIL " + msg, ms))
            failed += sig is not None
        return 1 if failed else 0
    total = 0
    ms = 0
    n = 0 if o["replay"] else o["n"]
    print("fuzz: %s, seed %d, %d inputs per target%s" % (
        sys.implementation.name, o["seed"], n, "" if o["save"] else ", not saving"))
    for t in chosen:
        rep = fuzzer.replay(t)
        if not o["replay"]:
            more = fuzzer.fuzz(t, o["n"], o["seed"], o["save"])
            rep.inputs += more.inputs
            rep.failures += more.failures
            rep.known += more.known
            rep.ms += more.ms
            for k in more.labels:
                rep.labels[k] = rep.labels.get(k, 0) + more.labels[k]
        print(rep.line())
        total += rep.failures
        ms += rep.ms
    print("fuzz: %d failures in %.1f s" % (total, ms / 1000))
    return 1 if total else 0


sys.exit(main(sys.argv[1:]))
