"""The fuzz runner: targets, the corpus of regression cases, the mutation loop. Runs on CPython
(pytest, tools/fuzz.py) and on MicroPython (tools/fuzz.py).

A target (see targets_*.py) is a function run(data) that feeds one input (bytes) to a parser
that meets the outside world and checks its properties: it returns a label for what happened
("accepted", "rejected", ...) and raises on a broken property (Failure) or lets through the
exception the parser should never have raised. Each input also has to finish within SLOW_MS.

Corpus: tests/fuzz/corpus/<target>/<crc32 of the input, 8 hex digits>, the raw input bytes.
Every file there is replayed first and must pass; a file named <hash>.xfail must fail (a bug
that is known and not fixed yet, in a file this suite does not own; .xfail-cpython or
.xfail-micropython: on that interpreter only): once it passes the replay says so, and the
suffix is to be dropped, with the target's `known` entry. A failure found by the mutation run
is shrunk and written there, so it becomes a regression case.
"""
import os
import sys
import time
from binascii import crc32

import support  # noqa: F401  (virtual time before anything imports asyncio)
from firmware import fsutil, log
from mutate import Mutator, Rng, mix

SLOW_MS = 1000
_MP = sys.implementation.name == "micropython"
_HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
CORPUS = _HERE + "/corpus"
_SHRINK_TRIES = 400


class Failure(AssertionError):
    """A property does not hold. key: a short stable name of the property (failures are told
    apart by it); detail: what was seen."""

    def __init__(self, key, detail=""):
        super().__init__("%s: %s" % (key, detail) if detail else key)
        self.key = key


def check(cond, key, detail=""):
    if not cond:
        raise Failure(key, detail)


class Target:
    def __init__(self, name, run, seeds, tokens, seps, max_len, doc, known):
        self.name = name
        self.run = run
        self.seeds = seeds
        self.tokens = tokens
        self.seps = seps
        self.max_len = max_len
        self.doc = doc
        self.known = known  # substrings of failure signatures that are known, unfixed bugs
        self._mutator = None

    @property
    def mutator(self):
        if self._mutator is None:
            self._mutator = Mutator(self.seeds, self.tokens, self.seps, self.max_len)
        return self._mutator

    def input(self, seed, i):
        """The i-th mutated input of a run with this seed (independent of the ones before)."""
        return self.mutator.input(Rng(mix(seed, crc32(self.name.encode()), i)))


REGISTRY = []


def target(name, seeds, tokens=(), seps=(b",",), max_len=4096, known=()):
    """Register run(data) as target `name` (decorator). seeds: valid inputs (they must pass and
    are what the mutations start from); tokens: a dictionary of meaningful byte strings."""

    def deco(fn):
        REGISTRY.append(Target(name, fn, [bytes(s) for s in seeds], tuple(tokens), tuple(seps),
                               max_len, getattr(fn, "__doc__", None), tuple(known)))
        return fn

    return deco


def targets():
    """Every target, in a fixed order (importing the target modules registers them)."""
    if not REGISTRY:
        import targets_at  # noqa: F401
        import targets_proto  # noqa: F401
        import targets_store  # noqa: F401
    return REGISTRY


def get(name):
    for t in targets():
        if t.name == name:
            return t
    raise KeyError("no fuzz target %r (targets: %s)" % (name, ", ".join([t.name for t in targets()])))


# ---- running one input ----------------------------------------------------------------------

EVENTS = []  # the firmware's events during the current input (targets may look at them)


def _sink(kind, fields):
    if len(EVENTS) < 200:
        EVENTS.append((kind, fields))


if _MP:
    def _now():
        return time.ticks_us()

    def _since(t0):
        """ms since t0, as a float (ticks_us wraps after ~18 minutes on the unix port: fine
        for one input)."""
        return time.ticks_diff(time.ticks_us(), t0) / 1000
else:
    def _now():
        return time.perf_counter()

    def _since(t0):
        return (time.perf_counter() - t0) * 1000


class _Hang(BaseException):
    """Raised into a runaway input (not an Exception: the firmware's own `except Exception`
    must not swallow it)."""


