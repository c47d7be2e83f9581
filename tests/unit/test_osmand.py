"""OsmAnd (issue 10): the stored values read back (watchproto.values), the query the firmware
builds from them (firmware/osmand.py), the simulated Traccar's decoder (host_sim/traccar.py
OsmAndServer, written independently) agreeing with it, the emulator's HTTP service on the wire
(A76-ATM §16), and the uplink's delivery rule: an item leaves its outbox only with its 200."""
import support
import asyncio

from fakepeer import RecordingServer
from test_modem_emulator import Rig

from firmware import clock, osmand, uplink, watchproto
from firmware.compat import sleep_ms
from firmware.config import Config
from firmware.fix import Cell, Fix
from firmware.outbox import Outbox
from host_sim import traccar

VT = support.VT
ID = "862000012345674"
T = 842000000  # 2026-09-06T08:53:20Z in the firmware's epoch (2000)
UNIX = 1788684800
HOST = "tracker.trygg.test"
CELL = Cell(242, 1, 2010, 26383618, -90)
AP = ("home,net", "AA:BB:CC:DD:EE:01", -55)


def _fix(lat=59923600, lon=10759200, speed=123, acc=12, valid=True, t=T):
    return Fix(t, lat, lon, valid, 21, speed, 45, 7, acc, "gnss")


def _ud(fix=None, status=0, kind="UD", cells=(CELL,), wifis=(AP,)):
    return watchproto.position(kind, fix or _fix(), 60, 90, 0, status, cells, wifis)


# ==================================================================== values and the query


def test_values_read_back_what_position_wrote():
    cases = [
        (_fix(), (CELL,), (AP,)),
        (_fix(lat=-33868800, lon=-151209300, speed=0, acc=0, valid=False), (), ()),
        (_fix(lat=0, lon=-1, speed=9999, acc=99999), (CELL, Cell(242, 1, 7, 8, -150)), ()),
    ]
    for fix, cells, wifis in cases:
        v = watchproto.values(_ud(fix, cells=cells, wifis=wifis))
        assert (v.kind, v.t, v.valid, v.lat, v.lon) == ("UD", fix.t, fix.valid, fix.lat, fix.lon)
        assert (v.speed, v.course, v.alt, v.sats, v.gsm, v.batt, v.acc) == (fix.speed * 10, 45, 21, 7, 60, 90,
                                                                            fix.acc)
        assert v.cells == [(c.lac, c.cid, c.rssi) for c in cells]
        assert (v.mcc, v.mnc) == ((242, 1) if cells else (None, None))
        # the SSID is sanitised on the way in (no commas, §6), the MAC lower case
        assert v.wifis == [("homenet", "aa:bb:cc:dd:ee:01", -55) for _ in wifis if cells]


def test_values_read_records_of_earlier_firmware_and_traccar_variants():
    # as an earlier firmware queued it (the same canonical form: an update sends it either way)
    v = watchproto.values("UD,140926,055018,A,59.921339,N,10.761057,E,0.00,0,21,7,60,90,0,0,00000000,"
                          "1,0,242,1,2010,26383617,-101,0,22")
    assert v.t == clock.from_parts(2026, 9, 14, 5, 50, 18) and (v.lat, v.lon) == (59921339, 10761057)
    assert v.cells == [(2010, 26383617, -101)] and v.wifis == [] and v.acc == 22
    # §6 variants Traccar takes: signed coordinates with N, empty hemispheres, a 4-digit status,
    # no cells and no accuracy, an empty cell RSSI
    v = watchproto.values("AL_LTE,010126,000000,V,-33.48,N, 151.2,,2.2038,000,-1,0,0,100,0,0,0001,0")
    assert (v.kind, v.lat, v.lon, v.speed, v.alt, v.status, v.acc) == ("AL_LTE", -33480000, 151200000,
                                                                      220, -1, 1, None)
    v = watchproto.values("UD,010126,000000,A,1.5,S,2.5,W,0,0,0,0,0,0,0,0,00000000,1,0,242,1,5,6,,0,5")
    assert (v.lat, v.lon, v.cells, v.acc) == (-1500000, -2500000, [(5, 6, None)], 5)
    for bad in ("LK,0,0,50", "UD,report1", "UD,010126,000000,A,x,N,2,E,0,0,0,0,0,0,0,0,00000000,0,0,5",
                "UD,010126,000000,A,1,N,2,E,0,0,0,0,0,0,0,0,80000000,0,0,5",
                "UD,010126,000000,A,1,N,2,E,0,0,0,0,0,0,0,0,00000000,2,0,242,1,5,6,-90,0,5",
                "UD,010126,000000,A,1,N,2,E,0,0,0,0,0,0,0,0,00000000,1,0,242,1,5,6,",  # Traccar throws
                "UD,010126,000000,A,91,N,2,E,0,0,0,0,0,0,0,0,00000000,0,0,5"):
        support.raises(ValueError, watchproto.values, bad)


