"""TLS (issue 10): the A76xx SSL service in the emulator (A76-ATM §19, exact bytes on the wire,
the handshake and the records on air), the driver's tls_* methods against it, and the uplink over
a TLS front before the watch server: a wrong CA is refused and reported, and nothing ever goes in
clear while "tls" is set."""
import support
import asyncio

from fakepeer import RecordingServer
from test_modem_emulator import ICCID, IMEI, Meter, Rig, scenario

from firmware import fsutil, log, uplink, watchproto
from firmware.compat import sleep_ms
from firmware.config import Config
from firmware.drivers import events as ev
from firmware.drivers.a76xx import A76xx, TlsRefused, cch_family
from firmware.fix import Cell, Fix
from firmware.outbox import Outbox
from host_sim import traccar
from host_sim import world as W
from host_sim.fakes import machine as fm
from host_sim.modem_a76xx import (SYN_BYTES, TCPIP_HDR, TLS_ALERT_PLAIN, TLS_CLIENT_FINISH, TLS_CLIENT_HELLO,
                                  TLS_RECORD_OVERHEAD, TLS_SERVER_DONE, TLS_SERVER_FINISH, TLS_SERVER_HELLO,
                                  TLS_SERVER_KX, A76xxEmulator)

VT = support.VT
HOST, IP = "tracker.trygg.test", "192.0.2.10"
CA = "Trygg Test Root CA"
HDR = TCPIP_HDR


def _pem(name=CA):
    return traccar.ca_pem(name).encode()


def _front(r, backend=None, ca=CA, port=5094):
    """A TLS front on port (its chain ending in ca) before backend (a recording server)."""
    backend = backend or RecordingServer(ack=b"[ACK]")
    f = traccar.TlsFront(backend, ca)
    r.world.add_server(HOST, IP, port, f)
    return f, backend


def _store(r, name="ca.pem", pem=None):
    pem = pem or _pem()
    assert r.cmd(b'AT+CCERTDOWN="%s",%d\r' % (name.encode(), len(pem)), 50) == b"\r\n> "
    r.u.write(pem)
    r.advance(100)
    assert r.read() == b"\r\nOK\r\n"


def _ok(r, line):
    assert r.cmd(line) == b"\r\nOK\r\n", line


def _tls_ready(r, name="ca.pem"):
    """Context 0: TLS 1.2, server authentication against name; the service started with manual
    receive (A76-SSL §3.3)."""
    _ok(r, b'AT+CSSLCFG="sslversion",0,3\r')
    _ok(r, b'AT+CSSLCFG="authmode",0,1\r')
    _ok(r, b'AT+CSSLCFG="cacert",0,"%s"\r' % name.encode())
    _ok(r, b"AT+CCHSET=1,1\r")
    assert r.cmd(b"AT+CCHSTART\r", 600) == b"\r\nOK\r\n\r\n+CCHSTART: 0\r\n"
    _ok(r, b"AT+CCHSSLCFG=0,0\r")


def _air(r):
    return r.emu.air_up, r.emu.air_down


# ==================================================================== the emulator, on the wire


