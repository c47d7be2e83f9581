"""The diagnostic console (firmware/console.py, docs/console.md): each command's lines on a watch
running on the emulated modem, secrets masked, garbage answered and survived, `sos` starting an
SOS as a long press does, selftest with a part that fails; and on small fakes what the emulator
cannot show (a module without GNSS, a stuck button, a battery out of range, a command that
raises, a part that hangs)."""
import support
import asyncio

import boards.lilygo_t_a7670 as board_module
import firmware.button  # noqa: F401  (see _ = asyncio.Lock below)
import firmware.drivers.battery  # noqa: F401
import firmware.idle  # noqa: F401
from firmware import clock, console, log
from firmware.app import App
from firmware.compat import sleep_ms
from firmware.config import Config
from firmware.drivers.at import ATError
from host_sim import world as W
from host_sim.fakes import machine as fm
from host_sim.modem_a76xx import A76xxEmulator
from host_sim.traccar import WatchServer
from test_modem_emulator import ICCID, IMEI, scenario

# What a watch's boot imports lazily (the modules above, asyncio's Lock) is loaded here, before
# the heavy tests: modules loaded amid their garbage would fragment MicroPython's heap, which
# the whole unit run (one process, the unix port's default heap) needs for later test files.
_ = asyncio.Lock
VT = support.VT
PINS = board_module.PINS
HOST = "tracker.trygg.test"
MAMMA = "+4791111111"


class FakeIn:
    """The USB serial's input: bytes fed by the test, read one at a time as asyncio's stream
    gives them; b"" once closed."""

    def __init__(self):
        self.data = b""
        self.closed = False
        self.ev = asyncio.Event()

    def feed(self, data):
        self.data += data
        self.ev.set()

    def close(self):
        self.closed = True
        self.ev.set()

    async def read(self, n):
        while not self.data:
            if self.closed:
                return b""
            self.ev.clear()
            await self.ev.wait()
        d, self.data = self.data[:n], self.data[n:]
        return d


class FakeOut:
    def __init__(self):
        self.text = ""

    def write(self, s):
        self.text += s

    def lines(self):
        return self.text.split("\n")[:-1]


def _ended(line):
    return line == "ok" or line.startswith("error: ")


async def ask(inp, out, data, wait_ms=180000):
    """Send data (a line, or raw bytes) and return the output lines up to and including the
    `ok` / `error:` that ends the answer (one per line sent: `answers`)."""
    start = len(out.lines())
    inp.feed(data if isinstance(data, bytes) else (data + "\r\n").encode())
    waited = 0
    while waited < wait_ms:
        got = out.lines()[start:]
        if got and _ended(got[-1]):
            return got
        await sleep_ms(100)
        waited += 100
    raise AssertionError("no answer to %r: %r" % (data, out.lines()[start:]))


def pairs(line, head):
    """'head k=v k=v' -> {k: v}; fails unless the line starts with head."""
    words = line.split(" ")
    assert words[0] == head, line
    out = {}
    for w in words[1:]:
        k, sep, v = w.partition("=")
        assert sep and k and v, (w, line)
        out[k] = v
    return out


class Watch:
    """A watch on the emulated A7670 (the board module's own build() on the fake machine), with
    a Traccar server, an SOS contact, a PIN, and the console on fake streams."""

    async def start(self, name, wait=True):
        fm.WIRING.reset()
        self.world = W.World(scenario(), VT)
        self.server = WatchServer(devices=set([IMEI]), now_ms=clock.ticks_ms, after=VT.after)
        self.world.add_server(HOST, "192.0.2.10", 5093, self.server)
        self.emu = A76xxEmulator(VT, self.world, IMEI, ICCID)
        w = fm.WIRING
        w.attach_uart(PINS["modem_tx"], PINS["modem_rx"], self.emu)
        self.emu.attach_pins(pwrkey=w.pin(PINS["pwrkey"]), dtr=w.pin(PINS["dtr"]), ri=w.pin(PINS["ri"]))
        w.adc_source[PINS["battery_adc"]] = lambda: 3950 * 1000 // 2  # 3.95 V behind the x2 divider
        self.root = support.tmpdir(name)
        mamma = {"name": "Mamma", "number": MAMMA, "roles": ["guardian", "sos"]}
        Config(self.root, {"server_host": HOST, "pin": "4711", "wearer": "Emma", "contacts": [mamma]}).save()
        # a board without WLAN, whatever an earlier test left in sys.modules (the fakes install a
        # `network` for the simulator): the WLAN part of selftest is tested on a fake below
        import sys

        net = sys.modules.pop("network", None)
        try:
            self.board = board_module.build(fm)
        finally:
            if net is not None:
                sys.modules["network"] = net
        self.inp = FakeIn()
        self.out = FakeOut()
        self.app = App(self.board, self.root, (self.inp, self.out))
        self.task = asyncio.create_task(self.app.run())
        if not wait:
            await sleep_ms(1)
            return
        for _ in range(300):  # booted, registered, identified and connected to the server
            up = self.app.uplink
            if up is not None and up.connected and self.app.reporter.progress is not None:
                return
            await sleep_ms(1000)
        raise AssertionError("the watch did not come up")

    async def ask(self, line, wait_ms=180000):
        return await ask(self.inp, self.out, line, wait_ms)

    async def stop(self):
        for t in self.app.tasks + [self.task]:
            t.cancel()
        for _ in range(5):
            await sleep_ms(1)


