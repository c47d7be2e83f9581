"""python -m host_sim run SCENARIO OUT_DIR [--plot] [--server HOST:PORT]   (also: micropython ...)
   python -m host_sim plot OUT_DIR                    the pictures and OUT_DIR/index.html again
   python -m host_sim check SCENARIO...               check scenario files (docs/scenarios.md)"""
import sys

USAGE = ("usage: python -m host_sim run SCENARIO.json OUT_DIR [--plot] [--server HOST:PORT]\n"
         "       python -m host_sim plot OUT_DIR\n"
         "       python -m host_sim check SCENARIO.json...")


def main(argv):
    server = None
    if len(argv) >= 5 and argv[0] == "run" and argv[-2] == "--server":
        server, argv = argv[-1], argv[:-2]  # a real server (host_sim/realserver.py, CPython)
    if len(argv) in (3, 4) and argv[0] == "run" and (len(argv) == 3 or argv[3] == "--plot"):
        from host_sim import scenario

        try:
            scenario.load(argv[1], check=True)  # a bad file fails here, before anything runs
        except ValueError as e:
            print(str(e), file=sys.stderr)
            return 2
        from host_sim import runner

        s = runner.run_file(argv[1], argv[2], draw=len(argv) == 4, server=server)
        return 0 if s["server_errors"] == 0 else 1
    if len(argv) == 2 and argv[0] == "plot":
        from host_sim import plot

        print(plot.draw(argv[1]))
        return 0
    if len(argv) >= 2 and argv[0] == "check":
        from host_sim import scenario

        if sys.implementation.name != "cpython":
            print("check: on CPython (jsonschema): .venv/bin/python -m host_sim check ...", file=sys.stderr)
            return 2

        bad = 0
        for path in argv[1:]:
            try:
                scenario.load(path, check=True)
                print("%s: ok" % path)
            except (ValueError, OSError) as e:
                print(str(e), file=sys.stderr)
                bad += 1
        return 1 if bad else 0
    print(USAGE)
    return 2


sys.exit(main(sys.argv[1:]))
