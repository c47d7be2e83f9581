"""Every target's seeds and corpus (tests/fuzz/corpus/<target>/) replayed on CPython: each
regression case passes, each .xfail case still fails with its known bug. (MicroPython replays
them in `micropython tools/fuzz.py`, before its mutation run.)"""
import pytest

import fuzzer

NAMES = [t.name for t in fuzzer.targets()]


@pytest.mark.parametrize("name", NAMES)
def test_corpus_replays(name):
    rep = fuzzer.replay(fuzzer.get(name))
    assert rep.failures == 0, "%s: %d corpus cases fail (see the output above)" % (name, rep.failures)


def test_every_target_is_documented():
    for t in fuzzer.targets():
        assert t.doc and len(t.doc.strip()) > 40, t.name
        assert t.seeds, t.name