def test_the_query_of_a_report():
    q = osmand.query(_ud(), ID)
    assert q == ("id=862000012345674&timestamp=1788684800&lat=59.923600&lon=10.759200&valid=true"
                 "&speed=6.64&bearing=45&altitude=21&accuracy=12&batt=90&sat=7"
                 "&cell=242,1,2010,26383618,-90&wifi=aa:bb:cc:dd:ee:01,-55")
    # 12.3 km/h is 6.64 kn (1 kn = 1.852 km/h); Traccar reads OsmAnd speeds as knots (§7)
    assert osmand.knots(1230) == "6.64" and osmand.knots(0) == "0.00" and osmand.knots(185200) == "1000.00"
    q = osmand.query(_ud(_fix(lat=-33868800, lon=-151209300, valid=False), cells=(), wifis=()), ID)
    assert "&lat=-33.868800&lon=-151.209300&valid=false&" in q and "cell=" not in q and "wifi=" not in q
    for c in q:  # nothing to escape in a query, nothing that ends the AT command's quotes
        assert c in "0123456789abcdefghijklmnopqrstuvwxyz=&.,:-", c
    support.raises(ValueError, osmand.query, _ud(), "86200*1")
    support.raises(ValueError, osmand.query, "UD,report1", ID)


def test_unix_seconds_in_small_integers():
    assert osmand.unix(T) == str(UNIX)
    for t in (0, 199, 200, 999, 1000, 1073741823):
        assert osmand.unix(t) == str(t + 946684800), t


def test_alarms_by_traccars_names():
    cases = ((0x10000, "AL", "sos"), (0x40000, "AL", "geofenceExit"), (0x80000, "AL", "geofenceEnter"),
             (0x20000, "AL", "lowBattery"), (0, "AL", "general"), (0, "UD", None), (0x10, "UD", None))
    for status, kind, name in cases:
        q = osmand.query(_ud(status=status, kind=kind), ID)
        if name is None:
            assert "alarm=" not in q
        else:
            assert q.endswith("&alarm=" + name), q


# ==================================================================== the simulated Traccar


def _server():
    store = traccar.WatchServer(devices=set([ID]))
    return store, traccar.OsmAndServer(store, devices=set([ID]), wall_s=lambda: 900000000)


def test_traccar_decodes_the_firmwares_query():
    store, srv = _server()
    for status, kind in ((0, "UD"), (0x40000, "AL")):
        fix = _fix(lat=-33868800, lon=151209300)
        q = osmand.query(_ud(fix, status, kind), ID)
        assert srv.handle(None, "GET", "/?" + q, {}, b"") == (200, "")
        p = store.positions[-1]
        assert (p["time"], p["lat"], p["lon"], p["valid"]) == (fix.t, fix.lat, fix.lon, True)
        # knots there and back: 12.3 km/h -> 6.64 kn -> 12.3 km/h (0.1 km/h)
        assert (p["speed_kmh10"], p["course"], p["alt"], p["accuracy"], p["battery"], p["sats"]) == \
            (123, 45, 21, 12, 90, 7)
        assert p["cells"] == [(242, 1, 2010, 26383618, -90)] and p["wifis"] == [("aa:bb:cc:dd:ee:01", -55)]
        assert p["type"] == kind and p["alarm"] == (None if status == 0 else "geofenceExit")
    assert store.rows == 2