def test_a_tls_session_exact_bytes():
    r = Rig()
    front, backend = _front(r)
    r.boot()
    _store(r)
    assert r.cmd(b"AT+CCERTLIST\r") == b'\r\n+CCERTLIST: "ca.pem"\r\n\r\nOK\r\n'
    _tls_ready(r)
    assert r.cmd(b"AT+CSSLCFG=0\r") == b'\r\n+CSSLCFG: 0,3,1,1,300,"ca.pem","","","",0\r\n\r\nOK\r\n'
    # §19.2.5: AT+CCHSET must come before AT+CCHSTART; a second start is refused
    assert r.cmd(b"AT+CCHSET=0,0\r") == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+CCHSTART\r") == b"\r\nERROR\r\n"
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5094,2\r', 2000) == b"\r\nOK\r\n\r\n+CCHOPEN: 0,0\r\n"
    assert front.handshakes == 1 and len(backend.conns) == 1
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5094,2\r') == b"\r\nERROR\r\n"  # in use
    assert r.cmd(b"AT+CCHSEND=0,9\r", 50) == b"\r\n> "
    r.u.write(b"[SG*1*LK]")
    r.advance(100)
    # the data are not echoed; OK, then the send's result (AT+CCHSET=1: <report_send_result>)
    assert r.read() == b"\r\nOK\r\n\r\n+CCHSEND: 0,0\r\n"
    r.advance(400)
    assert backend.conns[0].got == b"[SG*1*LK]"  # plaintext behind the front
    # manual receive (<recv_mode> 1): announced once, read with AT+CCHRECV after its OK
    assert r.read() == b"\r\n+CCHEVENT: 0,RECV EVENT\r\n"
    backend.conns[0].send(b"12345")
    r.advance(300)
    assert r.read() == b""
    assert r.cmd(b"AT+CCHRECV?\r") == b"\r\n+CCHRECV: LEN,10,0\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+CCHRECV=0,7\r") == \
        b"\r\nOK\r\n\r\n+CCHRECV: DATA,0,7\r\n[ACK]12\r\n\r\n+CCHRECV: 0,0\r\n"
    assert r.cmd(b"AT+CCHRECV=0\r") == b"\r\nOK\r\n\r\n+CCHRECV: DATA,0,3\r\n345\r\n\r\n+CCHRECV: 0,0\r\n"
    assert r.cmd(b"AT+CCHRECV=0\r") == b"\r\n+CCHRECV: 0,11\r\n\r\nERROR\r\n"  # nothing cached
    assert r.cmd(b"AT+CCHCLOSE=0\r") == b"\r\nOK\r\n\r\n+CCHCLOSE: 0,0\r\n"
    assert backend.conns[0].closed and not front.conns
    assert r.cmd(b"AT+CCHCLOSE=0\r") == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+CCHSTOP\r") == b"\r\nOK\r\n\r\n+CCHSTOP: 0\r\n"
    assert r.cmd(b"AT+CCHSSLCFG=0,0\r") == b"\r\nERROR\r\n"  # the service is stopped


def test_the_handshake_and_the_records_on_air():
    r = Rig()
    front, backend = _front(r)
    r.boot()
    _store(r)
    _tls_ready(r)
    assert _air(r) == (0, 0)  # certificates and settings are local to the module
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5094,2\r', 2000) == b"\r\nOK\r\n\r\n+CCHOPEN: 0,0\r\n"
    q = 12 + 20 + 4  # the DNS lookup (RFC 1035 §4.1), as a TCP link's
    dns_up, dns_down = 28 + q, 28 + q + 16
    up, down = _air(r)
    # a full TLS 1.2 handshake (RFC 5246 §7.3): ClientHello; ServerHello, Certificate (the
    # front's chain), ServerKeyExchange, ServerHelloDone in 3 segments; ClientKeyExchange,
    # ChangeCipherSpec, Finished; the server's ChangeCipherSpec and Finished; the ACKs
    flight = TLS_SERVER_HELLO + traccar.CHAIN_BYTES + TLS_SERVER_KX + TLS_SERVER_DONE
    assert up == dns_up + SYN_BYTES + HDR + TLS_CLIENT_HELLO + HDR + HDR + TLS_CLIENT_FINISH + HDR + HDR
    assert down == dns_down + SYN_BYTES + flight + 3 * HDR + TLS_SERVER_FINISH + HDR
    assert 4000 <= up + down - dns_up - dns_down - 2 * SYN_BYTES - HDR <= 6000  # ~4-6 KB
    # each write is a record: 29 bytes more than its plaintext (RFC 5246 §6.2.1, RFC 5288 §3)
    assert r.cmd(b"AT+CCHSEND=0,100\r", 50) == b"\r\n> "
    r.u.write(b"U" * 100)
    r.advance(1000)  # the server's [ACK] came back carrying its ACK; ours left 200 ms later
    assert _air(r) == (up + 100 + TLS_RECORD_OVERHEAD + HDR + HDR, down + 5 + TLS_RECORD_OVERHEAD + HDR)
    assert TLS_RECORD_OVERHEAD == 5 + 8 + 16
    assert r.read() == b"\r\nOK\r\n\r\n+CCHSEND: 0,0\r\n\r\n+CCHEVENT: 0,RECV EVENT\r\n"
    up, down = _air(r)
    # the close: close_notify each way, sealed (2 + 29), then the FINs
    assert r.cmd(b"AT+CCHCLOSE=0\r") == b"\r\nOK\r\n\r\n+CCHCLOSE: 0,0\r\n"
    assert _air(r) == (up + 31 + HDR + 2 * HDR, down + 31 + HDR + HDR)