def _alarm(seconds):
    """CPython: interrupt an input that runs away (a real hang) after `seconds`; 0 disarms."""
    if _MP:
        return
    import signal

    if not hasattr(signal, "setitimer"):
        return

    def fire(signum, frame):
        raise _Hang("no result after %d s" % seconds)

    if seconds:
        signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)


def _where(e):
    """'file.py:function' of the innermost frame of e, or ''."""
    if _MP:
        import io

        s = io.StringIO()
        sys.print_exception(e, s)
        lines = [x for x in s.getvalue().split("\n") if x.strip().startswith("File ")]
    else:
        import traceback

        lines = [x for x in traceback.format_exception(type(e), e, e.__traceback__)
                 if x.strip().startswith("File ")]
    if not lines:
        return ""
    # the innermost frame in the repository's code (a json or struct frame says little)
    ours = [x for x in lines if "firmware/" in x or "host_sim/" in x or "tests/" in x]
    last = (ours or lines)[-1].strip().split("\n")[0]
    path = last.split('"')[1] if '"' in last else last
    func = last.rsplit(" in ", 1)[-1]
    return "%s:%s" % (path.rsplit("/", 1)[-1], func)


def run_one(t, data, retried=False):
    """(label, signature, message, ms): signature None if every property held."""
    del EVENTS[:]
    prev = log._sink
    log.set_sink(_sink)
    t0 = _now()
    label = sig = msg = None
    try:
        _alarm(10)
        try:
            label = t.run(data)
        finally:
            _alarm(0)
    except Failure as e:
        sig = e.key
        msg = str(e)
    except _Hang as e:
        sig = "hang"
        msg = str(e)
    except Exception as e:  # the parser raised what it must not: the failure
        sig = "%s in %s" % (type(e).__name__, _where(e))
        msg = "%s: %s" % (type(e).__name__, e)
    finally:
        log.set_sink(prev)
    ms = _since(t0)
    if sig is None and ms > SLOW_MS:
        if not retried:  # the machine may have been busy: slow twice in a row to count
            return run_one(t, data, True)
        sig = "slow"
        msg = "took %d ms (limit %d ms)" % (int(ms), SLOW_MS)
    return label, sig, msg, ms


def is_known(t, sig, msg):
    for k in t.known:
        if k in sig or k in (msg or ""):
            return True
    return False


# ---- corpus -----------------------------------------------------------------------------------


def _xfail(name):
    """Is a corpus file expected to fail here? '<hash>.xfail' on both interpreters,
    '<hash>.xfail-cpython' / '<hash>.xfail-micropython' on that one only (it passes on the other)."""
    if name.endswith(".xfail"):
        return True
    return name.endswith(".xfail-" + sys.implementation.name)


def corpus_files(name):
    """[(path, expected_to_fail)] of a target's corpus, sorted."""
    d = CORPUS + "/" + name
    try:
        names = os.listdir(d)
    except OSError:
        return []
    names.sort()
    return [(d + "/" + n, _xfail(n)) for n in names if not n.startswith(".")]


def save(name, data):
    """Write a failing input to the corpus; returns its path."""
    d = CORPUS + "/" + name
    fsutil.makedirs(d)
    path = "%s/%08x" % (d, crc32(data) & 0xFFFFFFFF)
    if not [n for n in os.listdir(d) if n.split(".")[0] == path[-8:]]:
        f = open(path, "wb")
        try:
            f.write(data)
        finally:
            f.close()
    return path


def shrink(t, data, sig):
    """A shorter input that fails with the same signature (greedy chunk deletion, bounded)."""
    tries = 0
    size = len(data) // 2
    while size >= 1 and tries < _SHRINK_TRIES:
        i = 0
        while i < len(data) and tries < _SHRINK_TRIES:
            cand = data[:i] + data[i + size:]
            tries += 1
            if run_one(t, cand)[1] == sig:
                data = cand
            else:
                i += size
        size //= 2
    return data


# ---- runs -------------------------------------------------------------------------------------