def test_traccar_rules_ids_timestamps_units_and_errors():
    store, srv = _server()
    # a missing or unknown id: 400, nothing stored (§7)
    assert srv.handle(None, "GET", "/?lat=1&lon=2", {}, b"") == (400, "")
    assert srv.handle(None, "GET", "/?id=999&lat=1&lon=2", {}, b"") == (400, "")
    assert not store.positions and store.unknown_device == 2
    # timestamps: seconds below 2^31-1, else milliseconds; ISO-8601; "yyyy-MM-dd HH:mm:ss"
    # (the server's zone: UTC here); none: the server's time
    for ts, t in (("1788684800", T), ("1788684800000", T), ("2026-09-06T08:53:20Z", T),
                  ("2026-09-06%2008:53:20", T), (None, 900000000)):
        q = "deviceid=%s&lat=1&lon=2" % ID + ("" if ts is None else "&timestamp=" + ts)
        assert srv.handle(None, "GET", "/any/path?" + q, {}, b"")[0] == 200
        assert store.positions[-1]["time"] == t, ts
    # location=lat,lon; heading; wifi with '-'; an unknown key is an attribute; no lat/lon: the
    # last location again
    q = "id=%s&location=59.5,10.25&heading=90&wifi=AA-BB-CC-DD-EE-FF,-70&steps=12&speed=1" % ID
    assert srv.handle(None, "GET", "/?" + q, {}, b"")[0] == 200
    p = store.positions[-1]
    assert (p["lat"], p["lon"], p["course"], p["wifis"], p["attributes"], p["speed_kmh10"]) == \
        (59500000, 10250000, 90, [("AA:BB:CC:DD:EE:FF", -70)], {"steps": "12"}, 19)
    assert srv.handle(None, "GET", "/?id=%s&batt=50" % ID, {}, b"")[0] == 200
    assert (store.positions[-1]["lat"], store.positions[-1]["lon"]) == (59500000, 10250000)
    # the parameters from an urlencoded body when the query is empty
    assert srv.handle(None, "POST", "/", {}, ("id=%s&lat=3&lon=4" % ID).encode())[0] == 200
    assert store.positions[-1]["lat"] == 3000000
    # a number that does not parse throws (Traccar closes the connection)
    support.raises(traccar.DecodeError, srv.handle, None, "GET", "/?id=%s&lat=north" % ID, {}, b"")
    # one queued command per answer (§7)
    store.queue_command(ID, "FLOWER,3")
    store.queue_command(ID, "CR")
    assert srv.handle(None, "GET", "/?id=%s" % ID, {}, b"") == (200, "FLOWER,3")
    assert srv.handle(None, "GET", "/?id=%s" % ID, {}, b"") == (200, "CR")
    assert srv.handle(None, "GET", "/?id=%s" % ID, {}, b"") == (200, "")


# ==================================================================== the emulator's HTTP service


def _http_rig(answer=None):
    r = Rig()
    store = traccar.WatchServer(devices=set([ID]))
    if answer is None:
        srv = traccar.OsmAndServer(store, devices=set([ID]), wall_s=lambda: T)
    else:
        srv = RecordingServer(ack=answer)
    r.world.add_server(HOST, "192.0.2.10", 5055, srv)
    r.boot()
    return r, store, srv