def test_a_wrong_or_missing_ca_and_a_server_without_tls_fail_the_handshake():
    r = Rig()
    front, backend = _front(r, ca="Some Other CA")
    plain = RecordingServer()
    r.world.add_server(HOST, IP, 5095, plain)
    r.boot()
    _store(r)
    _tls_ready(r)
    # §19.3.1 <err> 15 "Handshake error": the chain does not end in the CA of context 0; the
    # module alerts and closes; the backend never sees a connection
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5094,2\r', 2000) == b"\r\nOK\r\n\r\n+CCHOPEN: 0,15\r\n"
    assert front.refused == 1 and front.handshakes == 0 and not backend.conns and not front.conns
    assert r.emu.tls_refused == 1
    # a failed open clears AT+CCHSSLCFG (§19.2.10)
    assert r.cmd(b"AT+CCHSSLCFG?\r") == b"\r\n+CCHSSLCFG: 0,\r\n\r\n+CCHSSLCFG: 1,\r\n\r\nOK\r\n"
    # 19 "Not set certificates": server authentication without a stored CA file
    _ok(r, b'AT+CSSLCFG="cacert",0,"gone.pem"\r')
    _ok(r, b"AT+CCHSSLCFG=0,0\r")
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5094,2\r', 2000) == b"\r\nOK\r\n\r\n+CCHOPEN: 0,19\r\n"
    # a server that speaks no TLS never answers the ClientHello: 15 once <negotiatetime> runs out
    _ok(r, b'AT+CSSLCFG="cacert",0,"ca.pem"\r')
    _ok(r, b'AT+CSSLCFG="negotiatetime",0,20\r')
    _ok(r, b"AT+CCHSSLCFG=0,0\r")
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5095,2\r', 500) == b"\r\nOK\r\n"
    r.advance(19000)
    assert r.read() == b""
    r.advance(1000)
    assert r.read() == b"\r\n+CCHOPEN: 0,15\r\n"
    assert plain.conns[0].got == b"" and plain.conns[0].closed
    # the alert of the refused handshake went on air: 7 bytes (§7.2), then the FINs
    assert TLS_ALERT_PLAIN == 7


def test_plain_bytes_on_the_tls_port_are_refused_by_the_front():
    r = Rig()
    front, backend = _front(r)
    r.boot()
    assert r.cmd(b"AT+CIPRXGET=1\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+NETOPEN\r", 1000) == b"\r\nOK\r\n\r\n+NETOPEN: 0\r\n"
    assert r.cmd(b'AT+CIPOPEN=0,"TCP","tracker.trygg.test",5094\r', 500) == b"\r\nOK\r\n\r\n+CIPOPEN: 0,0\r\n"
    assert r.cmd(b"AT+CIPSEND=0,4\r", 50) == b"\r\n> "
    r.u.write(b"[SG*")
    r.advance(600)
    assert r.read() == b"\r\nOK\r\n\r\n+CIPSEND: 0,4,4\r\n\r\n+IPCLOSE: 0,1\r\n"
    assert front.plain == 1 and not backend.conns  # nothing reached the server in clear