def _release():
    """Drop the finished watch (the fake pins and UART, the world's events) and give MicroPython's
    heap back whole: the fresh wiring is made again after the collection, low in the heap, not
    above the dead watch's garbage where it would split the free space for later test files."""
    import gc

    for _ in range(2):
        fm.WIRING.reset()
        VT.reset()
        gc.collect()


def test_commands_on_a_running_watch():
    got = {}

    async def main():
        w = Watch()
        await w.start("console1")
        try:
            got["banner"] = w.out.lines()[0]
            got["help"] = await w.ask("help")
            got["status"] = await w.ask("status")
            got["fix"] = await w.ask("fix")
            got["modem"] = await w.ask("modem")
            got["outbox"] = await w.ask("outbox")
            got["config"] = await w.ask("config")
            got["log"] = await w.ask("log")
            got["unknown"] = await w.ask("reboot now")
            got["args"] = await w.ask("status please")
            n = len(w.out.lines())
            w.inp.feed(b"\r\n  \r\n")  # empty lines: no command, no answer
            await sleep_ms(500)
            got["empty"] = w.out.lines()[n:]
            got["binary"] = await w.ask(b"sta\x00\xfftus\r\n")
            got["long"] = await w.ask("x" * 500)
            got["utf8"] = await w.ask("hj\xe6lp")
            got["after"] = await w.ask("STATUS")  # still reading, and commands are case-blind
            got["typed"] = await w.ask(b"stx\x08atus\tignored\n")  # a backspace; a tab splits words
            got["console"] = w.app.console
            got["all"] = w.out.lines()
        finally:
            await w.stop()

    with support.Events() as events:
        support.run(main())
    _release()
    assert got["banner"] == console.BANNER == "trygg console: type help"
    h = got["help"]
    assert h[-1] == "ok"
    assert [line.split()[0] for line in h[:-1]] == ["help", "status", "fix", "modem", "outbox", "config",
                                                    "sos", "selftest", "log"]
    s = got["status"]
    assert len(s) == 2 and s[1] == "ok"
    st = pairs(s[0], "status")
    for k in ("device", "board", "uptime_s", "battery_pct", "battery_mv", "modem", "registered", "server",
              "outbox", "alarms", "school", "zones", "sos"):
        assert k in st, k
    assert st["device"] == IMEI and st["board"] == "lilygo_t_a7670" and st["modem"] == "up"
    assert st["registered"] == "yes" and st["server"] == "connected" and st["school"] == "off"
    assert st["battery_mv"] == "3950" and st["battery_pct"] == "72" and st["zones"] == "0"
    assert st["sos"] == "idle" and int(st["outbox"]) >= 0 and st["alarms"] == "0"
    assert 20 <= int(st["uptime_s"]) <= 400
    f = got["fix"]
    assert len(f) == 3 and f[2] == "ok"
    fx = pairs(f[0], "fix")
    assert sorted(fx) == ["acc_m", "age_s", "lat", "lon", "source", "valid"]
    assert fx["source"] in ("gnss", "place", "last", "none")
    if fx["source"] != "none":  # the yard of the scenario, under open sky
        assert fx["lat"].startswith("59.91") and fx["lon"].startswith("10.76") and int(fx["age_s"]) >= 0
    assert sorted(pairs(f[1], "gnss_fix")) == ["acc_m", "age_s", "lat", "lon", "sats"]
    m = got["modem"]
    assert len(m) == 2 and m[1] == "ok"
    mo = pairs(m[0], "modem")
    assert mo["model"] == "A7670E-FASE" and mo["imei"] == IMEI and mo["reg"] == "home"
    assert -113 <= int(mo["rssi"]) <= -51 and mo["cell"] == "242-1-2010-26383618" and mo["sim"] == "READY"
    o = got["outbox"]
    assert len(o) == 2 and o[1] == "ok"
    ob = pairs(o[0], "outbox")
    assert int(ob["next_seq"]) == int(ob["acked"]) + int(ob["queued"]) + 1 and ob["server"] == "connected"
    c = got["config"]
    assert c[-1] == "ok" and all(line.startswith("config ") for line in c[:-1])
    keys = [line[7:].split("=", 1)[0] for line in c[:-1]]
    assert keys == sorted(keys) and "server_host" in keys and "contacts" in keys
    assert "config pin=***" in c and not [line for line in c if "4711" in line]  # the PIN never shows
    assert 'config server_host="tracker.trygg.test"' in c and "config server_port=5093" in c
    assert 'config wearer="Emma"' in c and "config sos_sms=true" in c
    no_history = "error: no log history: firmware/log.py prints each event as it happens and keeps none"
    assert got["log"] == [no_history] or got["log"][-1] == "ok"
    assert got["unknown"] == ["error: unknown command reboot"]
    assert got["args"] == ["error: status takes no arguments"]
    assert got["empty"] == []
    assert got["binary"] == ["error: binary input (byte 0x00)"]
    assert got["long"] == ["error: line too long (more than 96 bytes)"]
    assert got["utf8"] == ["error: binary input (byte 0xc3)"]
    assert got["after"][-1] == "ok" and got["after"][0].startswith("status device=")
    assert got["typed"] == ["error: status takes no arguments"]  # 'status ignored'
    assert got["console"].garbage == 3 and got["console"].commands == 11
    # the console printed nothing it was not asked for: the banner, then only the answers
    answers = [v for k, v in got.items() if k not in ("banner", "console", "all")]
    assert len(got["all"]) == 1 + sum(len(a) for a in answers)
    assert not [f for k, f in events if k == "error" and f.get("where") == "console"]