def test_http_get_exact_bytes_and_the_request_on_the_wire():
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nFLOWER,3"
    r, _, srv = _http_rig(answer)
    assert r.cmd(b"AT+HTTPINIT\r") == b"\r\nOK\r\n"
    assert r.cmd(b"AT+HTTPINIT\r") == b"\r\nERROR\r\n"  # once, until AT+HTTPTERM
    url = b"http://tracker.trygg.test:5055/?id=862000012345674&lat=1,5&lon=2"
    assert r.cmd(b'AT+HTTPPARA="URL","' + url + b'"\r') == b"\r\nOK\r\n"
    assert r.cmd(b'AT+HTTPPARA="URL","ftp://x"\r') == b"\r\nERROR\r\n"
    assert r.cmd(b"AT+HTTPACTION=0\r", 1500) == b"\r\nOK\r\n\r\n+HTTPACTION: 0,200,8\r\n"
    assert srv.conns[0].got == (b"GET /?id=862000012345674&lat=1,5&lon=2 HTTP/1.1\r\n"
                                b"Host: tracker.trygg.test:5055\r\nAccept: */*\r\n\r\n")
    assert r.cmd(b"AT+HTTPREAD?\r") == b"\r\n+HTTPREAD: LEN,8\r\n\r\nOK\r\n"
    assert r.cmd(b"AT+HTTPREAD=0,100\r") == b"\r\nOK\r\n\r\n+HTTPREAD: 8\r\nFLOWER,3\r\n\r\n+HTTPREAD: 0\r\n"
    assert r.cmd(b"AT+HTTPREAD=2,3\r") == b"\r\nOK\r\n\r\n+HTTPREAD: 3\r\nOWE\r\n\r\n+HTTPREAD: 0\r\n"
    head = answer[:-8]
    assert r.cmd(b"AT+HTTPHEAD\r") == b"\r\n+HTTPHEAD: %d\r\n%s\r\nOK\r\n" % (len(head), head)
    # the connection is kept: the second request goes on it
    assert r.cmd(b"AT+HTTPACTION=0\r", 1500) == b"\r\nOK\r\n\r\n+HTTPACTION: 0,200,8\r\n"
    assert len(srv.conns) == 1 and srv.conns[0].got.count(b"GET ") == 2
    assert r.cmd(b"AT+HTTPACTION=1\r") == b"\r\nERROR\r\n"  # only GET is emulated
    assert r.cmd(b"AT+HTTPTERM\r") == b"\r\nOK\r\n" and srv.conns[0].closed
    assert r.cmd(b"AT+HTTPTERM\r") == b"\r\nERROR\r\n"


def test_http_errors_and_a_400_for_an_unknown_device():
    r, store, srv = _http_rig()
    assert r.cmd(b"AT+HTTPINIT\r") == b"\r\nOK\r\n"
    for url, code in ((b"http://nowhere.test:5055/?id=1", 713), (b"http://tracker.trygg.test:81/?id=1", 714),
                      (b"http://tracker.trygg.test:5055/?id=1&lat=1&lon=2", 400)):
        assert r.cmd(b'AT+HTTPPARA="URL","' + url + b'"\r') == b"\r\nOK\r\n"
        assert r.cmd(b"AT+HTTPACTION=0\r", 1500) == b"\r\nOK\r\n\r\n+HTTPACTION: 0,%d,0\r\n" % code
    assert not store.positions and srv.requests == [("1", 400, "id=1&lat=1&lon=2")]
    # the network goes (the scenario's coverage gap at 00:30): the notice, and no network then
    r.advance(30 * 60000 - VT.ms + 100)
    assert b"\r\n+HTTP_NONET_EVENT\r\n" in r.read()
    assert r.cmd(b"AT+HTTPACTION=0\r", 1500) == b"\r\nOK\r\n\r\n+HTTPACTION: 0,717,0\r\n"


# ==================================================================== the uplink's delivery rule


class FakeHttp:
    """The HTTP half of a driver: answers (status, body) or raises, in order; then 200."""

    has_http = True
    has_tls = True
    net_up = True
    tls_ca_name = None

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.got = []  # (url, ssl, urgent)
        self.setups = 0

    async def net_open(self):
        pass

    async def tls_setup(self, name, pem, prefix):
        self.setups += 1
        self.tls_ca_name = name

    async def http_get(self, url, ssl=False, timeout_ms=60000, urgent=False):
        self.got.append((url, ssl, urgent))
        await sleep_ms(500)
        a = self.answers.pop(0) if self.answers else (200, b"")
        if isinstance(a, Exception):
            raise a
        return a

    async def http_term(self):
        pass


def _up(answers=(), n=3, alarms=0, **cfg):
    root = support.tmpdir("osm")
    c = Config(root, dict({"server_host": HOST, "server_port": 5055, "protocol": "osmand"}, **cfg))
    ob = Outbox(root)
    al = Outbox(root, 64, 16, "alarms")
    for i in range(n):
        ob.put(_ud(_fix(t=T + i)))
    for i in range(alarms):
        al.put(_ud(_fix(t=T + 100 + i), 0x10000, "AL", (), ()))
    m = FakeHttp(answers)
    cmds = []

    def on_command(frame):
        cmds.append(frame)
        return b"[SG*x*0008*FLOWER,3]"

    up = uplink.Uplink(m, c, ob, ID, al, on_command)
    return up, m, ob, al, cmds