def test_certificates_stay_on_the_module_contexts_do_not():
    r = Rig()
    r.boot()
    _store(r, "a.pem")
    _store(r, "b.der")
    assert r.cmd(b'AT+CCERTDOWN="x.txt",5\r') == b"\r\nERROR\r\n"  # .pem or .der (§19.2.2)
    assert r.cmd(b'AT+CCERTDOWN="a.pem",10241\r') == b"\r\nERROR\r\n"  # <len> 1..10240
    _ok(r, b'AT+CSSLCFG="cacert",3,"a.pem"\r')
    r.emu.reboot()
    r.advance(20000)
    r.read()
    r.cmd(b"ATE0\r")
    assert r.cmd(b"AT+CCERTLIST\r") == b'\r\n+CCERTLIST: "a.pem"\r\n\r\n+CCERTLIST: "b.der"\r\n\r\nOK\r\n'
    assert r.cmd(b"AT+CSSLCFG=3\r") == b'\r\n+CSSLCFG: 3,4,0,1,300,"","","","",0\r\n\r\nOK\r\n'
    _ok(r, b'AT+CCERTDELE="a.pem"\r')
    assert r.cmd(b'AT+CCERTDELE="a.pem"\r') == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+CCERTLIST\r") == b'\r\n+CCERTLIST: "b.der"\r\n\r\nOK\r\n'


def test_coverage_loss_stops_the_ssl_service():
    r = Rig()  # the scenario loses coverage at 00:30 for 5 minutes
    front, backend = _front(r)
    r.boot()
    _store(r)
    _tls_ready(r)
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5094,2\r', 2000) == b"\r\nOK\r\n\r\n+CCHOPEN: 0,0\r\n"
    r.advance(30 * 60000 - VT.ms + 100)
    assert b"\r\n+CCH: CCH STOP\r\n" in r.read()
    assert backend.conns[0].closed
    assert r.cmd(b'AT+CCHOPEN=0,"tracker.trygg.test",5094,2\r') == b"\r\nERROR\r\n"  # not started


# ==================================================================== the driver against it


class Bench:
    """The emulated modem and the driver on one fake UART (as tests/unit/test_a76xx_manual.py
    sets them up), a TLS front on 5094 before the watch server and on 5056 before the OsmAnd
    server, inside a running loop. `sent`: every command line the driver wrote."""

    def __init__(self, ca=CA, **kw):
        fm.WIRING.reset()
        self.world = W.World(scenario(**kw), VT)
        self.watch = traccar.WatchServer(devices=set([IMEI]))
        self.world.add_server(HOST, IP, 5093, self.watch)
        self.front = traccar.TlsFront(self.watch, ca)
        self.world.add_server(HOST, IP, 5094, self.front)
        self.osmand = traccar.OsmAndServer(self.watch, devices=set([IMEI]), wall_s=self.world.utc)
        self.world.add_server(HOST, IP, 5055, self.osmand)
        self.https = traccar.TlsFront(self.osmand, ca)
        self.world.add_server(HOST, IP, 5056, self.https)
        self.emu = A76xxEmulator(VT, self.world, IMEI, ICCID, meter=Meter())
        fm.WIRING.attach_uart(26, 27, self.emu)
        self.emu.attach_pins(pwrkey=fm.WIRING.pin(4), dtr=fm.WIRING.pin(25), ri=fm.WIRING.pin(33))
        self.sent = []
        take = self.emu.on_host_write

        def write(data):
            if data.endswith(b"\r"):
                self.sent.append(str(data[:-1], "ascii"))
            take(data)

        self.emu.on_host_write = write
        uart = fm.UART(1, 115200, tx=26, rx=27)
        self.m = A76xx(uart, fm.Pin(4, fm.Pin.OUT, value=0), fm.Pin(25, fm.Pin.OUT, value=0),
                       fm.Pin(33, fm.Pin.IN))

    async def up(self):
        m = self.m
        m.start()
        await m.power_on()
        assert await m.wait_sim()
        assert await m.wait_registered(30000, 500)
        return m

    def count(self, prefix):
        return len([c for c in self.sent if c.startswith(prefix)])