def test_sos_command_starts_an_sos_as_a_long_press():
    got = {}

    async def main():
        w = Watch()
        await w.start("console2")
        try:
            got["sos"] = await w.ask("sos")
            await sleep_ms(2000)
            got["status"] = await w.ask("status")
            got["again"] = await w.ask("sos")
            got["ringer"] = fm.WIRING.pin(PINS["vibration"]).level
        finally:
            await w.stop()

    with support.Events() as events:
        support.run(main())
    _release()
    assert got["sos"] == ["sos started", "ok"]
    assert got["again"] == ["sos already active", "ok"]
    kinds = [k for k, f in events]
    presses = [f for k, f in events if k == "button"]
    assert presses[0] == {"press": "long", "via": "console"}
    assert "sos" in kinds and "sos_alarm_queued" in kinds  # the SOS service started: AL, SMS, calls
    assert [f for k, f in events if k == "sos"][0]["contacts"] == 1
    assert pairs(got["status"][0], "status")["sos"] == "active"


def test_the_console_answers_while_the_modem_boots_and_an_early_sos_waits_for_it():
    got = {}

    async def main():
        w = Watch()
        await w.start("console8", wait=False)
        try:
            got["status"] = await w.ask("status")
            got["modem"] = await w.ask("modem")
            got["sos"] = await w.ask("sos")
            for _ in range(120):
                if w.app.sos is not None and w.app.sos.s.started is not None:
                    break
                await sleep_ms(1000)
            got["started"] = w.app.sos is not None and w.app.sos.s.started is not None
        finally:
            await w.stop()

    with support.Events() as events:
        support.run(main())
    _release()
    st = pairs(got["status"][0], "status")
    assert st["modem"] == "booting" and st["device"] == "-" and st["server"] == "disconnected"
    assert st["sos"] == "idle" and st["uptime_s"] == "0" and st["battery_mv"] == "3950"
    mo = pairs(got["modem"][0], "modem")
    assert mo["state"] == "booting" and mo["model"] == "-" and mo["imei"] == "-"  # no AT while it boots
    assert got["sos"] == ["sos started", "ok"]
    assert got["started"] and "sos" in [k for k, f in events]  # the SOS ran once the modem was up


