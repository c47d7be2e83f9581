"""Device entry point. The board's main.py (written by tools/deploy.py) is:

    import boards.lilygo_t_a7670 as board
    import firmware.main
    firmware.main.run(board)

Runs the watch forever; anything unexpected is printed, logged and answered with a reset
(STYLE.md: main.py catches everything, logs it, resets).
"""
import asyncio

from firmware import idle, log
from firmware.app import App
from firmware.compat import print_exception


def run(board_module, root="/data"):
    import machine

    from firmware import fsutil

    fsutil.makedirs(root)
    board = board_module.build(machine)
    idle.install(board.idle)
    try:
        asyncio.run(App(board, root).run())
    except Exception as e:  # the last line of defence on the device
        print_exception(e)
        log.event("fatal", err=repr(e))
        machine.reset()