def test_driver_stores_the_ca_once_and_talks_over_tls():
    async def main():
        b = Bench()
        m = await b.up()
        with support.Events() as got:
            await m.tls_setup("trygg1.pem", _pem(), "trygg")
        assert b.count("AT+CCERTDOWN=") == 1 and m.tls_ca_name == "trygg1.pem"
        assert [k for k, _ in got] == ["tls_ca"] and "BEGIN" not in repr(got)  # never the PEM
        i = b.sent.index
        assert i("AT+CCERTLIST") < i('AT+CCERTDOWN="trygg1.pem",1249') < \
            i('AT+CSSLCFG="cacert",0,"trygg1.pem"')
        for c in ('AT+CSSLCFG="sslversion",0,3', 'AT+CSSLCFG="authmode",0,1', 'AT+CSSLCFG="enableSNI",0,1',
                  'AT+CSSLCFG="negotiatetime",0,20'):
            assert c in b.sent, c
        await m.tls_open(0, HOST, 5094)
        assert b.count("AT+CCHSET=1,1") == 1 and b.sent.index("AT+CCHSET=1,1") < b.sent.index("AT+CCHSTART")
        assert m.tls_links[0] and b.front.handshakes == 1
        await m.tls_send(0, watchproto.encode("SG", IMEI, "LK"))
        await sleep_ms(1000)
        await m.at.pump()  # (the driver's own task reads URCs in the watch)
        e = m.events.get()
        assert e == (ev.DATA, m.tls_link, None), e  # +CCHEVENT: 0,RECV EVENT
        assert await m.tls_recv(0) == b"[SG*862000012345674*0002*LK]"
        assert await m.tls_recv(0) == b""  # nothing cached: '+CCHRECV: 0,11' and ERROR
        await m.tls_close(0)
        assert not m.tls_links[0] and not b.front.conns
        # the modem restarts: the CA is still in its flash, the context is not
        b.emu.reboot()
        await sleep_ms(15000)
        await m.power_on()
        assert m.tls_ca_name is None
        await m.tls_setup("trygg1.pem", _pem(), "trygg")
        assert b.count("AT+CCERTDOWN=") == 1 and b.count("AT+CCERTLIST") == 2
        # a new CA on the watch: stored under its own name, the old one of ours deleted
        await m.tls_setup("trygg2.pem", _pem("Another CA"), "trygg")
        assert b.count("AT+CCERTDOWN=") == 2 and 'AT+CCERTDELE="trygg1.pem"' in b.sent
        assert sorted(b.emu.certs) == ["trygg2.pem"]

    support.run(main())


def test_driver_refuses_a_server_the_ca_does_not_sign():
    async def main():
        b = Bench(ca="Rogue CA")
        m = await b.up()
        await m.tls_setup("trygg1.pem", _pem(), "trygg")
        e = await support.araises(TlsRefused, m.tls_open(0, HOST, 5094))
        assert e.code == 15 and e.tls_refused and not m.tls_links[0]
        assert b.front.refused == 1 and not b.watch.frames and b.watch.connections == 0

    support.run(main())