def test_selftest_passes_then_the_mute_modem_fails():
    got = {}

    async def main():
        w = Watch()
        await w.start("console3")
        try:
            got["pass"] = await w.ask("selftest")
            w.emu.mute(120000)  # the modem stops answering
            got["fail"] = await w.ask("selftest")
            got["flash_left"] = [n for n in __import__("os").listdir(w.root) if n.startswith("selftest")]
        finally:
            await w.stop()

    with support.Events():
        support.run(main())
    _release()
    parts = ["modem", "sim", "network", "gnss", "server", "flash", "battery", "button", "wifi", "steps"]
    p = got["pass"]
    assert p[-1] == "ok", p
    assert [line.split(":")[0] for line in p[:-1]] == ["selftest " + x for x in parts]
    for line in p[:-1]:
        assert line.split(": ", 1)[1].startswith("pass "), line
    assert p[0] == "selftest modem: pass answers AT" and p[1] == "selftest sim: pass READY"
    assert p[2] == "selftest network: pass home"
    assert p[3] == "selftest gnss: pass no sky" or p[3].startswith("selftest gnss: pass fix lat=59.91")
    assert p[4] == "selftest server: pass connected tracker.trygg.test:5093"
    assert p[5].startswith("selftest flash: pass wrote, read and deleted ")
    assert p[6] == "selftest battery: pass 3950 mV 72%"
    assert p[7] == "selftest button: pass released"
    assert p[8] == "selftest wifi: pass absent"  # no network module here: a board without WLAN
    assert p[9] == "selftest steps: pass absent"  # nothing on the I2C bus
    f = got["fail"]
    assert f[-1] == "error: 5 failed", f
    assert f[0].startswith("selftest modem: fail ") and "timeout" in f[0]
    for i in (1, 2, 3, 4):
        assert f[i] == "selftest %s: fail modem not answering" % parts[i]
    assert f[5].startswith("selftest flash: pass") and f[8] == "selftest wifi: pass absent"
    assert got["flash_left"] == []


# ---- on fakes -----------------------------------------------------------------------------------


class FakeAT:
    def __init__(self, gnss):
        self.silent = 0
        self.silent_max = 3
        self.sent = []
        self.gnss = gnss

    async def cmd(self, command, timeout_ms=5000, prefix=None):
        self.sent.append(command)
        if command == "AT+CGNSSPWR?":
            if not self.gnss:
                raise ATError(command)  # no GNSS in this module (hardware.md §1.2a)
            return ["+CGNSSPWR: 0,1,0,0"]
        return []


class FakeModem:
    """The driver calls the selftest makes, recorded in `calls`."""

    def __init__(self, gnss=False, sim_hangs=False):
        self.at = FakeAT(gnss)
        self.sim_hangs = sim_hangs
        self.needs_init = False
        self.sim_state = "READY"
        self.reg_stat = 5
        self.gnss_on = False
        self.calls = []

    async def wait_sim(self, timeout_ms):
        if self.sim_hangs:  # a wait nobody foresaw: the selftest's backstop ends it
            await sleep_ms(10 ** 8)
        return True

    async def wait_registered(self, timeout_ms):
        return True

    async def gnss_power(self, on):
        self.calls.append(("gnss_power", on))
        self.gnss_on = on
        return True

    async def gnss_fix(self):
        self.calls.append(("gnss_fix", support.VT.ms))
        return None  # indoors: the receiver runs, no fix

    async def net_open(self):
        self.calls.append(("net_open",))

    async def tcp_open(self, link, host, port, timeout_ms):
        self.calls.append(("tcp_open", link, host, port))

    async def tcp_close(self, link):
        self.calls.append(("tcp_close", link))


class FakeBattery:
    def __init__(self, mv):
        self.mv = mv

    def millivolts(self):
        return self.mv

    def percent(self):
        return 100


class FakeButton:
    def pressed(self):
        return True


class FakeWLAN:
    def __init__(self):
        self.on = False
        self.scans = 0

    def active(self, on):
        self.on = on

    def scan(self):
        assert self.on
        self.scans += 1
        return [(b"a", b"\x00\x11\x22\x33\x44\x55", 1, -60, 3, False),
                (b"b", b"\x00\x11\x22\x33\x44\x66", 6, -70, 3, False)]


