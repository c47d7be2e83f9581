"""python -m host_sim run SCENARIO OUT_DIR   (also: micropython -m host_sim ...)"""
import sys


def main(argv):
    if len(argv) != 3 or argv[0] != "run":
        print("usage: python -m host_sim run SCENARIO.json OUT_DIR")
        return 2
    from host_sim import runner

    s = runner.run_file(argv[1], argv[2])
    return 0 if s["server_errors"] == 0 else 1


sys.exit(main(sys.argv[1:]))
