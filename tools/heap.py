"""RAM the firmware needs on MicroPython: heap held after importing every firmware module
and building the services' objects the way the app does, with a full whitelist (50 contacts)
and 20 reports queued (run by tools/bench.py).

    MICROPYPATH=.frozen:. micropython tools/heap.py

The simulator is imported first (virtual time, fakes), measured, and subtracted, so the figure
is the firmware's own. Code objects count too: on the board .mpy bytecode lives in RAM unless
frozen into the image.
"""
import gc

from host_sim import vtime  # noqa: F401  (before asyncio)
from host_sim import fakes

machine = fakes.install()
machine.WIRING.attach_uart(26, 27, type("Peer", (), {"on_host_write": lambda self, d: None})())
machine.WIRING.adc_source[35] = lambda: 1900000
gc.collect()
base = gc.mem_alloc()

import boards.lilygo_t_a7670 as board_module  # noqa: E402
from firmware import (app, commands, config, contacts, control, outbox, positioning,  # noqa: E402,F401
                      reporter, school, schoolmode, smscodec, sos, telephony, uplink, watchproto)

gc.collect()
after_import = gc.mem_alloc()


async def build():
    b = board_module.build(machine)
    b.modem.start()
    root = "out/heap"
    from firmware import fsutil

    fsutil.rmtree(root)
    fsutil.makedirs(root)
    cfg = config.Config.load(root)
    # the largest whitelist the config allows: 50 contacts with names of 32 characters
    cfg.update({"country_code": "47", "contacts": [
        {"name": "Contact number %02d with a name x" % i, "number": "+47911%05d" % i,
         "roles": ["guardian", "sos"] if i < 3 else ["friend"]} for i in range(50)]})
    ob = outbox.Outbox(root)
    al = outbox.Outbox(root, 64, 16, "alarms")
    book = contacts.Contacts(cfg["contacts"], cfg["country_code"])
    pos = positioning.Positioning(b.modem, root)
    up = uplink.Uplink(b.modem, cfg, ob, "862000012345674", al)
    tel = telephony.Telephony(b.modem, lambda: book, b.ringer, root)
    rep = reporter.Reporter(b.modem, cfg, ob, pos, up, b.battery, al)
    s = sos.Sos(b.modem, cfg, lambda: book, None, None, rep.position_now, b.battery.percent)
    for i in range(20):  # a queue of reports waiting for the server
        ob.put("UD,140926,060000,A,59.923600,N,10.759200,E,0.00,0,0,0,80,94,0,0,00000000,"
               "1,0,242,1,2010,26383617,-88,0,8")
    gc.collect()
    return (b, cfg, ob, al, book, pos, up, tel, rep, s), gc.mem_alloc()


objs, after_build = vtime.run(build())
print("heap_import_bytes", after_import - base)
print("heap_services_bytes", after_build - after_import)