def test_driver_https_get_with_a_command_in_the_answer():
    async def main():
        b = Bench()
        m = await b.up()
        await m.tls_setup("trygg1.pem", _pem(), "trygg")
        b.watch.queue_command(IMEI, "FLOWER,3")
        url = "https://%s:5056/?id=%s&lat=59.9&lon=10.7&timestamp=1789336872" % (HOST, IMEI)
        status, body = await m.http_get(url, True)
        assert (status, body) == (200, b"FLOWER,3")
        assert 'AT+HTTPPARA="SSLCFG",0' in b.sent and b.https.handshakes == 1
        status, body = await m.http_get(url, True)  # the same connection: no second handshake
        assert (status, body) == (200, b"") and b.https.handshakes == 1 and b.count("AT+HTTPINIT") == 1
        assert len(b.watch.positions) == 2 and b.watch.positions[0]["protocol"] == "osmand"
        b.https.set_ca("Rogue CA")
        await m.http_term()  # a new connection: a new handshake, refused
        e = await support.araises(TlsRefused, m.http_get(url, True))
        assert e.code == 715 and b.https.refused == 1 and len(b.watch.positions) == 2

    support.run(main())


def test_the_ssl_and_http_commands_by_the_model():
    # the A76xx family and the SIM7600 (AT+CCH*, AT+HTTP*); the SIM7000/7070/7080 family, whose
    # driver builds on this one, has AT+CA*/AT+SH* instead: the uplink must not ask it
    for model in (None, "", "A7670E-FASE", "A7608SA-H", "SIM7600G-H"):
        assert cch_family(model), model
    for model in ("SIMCOM_SIM7000G", "SIM7000E", "SIM7070G", "SIM7080G"):
        assert not cch_family(model), model
    m = A76xx(fm.UART(1, 115200, tx=26, rx=27), fm.Pin(4, fm.Pin.OUT, value=0))
    assert m.has_tls and m.has_http
    m.model = "SIMCOM_SIM7000G"
    assert not m.has_tls and not m.has_http
    m.has_tls = True  # a driver that brings its own says so
    assert m.has_tls and not m.has_http


# ==================================================================== the uplink over TLS


def _report(ob, i):
    fix = Fix(842000000 + i * 300, 59923600, 10759200, True, 20, 0, 0, 7, 10, "gnss")
    return ob.put(watchproto.position("UD", fix, 60, 90, 0, 0, (Cell(242, 1, 2010, 26383618, -90),)))


class Watch:
    """The uplink on the real driver against the emulator: the modem's own task, a router for
    its socket events, the sender and the receiver."""

    def __init__(self, b, root, **cfg):
        self.b = b
        c = Config(root, dict({"server_host": HOST, "server_port": 5094, "tls": True}, **cfg))
        self.ob = Outbox(root)
        self.up = uplink.Uplink(b.m, c, self.ob, IMEI)
        self.tasks = []

    async def start(self):
        m = await self.b.up()
        up = self.up

        async def route():
            while True:
                await m.events.ready.wait()
                m.events.ready.clear()
                while True:
                    e = m.events.get()
                    if e is None:
                        break
                    if e[0] == ev.DATA:
                        up.on_data(e[1])
                    elif e[0] == ev.CLOSED:
                        up.on_closed(e[1])

        for fn in (m.run, route, up.run_sender, up.run_receiver):
            self.tasks.append(asyncio.create_task(fn()))

    def stop(self):
        for t in self.tasks:
            t.cancel()


def test_uplink_delivers_over_tls_and_the_server_sees_every_report():
    async def main():
        b = Bench()
        root = support.tmpdir("tls")
        fsutil.atomic_write(root + "/ca.pem", _pem())
        w = Watch(b, root)
        for i in range(3):
            _report(w.ob, i)
        with support.Events() as got:
            await w.start()
            await sleep_ms(60000)
        w.stop()
        assert len(w.ob) == 0 and len(b.watch.positions) == 3
        assert b.front.handshakes == 1 and b.front.plain == 0
        kinds = [k for k, _ in got]
        assert "tls_ca" in kinds and "tls_refused" not in kinds
        connect = [f for k, f in got if k == "connect"][0]
        assert connect["tls"] is True and connect["port"] == 5094
        assert "BEGIN CERTIFICATE" not in repr(got)

    support.run(main())


