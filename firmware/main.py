"""Device entry point. The board's main.py (written by tools/deploy.py) is:

    import boards.lilygo_t_a7670 as board
    import firmware.main
    firmware.main.run(board)

Runs the watch forever; anything unexpected is printed, logged and answered with a reset
(STYLE.md: main.py catches everything, logs it, resets). The simulator starts the watch with
start() inside its own event loop: the same board build, idle hook and App as on the device.
"""
import asyncio

from firmware import idle, log
from firmware.app import App
from firmware.compat import print_exception

APP = None  # the running App (the simulator and the console look at it)


def run(board_module, root="/data"):
    asyncio.run(start(board_module, root))


async def start(board_module, root="/data"):
    """Build the board on `machine`, install its idle hook (the light sleep), run the App."""
    global APP
    import machine

    from firmware import fsutil

    fsutil.makedirs(root)
    board = board_module.build(machine)
    idle.install(board.idle)
    APP = App(board, root)
    try:
        await APP.run()
    except Exception as e:  # the last line of defence on the device
        print_exception(e)
        log.event("fatal", err=repr(e))
        machine.reset()
