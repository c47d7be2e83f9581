"""Run the firmware unit tests on the MicroPython interpreter.

micropython-lib's unittest cannot be fetched here, and the tests are plain test_* functions
with assert (the same files pytest runs on CPython), so this runner is small: import each
tests/unit/test_*.py, call its test_* functions in name order, print failures and a summary.

Usage (from the repository root):  MICROPYPATH=.:tests/unit micropython tools/mptest.py [file ...]
"""
import os
import sys


def _files(args):
    if args:
        return args
    names = [n for n in os.listdir("tests/unit") if n.startswith("test_") and n.endswith(".py")]
    names.sort()
    return ["tests/unit/" + n for n in names]


def main(args):
    # firmware events are shown only for a failing test, as pytest captures output
    from firmware import log

    captured = []
    log.set_sink(lambda kind, fields: captured.append((kind, fields)))
    passed = failed = 0
    for path in _files(args):
        modname = path.split("/")[-1][:-3]
        try:
            mod = __import__(modname)
        except Exception as e:
            failed += 1
            print("ERROR importing", path)
            sys.print_exception(e)
            continue
        names = [n for n in dir(mod) if n.startswith("test_")]
        names.sort()
        for n in names:
            fn = getattr(mod, n)
            if not callable(fn):
                continue
            captured.clear()
            try:
                fn()
                passed += 1
            except Exception as e:
                failed += 1
                print("FAILED %s::%s" % (path, n))
                sys.print_exception(e)
                for kind, fields in captured:
                    print("  event:", kind, fields)
    print("micropython: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv[1:]))