async def _run(up, ms):
    t = asyncio.create_task(up.run_sender())
    await sleep_ms(ms)
    t.cancel()
    await sleep_ms(1)


def test_each_item_leaves_its_outbox_only_with_its_200():
    async def main():
        up, m, ob, al, _ = _up([(200, b""), OSError(5, "+HTTPACTION: 0,714,0"), (503, b"")], alarms=1)
        with support.Events() as got:
            await _run(up, 2000)
            # the alarm first (urgent), then report 1; report 2 failed: everything else waits
            assert [u[2] for u in m.got] == [True, False] and len(al) == 0 and len(ob) == 3
            assert "alarm=sos" in m.got[0][0] and m.got[0][0].startswith("http://tracker.trygg.test:5055/?id=")
            await _run(up, 6000)  # 5 s later: a 503 (an outage): still nothing more acked
            assert len(m.got) == 3 and len(ob) == 3
            await _run(up, 20000)
        assert len(ob) == 0 and up.delivered == 3
        kinds = [k for k, _ in got]
        assert kinds.count("request_failed") == 2 and kinds.count("alarm_delivered") == 1
        assert [f["n"] for k, f in got if k == "delivered"] == [3]
        assert [f["retry_s"] for k, f in got if k == "request_failed"] == [5, 10]
        # one request per item, each acked by its own 200
        assert len(m.got) == 1 + 2 + 3 and len(set(u[0] for u in m.got)) == 4

    support.run(main())


def test_a_400_is_an_unknown_device_logged_and_nothing_is_dropped():
    async def main():
        up, m, ob, _, _ = _up([(400, b"")] * 3)
        with support.Events() as got:
            await _run(up, 10 * 60000)
        errs = [f for k, f in got if k == "error"]
        assert len(errs) == 3 and "does not know device id 862000012345674" in errs[0]["err"]
        assert [f["retry_s"] for f in errs] == [60, 120, 240]
        assert len(ob) == 0 and len(m.got) == 3 + 3  # the 4th try: Traccar knows it now, all three go

    support.run(main())


def test_a_200_body_is_a_command_and_a_refused_item_is_dropped():
    async def main():
        up, m, ob, _, cmds = _up([(200, b"FLOWER,3"), (414, b""), (414, b""), (200, b"")])
        with support.Events() as got:
            await _run(up, 30000)
        assert len(cmds) == 1 and cmds[0].type == "FLOWER" and cmds[0].content == b"FLOWER,3"
        assert cmds[0].dev_id == ID and cmds[0].index is None
        kinds = [k for k, _ in got]
        assert "command_reply_dropped" in kinds  # OsmAnd has no way back for the echo
        # 414 twice for the same item (too large: it can never go): dropped, the next one goes
        assert [f["seq"] for k, f in got if k == "report_rejected"] == [2]
        assert len(ob) == 0 and up.delivered == 2 and up.rejected == 1

    support.run(main())


def test_an_unreadable_record_is_dropped_and_https_with_tls():
    async def main():
        up, m, ob, _, _ = _up(n=0, tls=True, server_port=5056)
        ob.put("UD,report1")  # not a position content: no protocol can send it
        ob.put(_ud())
        import firmware.fsutil as fsutil

        fsutil.atomic_write(up._cfg.root + "/ca.pem", traccar.ca_pem("Trygg Test Root CA").encode())
        with support.Events() as got:
            await _run(up, 5000)
        assert [f["seq"] for k, f in got if k == "report_rejected"] == [1] and len(ob) == 0
        assert len(m.got) == 1 and m.got[0][0].startswith("https://tracker.trygg.test:5056/?") and m.got[0][1]
        assert m.setups == 1  # the CA into the modem's SSL context before the first https request

    support.run(main())


def test_a_driver_without_http_keeps_the_reports_queued():
    async def main():
        up, m, ob, _, _ = _up()
        m.has_http = False
        with support.Events() as got:
            t = asyncio.create_task(up.run_sender())
            await sleep_ms(5000)
            up.kick()
            await sleep_ms(5000)
            t.cancel()
            await sleep_ms(1)
        errs = [f["err"] for k, f in got if k == "error"]
        assert len(errs) == 1 and "no HTTP" in errs[0] and "stay queued" in errs[0]
        assert not m.got and len(ob) == 3

    support.run(main())
