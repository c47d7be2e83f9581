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