class FakeBoard:
    name = "fake"

    def __init__(self, mv=4650, gnss=False, button=True, wlan=True, sim_hangs=False, steps=None):
        self.modem = FakeModem(gnss, sim_hangs)
        self.battery = FakeBattery(mv)
        self.button = FakeButton() if button else None
        self.wlan = FakeWLAN() if wlan else None
        self.steps = steps


class FakeSteps:
    addr = 0x6A

    def __init__(self, fails=False):
        self.fails = fails

    def steps(self):
        if self.fails:
            raise OSError(19)
        return 1843


class FakeUplink:
    def __init__(self, connected):
        self.connected = connected


class FakeApp:
    def __init__(self, root, connected=True, **board):
        self.board = FakeBoard(**board)
        self.root = root
        self.cfg = Config(root, {"server_host": HOST, "pin": "1234"})
        self.uplink = FakeUplink(connected)
        self.positioning = None


def test_selftest_on_fakes_absent_gnss_a_stuck_button_no_cell_and_a_hung_part():
    got = {}
    app = FakeApp(support.tmpdir("console4"), sim_hangs=True, steps=FakeSteps(fails=True))

    async def main():
        c = console.Console(app, FakeIn(), FakeOut())
        await c.execute("selftest")
        got["lines"] = c._w.lines()

    support.run(main())
    lines = got["lines"]
    assert lines[1] == "selftest sim: fail no result within 20 s (the modem busy with a call or an SMS?)"
    assert lines[3] == "selftest gnss: pass absent"
    assert lines[4] == "selftest server: pass connected tracker.trygg.test:5093"
    assert lines[6] == "selftest battery: fail 4650 mV outside 3000..4400"  # USB power, no cell
    assert lines[7] == "selftest button: fail pressed: stuck, or held right now"
    assert lines[8] == "selftest wifi: pass scan returned 2 networks"
    assert lines[9] == "selftest steps: fail OSError(19,)" or lines[9] == "selftest steps: fail OSError(19)"
    assert lines[10] == "error: 4 failed"
    assert app.board.wlan.scans == 1 and not app.board.wlan.on  # the radio is off again
    assert app.board.modem.at.sent == ["AT", "AT+CGNSSPWR?"]  # no power-on on a module without GNSS


def test_a_model_the_driver_knows_has_no_gnss_is_not_asked():
    app = FakeApp(support.tmpdir("console10"))
    app.board.modem.has_gnss = False  # the driver read the model at power-on (A7670G, ...)
    got = {}

    async def main():
        c = console.Console(app, FakeIn(), FakeOut())
        await c.execute("selftest")
        got["lines"] = c._w.lines()

    support.run(main())
    assert got["lines"][3] == "selftest gnss: pass absent"
    assert app.board.modem.at.sent == ["AT"]


def test_selftest_on_fakes_no_sky_and_a_trial_connection():
    got = {}
    app = FakeApp(support.tmpdir("console7"), connected=False, mv=3900, gnss=True, button=False, wlan=False,
                  steps=FakeSteps())

    async def main():
        c = console.Console(app, FakeIn(), FakeOut())
        t0 = support.VT.ms
        await c.execute("selftest")
        got["ms"] = support.VT.ms - t0
        got["lines"] = c._w.lines()

    support.run(main())
    lines = got["lines"]
    assert lines[3] == "selftest gnss: pass no sky"
    assert lines[4] == "selftest server: pass a connection to tracker.trygg.test:5093 can be made"
    assert lines[7] == "selftest button: pass absent" and lines[8] == "selftest wifi: pass absent"
    assert lines[9] == "selftest steps: pass LSM6DSL at 0x6A, counter 1843"
    assert lines[10] == "ok"
    calls = app.board.modem.calls
    fixes = [c for c in calls if c[0] == "gnss_fix"]
    # the receiver on, looked at once a second for 15 s, off again (it was off before)
    assert calls[0] == ("gnss_power", True) and calls[len(fixes) + 1] == ("gnss_power", False)
    assert fixes[-1][1] - fixes[0][1] >= 15000 and got["ms"] < 20000
    # a trial connection on link 1 (the uplink's session keeps link 0), closed again
    assert calls[-3:] == [("net_open",), ("tcp_open", 1, HOST, 5093), ("tcp_close", 1)]


