"""The app's last line of defence: a service that raises something unforeseen is logged and
restarted, instead of its task dying while the rest of the watch carries on without it."""
import support
from firmware.app import App
from firmware.compat import sleep_ms


def test_a_crashing_service_is_restarted():
    runs = []

    async def flaky():
        runs.append(support.VT.ms)
        if len(runs) == 1:
            raise IndexError("a reply nobody foresaw")
        await sleep_ms(10 ** 8)  # ~28 h: within the 2**29 ms a tick difference can span

    async def main():
        import asyncio

        app = App(None, "")
        t = asyncio.create_task(app._keep("flaky", flaky))
        await sleep_ms(60000)
        t.cancel()
        await sleep_ms(1)

    with support.Events() as events:
        support.run(main())
    assert len(runs) == 2  # ran again after the crash
    errors = [f for k, f in events if k == "error" and f.get("where") == "flaky"]
    assert errors and "IndexError" in errors[0]["err"]


def test_router_hands_each_event_to_its_subscribers_in_order():
    from firmware.drivers import events as ev

    class Modem:
        def __init__(self):
            self.events = ev.EventQueue(8)

    class Board:
        def __init__(self):
            self.modem = Modem()

    got = []

    def broken(a, b):
        raise KeyError("a subscriber's bug")

    async def main():
        import asyncio

        app = App(Board(), "")
        q = app.board.modem.events
        q.start()
        app.subscribe(ev.RING, lambda a, b: got.append(("tel", a, b)))
        app.subscribe(ev.RING, broken)  # must not keep the others from their events
        app.subscribe(ev.RING, lambda a, b: got.append(("sos", a, b)))
        app.subscribe(ev.DATA, lambda a, b: got.append(("up", a, b)))
        t = asyncio.create_task(app._route())
        q.put(ev.DATA, 0)
        q.put(ev.RING, "+4791111111", 145)
        q.put(ev.DTMF, "1")  # nobody subscribed: dropped quietly
        await sleep_ms(1)
        q.put(ev.DATA, 0)
        await sleep_ms(1)
        t.cancel()
        await sleep_ms(1)

    with support.Events() as events:
        support.run(main())
    assert got == [("up", 0, None), ("tel", "+4791111111", 145), ("sos", "+4791111111", 145), ("up", 0, None)]
    errors = [f for k, f in events if k == "error" and f.get("where") == "router"]
    assert len(errors) == 1 and errors[0]["event"] == "ring" and "KeyError" in errors[0]["err"]
