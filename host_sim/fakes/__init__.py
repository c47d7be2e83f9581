"""Fakes of the machine / network / esp32 subset that boards and drivers use.

install() puts them in sys.modules under their real names; only the simulator and tests call
it, so they are on the import path only in simulation. They are small real objects wired to
the emulators by pin number (no MagicMock: a call the board does not make is an error here).
"""
import sys


def install():
    from host_sim.fakes import esp32, machine, network

    sys.modules["machine"] = machine
    sys.modules["network"] = network
    sys.modules["esp32"] = esp32
    return machine