def test_a_command_that_raises_is_an_error_line_and_the_console_reads_on():
    class Broken:
        def as_dict(self):
            raise RuntimeError("flash gone")

    app = FakeApp(support.tmpdir("console5"))
    app.cfg = Broken()
    got = {}

    async def main():
        inp, out = FakeIn(), FakeOut()
        c = console.Console(app, inp, out)
        t = asyncio.create_task(c.run())
        await sleep_ms(1)
        got["banner"] = out.lines()
        got["config"] = await ask(inp, out, "config")
        got["help"] = await ask(inp, out, "help")
        inp.close()  # the stream ends: the task waits for nothing, it neither ends nor spins
        await sleep_ms(10000)
        got["done"] = t.done()
        t.cancel()
        await sleep_ms(1)

    with support.Events() as events:
        support.run(main())
    assert got["config"] == ["error: RuntimeError('flash gone',)"] or \
        got["config"] == ["error: RuntimeError('flash gone')"]
    assert got["banner"] == [console.BANNER]
    assert got["help"][-1] == "ok" and not got["done"]
    assert ("console", {"state": "closed"}) in events


def test_values_keys_and_secrets():
    assert console.value(None) == "-" and console.value(True) == "yes" and console.value(False) == "no"
    assert console.value("Emma Lou=x") == "Emma_Lou_x" and console.value(-75) == "-75"
    assert console.kv("fix", (("source", "none"), ("lat", None))) == "fix source=none lat=-"
    assert console.clean("a\r\nb\x00\xe6") == "a??b??"
    assert console.secret("pin") and console.secret("apn_password") and console.secret("api_token")
    assert not console.secret("apn") and not console.secret("server_host")
    lines = console.config_lines({"pin": "1234", "apn_password": "x", "apn": "telenor", "sos_rounds": 2})
    assert lines == ['config apn="telenor"', "config apn_password=***", "config pin=***",
                     "config sos_rounds=2"]
    assert console.config_lines({"pin": ""}) == ['config pin=""']  # not set: nothing to hide


def test_no_console_unless_streams_are_given_here():
    # the simulator and the tests run App(board, root): "auto" opens the USB serial on the board
    # only, never the process's stdin
    assert console.stdio() is None
    assert App(None, "").console_io == "auto" and App(None, "").console is None


def test_uptime_counts_past_the_tick_wrap():
    got = []

    async def main():
        app = App(None, "")
        for _ in range(8):  # a day at a time: the watchdog task folds the ticks every 10 s
            await sleep_ms(86400000)
            got.append(app.uptime_s())

    support.run(main())  # starts ten minutes before the ticks wrap
    assert got == [86400 * (i + 1) for i in range(8)]


def test_log_history_when_log_keeps_one():
    saved = getattr(log, "recent", None)
    log.recent = lambda n: [("boot", {"board": "x", "cause": "power-on"}), "identity id=1"][-n:]
    got = {}
    try:
        async def main():
            c = console.Console(FakeApp(support.tmpdir("console6")), FakeIn(), FakeOut())
            await c.execute("log 5")
            await c.execute("log x")
            got["lines"] = c._w.lines()

        support.run(main())
    finally:
        if saved is None:
            del log.recent
        else:
            log.recent = saved
    assert got["lines"] == ["log boot board=x cause=power-on", "log identity id=1", "ok",
                            "error: usage: log [n]"]


def test_awake_after_the_start_and_after_input_then_not():
    got = []

    async def main():
        inp = FakeIn()
        c = console.Console(FakeApp(support.tmpdir("console9")), inp, FakeOut())
        t = asyncio.create_task(c.run())
        got.append(c.awake())  # just started: a QA tool that opened the port reset the board
        await sleep_ms(120000)
        got.append(c.awake())  # two minutes without a byte: the watch may sleep
        inp.feed(b"x")
        await sleep_ms(299000)
        got.append(c.awake())  # within five minutes of the last byte
        await sleep_ms(1000)
        got.append(c.awake())
        for _ in range(7):  # a week on, across the tick wrap and the 2**29 ms of ticks_diff
            await sleep_ms(86400000)
        got.append(c.awake())
        t.cancel()
        await sleep_ms(1)

    support.run(main())
    assert got == [True, False, True, False, False]
