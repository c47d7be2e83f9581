"""Host simulator: runs the unmodified firmware against emulated hardware on virtual time.

Import host_sim.vtime before anything imports asyncio (it must replace MicroPython's C task
queue first, see vtime.py).
"""