def _show(data, most=160):
    r = repr(data)
    return r if len(r) <= most else r[:most] + "...(%d bytes)" % len(data)


class Report:
    """What a run of one target found."""

    def __init__(self, name):
        self.name = name
        self.inputs = 0
        self.failures = 0
        self.known = 0
        self.ms = 0
        self.labels = {}
        self.found = []  # (signature, message, input, path)

    def count(self, label):
        self.labels[label] = self.labels.get(label, 0) + 1

    def line(self):
        labels = ", ".join(["%s %d" % (k, self.labels[k]) for k in sorted(self.labels)])
        known = " (+%d known)" % self.known if self.known else ""
        return "%-14s %7d inputs %4d failures%s %7.1f s  [%s]" % (
            self.name, self.inputs, self.failures, known, self.ms / 1000, labels)


def replay(t, out=print):
    """The seeds and the corpus of target t. Returns a Report (failures: broken cases)."""
    rep = Report(t.name)
    cases = [("seed %d" % i, s, False) for i, s in enumerate(t.seeds)]
    for path, xfail in corpus_files(t.name):
        cases.append((path, fsutil.read_bytes(path), xfail))
    for where, data, xfail in cases:
        label, sig, msg, ms = run_one(t, data)
        rep.inputs += 1
        rep.ms += ms
        rep.count(label if sig is None else "failed")
        if xfail:
            if sig is None:
                rep.failures += 1
                out("XPASS %s %s: passes now; rename it without .xfail (and drop its entry in "
                    "the target's known list)" % (t.name, where))
            elif not is_known(t, sig, msg):
                rep.failures += 1
                out("FAIL %s %s: expected to fail with a known bug, fails with another: %s" % (
                    t.name, where, msg))
            else:
                rep.known += 1
        elif sig is not None:
            rep.failures += 1
            rep.found.append((sig, msg, data, where))
            out("FAIL %s %s: %s\n  input %s" % (t.name, where, msg, _show(data)))
    return rep


def fuzz(t, n, seed, save_found=True, out=print):
    """n mutated inputs of target t. Returns a Report; every new kind of failure is shrunk and
    saved to the corpus (unless save_found is False)."""
    rep = Report(t.name)
    seen = {}
    for i in range(n):
        data = t.input(seed, i)
        label, sig, msg, ms = run_one(t, data)
        rep.inputs += 1
        rep.ms += ms
        if sig is None:
            rep.count(label)
            continue
        rep.count("failed")
        if is_known(t, sig, msg):
            rep.known += 1
            continue
        rep.failures += 1
        if sig in seen:
            seen[sig] += 1
            continue
        seen[sig] = 1
        small = shrink(t, data, sig) if sig != "slow" else data
        path = save(t.name, small) if save_found else ""
        rep.found.append((sig, msg, small, path))
        out("FAIL %s input %d (seed %d): [%s] %s\n  input  %s\n  shrunk %s\n  saved  %s" % (
            t.name, i, seed, sig, msg, _show(data), _show(small), path or "(not saved)"))
    for sig in sorted(seen):
        out("  %s: %d inputs failed with [%s]" % (t.name, seen[sig], sig))
    return rep


def digest(t, n, seed):
    """CRC-32 of the first n inputs: equal on both interpreters, or the inputs differ."""
    c = 0
    for i in range(n):
        c = crc32(t.input(seed, i), c)
    return c & 0xFFFFFFFF


def tmpdir(name):
    """A scratch directory for file targets, emptied by the caller per input."""
    base = os.getenv("TRYGG_TMP") or "out/tmp"
    path = "%s/fuzz-%s-%d" % (base, name, os.getpid() if hasattr(os, "getpid") else 0)
    fsutil.rmtree(path)
    fsutil.makedirs(path)
    return path


def fresh(path):
    """Empty directory path (created if missing)."""
    fsutil.rmtree(path)
    fsutil.makedirs(path)
    return path


def write(path, data):
    f = open(path, "wb")
    try:
        f.write(data)
    finally:
        f.close()