def test_uplink_wrong_ca_is_refused_reported_and_reports_wait():
    async def main():
        b = Bench(ca="Rogue CA")
        root = support.tmpdir("tls")
        fsutil.atomic_write(root + "/ca.pem", _pem())
        w = Watch(b, root)
        for i in range(3):
            _report(w.ob, i)
        with support.Events() as got:
            await w.start()
            await sleep_ms(10 * 60000)
            refused = [f for k, f in got if k == "tls_refused"]
            # a handshake refused costs ~4 KB: the tries thin out (bad_backoff: 1, 2, 4 min ...)
            assert [f["retry_s"] for f in refused] == [60, 120, 240, 480]
            assert refused[0]["err"] == 15 and "CA" in refused[0]["why"]
            # nothing in clear: no plain connection to the watch port, no plain bytes to the front
            assert b.watch.connections == 0 and not b.watch.frames and b.front.plain == 0
            assert len(w.ob) == 3 and not w.up.connected
            # the proxy gets its proper certificate: the next try delivers what waited
            b.front.set_ca(CA)
            await sleep_ms(10 * 60000)
        w.stop()
        assert len(w.ob) == 0 and len(b.watch.positions) == 3 and b.front.handshakes == 1

    support.run(main())


class NoTlsModem:
    """A driver with TCP sockets only (the SIM7000's may lack the tls_* methods)."""

    net_up = True

    def __init__(self):
        self.calls = []

    async def net_open(self):
        self.calls.append("net_open")

    async def tcp_open(self, link, host, port, timeout_ms):
        self.calls.append("tcp_open")

    async def tcp_send(self, link, data, urgent=False):
        self.calls.append("tcp_send")

    async def tcp_recv(self, link):
        return b""

    async def tcp_close(self, link):
        self.calls.append("tcp_close")


def test_a_driver_without_tls_or_a_missing_ca_keeps_the_reports_queued():
    async def main():
        for modem, has_ca, why in ((NoTlsModem(), True, "driver has no TLS"), (None, False, "no CA")):
            b = None
            if modem is None:
                b = Bench()
                modem = b.m
                b.m.start()
            root = support.tmpdir("tls")
            if has_ca:
                fsutil.atomic_write(root + "/ca.pem", _pem())
            c = Config(root, {"server_host": HOST, "server_port": 5094, "tls": True})
            ob = Outbox(root)
            _report(ob, 0)
            up = uplink.Uplink(modem, c, ob, IMEI)
            with support.Events() as got:
                t = asyncio.create_task(up.run_sender())
                await sleep_ms(1000)
                up.kick()
                await sleep_ms(1000)
                t.cancel()
            errors = [f["err"] for k, f in got if k == "error"]
            assert len(errors) == 1 and why in errors[0] and "stay queued" in errors[0], errors
            assert len(ob) == 1 and not up.connected
            if b is None:
                assert modem.calls == []  # not one byte, not even a plain connect
            else:
                assert b.count("AT+CCH") == 0 and b.count("AT+CIPOPEN") == 0

    support.run(main())


def test_a_plain_session_ends_when_tls_is_switched_on():
    async def main():
        b = Bench()
        root = support.tmpdir("tls")
        fsutil.atomic_write(root + "/ca.pem", _pem())
        w = Watch(b, root, server_port=5093, tls=False)
        _report(w.ob, 0)
        await w.start()
        await sleep_ms(30000)
        assert len(b.watch.positions) == 1 and w.up._tx.tls is False
        w.up._cfg.update({"tls": True, "server_port": 5094})
        _report(w.ob, 1)
        w.up.kick()
        await sleep_ms(60000)
        w.stop()
        assert len(b.watch.positions) == 2 and w.up._tx.tls is True and b.front.handshakes == 1
        assert log is not None

    support.run(main())
