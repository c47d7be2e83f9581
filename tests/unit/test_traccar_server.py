"""The simulator's Traccar `watch` server (host_sim/traccar.py), checked with Traccar's own samples,
and cross-checked against the firmware codec (the two are written independently)."""
import support  # noqa: F401  (virtual time first)
from firmware import clock, watchproto as wp
from firmware.fix import Cell, Fix
from host_sim import traccar


class Device:
    """The device end of one connection: what the server sent, and whether it closed us."""

    def __init__(self, server, peer="10.0.0.2:40001"):
        self.rx = []
        self.closed = False
        self.conn = server.connect(peer, self.rx.append, self._on_close)

    def _on_close(self):
        self.closed = True

    def send(self, data):
        self.conn.receive(data)


def _server(*ids):
    s = traccar.WatchServer(set(ids))
    s.wire_log = []
    s.wire = lambda d, ch, peer, data: s.wire_log.append((d, ch, peer, data))
    return s


def test_lk_acked_like_traccar():
    s = _server("4700186508", "8800000015")
    d = Device(s)
    d.send(b"[3G*4700186508*000B*LK,0,10,100]")
    assert d.rx == [b"[3G*4700186508*0002*LK]"]
    assert s.heartbeats == [{"device": "4700186508", "type": "LK", "battery": 100, "steps": 0}]
    d.send(b"[SG*8800000015*0002*LK]")
    assert d.rx[-1] == b"[SG*8800000015*0002*LK]"
    d.send(b"[SG*8800000015*0009*LK,0,100]")  # 2 fields: acked, nothing stored
    assert len(d.rx) == 3 and len(s.heartbeats) == 1
    assert s.acks_sent == 3 and not d.closed
    assert s.wire_log[0] == ("up", "watch", "10.0.0.2:40001", b"[3G*4700186508*000B*LK,0,10,100]")
    assert s.wire_log[1] == ("down", "watch", "10.0.0.2:40001", b"[3G*4700186508*0002*LK]")


def test_other_acks_and_silences():
    s = _server("1")
    d = Device(s)
    d.send(b"[SG*1*0004*INIT][SG*1*0003*TKQ][SG*1*0004*TKQ2][SG*1*0006*CONFIG][SG*1*0004*TK,1]")
    assert d.rx == [b"[SG*1*0006*INIT,1]", b"[SG*1*0003*TKQ]", b"[SG*1*0004*TKQ2]"]
    d.send(b"[SG*1*0008*PULSE,72][3G*1*0013*bphrt,120,79,73,,,,]")
    assert len(d.rx) == 3 and s.health[0]["heart_rate"] == 72 and s.health[1]["high"] == "120"
    assert [f[1] for f in s.frames] == ["INIT", "TKQ", "TKQ2", "CONFIG", "TK", "PULSE", "bphrt"]
    assert not d.closed


def test_ud_stored_not_acked_signed_micro_degrees():
    s = _server("6105117105", "9081000548")
    d = Device(s)
    d.send(b"[3G*6105117105*008D*UD2,210716,231601,V,-33.480366,N,-70.7630692,E,0.00,0.0,0.0,0,100,34,0,0,"
           b"00000000,3,255,730,2,29731,54315,167,29731,54316,162,29731,54317,145]")
    d.send(b"[SG*9081000548*00A9*UD,110116,113639,V,16.479064,S,68.119072,,0.7593,000,99,00,80,80,0,50,"
           b"00000000,5,1,736,2,10103,10732,153,10103,11061,152,10103,11012,152,10103,10151,150,10103,"
           b"10731,143,,00]")
    assert d.rx == [] and not d.closed
    p = s.positions[0]
    assert p["device"] == "6105117105" and p["type"] == "UD2"
    assert p["time"] == clock.from_parts(2016, 7, 21, 23, 16, 1)
    assert (p["valid"], p["lat"], p["lon"]) == (False, -33480366, -70763069)  # N/E keep the sign
    assert p["cells"][0] == (730, 2, 29731, 54315, 167) and len(p["cells"]) == 3
    assert p["alarm"] is None and not p["network_ignored"]
    p = s.positions[1]
    assert (p["lat"], p["lon"]) == (-16479064, 68119072)  # S forces negative, empty keeps
    assert p["speed_kmh10"] == 8 and p["alt"] == 99 and p["sats"] == 0 and p["rssi"] == 80 and p["steps"] == 0
    assert len(p["cells"]) == 5 and p["wifis"] == []


def test_traccar_samples_decode():
    samples = (
        b"[3G*4700222306*0077*UD,120316,140610,V,48.779045,N, 9.1574736,E,0.00,0.0,0.0,0,25,83,0,0,"
        b"00000000,2,255,262,1,21041,9067,121,21041,5981,116]",
        b"[SG*9159059735*0066*UD2,230322,082138,A,59.55285,N,016.66185,E,0.0,000,26,14,80,70,0,50,"
        b"00000000,1,1,240,7,34505,80806406,,00]",
        b"[3G*0304187088*0100*UD_WCDMA,100720,094202,V,0.0,N,0.0,E,22.0,0,-1,21,75,92,0,0,00000000,1,1,"
        b"425,01,10192,1282125,75,2,Inet,04:f0:21:46:1f:57,-54,iNetSecurity,00:1e:42:25:2f:3e,-71,0.0]",
        b"[SG*8800000015*0087*UD,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,"
        b"0000,4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141]",
        b"[3G*8800000015*00DD*UD,010120,025946,V,0.0,N,0.0,E,22.0,0,-1,0,100,98,0,0,00000000,0,5,eduroam,"
        b"f4:db:e6:d2:a8:00,-53,eduroam,f4:db:e6:da:d0:80,-79,tubs-guest,0,-53,0.0]",
    )
    s = traccar.WatchServer()  # any device
    d = Device(s)
    for f in samples:
        d.send(f)
    assert not d.closed and len(s.positions) == 5 and s.errors == []
    assert s.positions[0]["lon"] == 9157474
    assert s.positions[1]["cells"] == [(240, 7, 34505, 80806406, None)]
    assert s.positions[2]["wifis"] == [("04:f0:21:46:1f:57", -54), ("00:1e:42:25:2f:3e", -71)]
    assert s.positions[2]["alt"] == -1
    assert s.positions[3]["status"] == 0 and s.positions[3]["alt"] == 100
    # 0 cells followed by Wi-Fi: the 4th field is a MAC with hex letters -> network ignored (§6)
    assert s.positions[4]["network_ignored"] and s.positions[4]["wifis"] == []


def test_nested_brackets_in_ssid_and_split_segments():
    ud = (b"[3G*880900242*013D*UD,120623,140020,A,48.949273,N, 4.3783060,E,18.56,43.8,0.0,12,100,76,226120,0,"
          b"00000000,2,255,204,8,3110,55025,146,3130,49297,124,2,Fiber,36:a1:ed:e1:91:4f,-75,"
          b"[LG_Wall-Mount A/C]e725,66:a1:ed:e1:e7:25,-82,15.0]")
    s = _server("880900242")
    d = Device(s)
    for i in range(0, len(ud), 50):
        d.send(ud[i:i + 50])
    p = s.positions[0]
    assert p["wifis"] == [("36:a1:ed:e1:91:4f", -75), ("66:a1:ed:e1:e7:25", -82)]
    assert p["speed_kmh10"] == 186 and p["course"] == 44 and p["steps"] == 226120


def test_al_acked_with_alarm_priority():
    s = _server("8308373902", "014111001332708")
    d = Device(s)
    d.send(b"[3G*8308373902*0080*AL,230817,095346,A,47.083950,N,15.4821850,E,7.60,273.8,0.0,4,15,44,0,0,"
           b"00200010,2,255,232,1,7605,42530,118,7605,58036,119,0,65.8]")
    assert d.rx == [b"[3G*8308373902*0002*AL]"]
    assert s.positions[0]["alarm"] == "fallDown" and s.positions[0]["motion"]
    # SOS and removed both set: bit 16 wins
    d.send(b"[3G*8308373902*0000*AL_LTE,230817,095346,A,47.0,N,15.4,E,0,0,0,4,15,44,0,0,00110000,0,0,5]")
    assert d.rx[-1] == b"[3G*8308373902*0002*AL]" and s.positions[1]["alarm"] == "sos"
    # no bit: "general"; a payload that does not match: still acked, nothing stored
    d.send(b"[3G*8308373902*0000*AL,230817,095346,A,47.0,N,15.4,E,0,0,0,4,15,44,0,0,00000008,0,0,5]")
    d.send(b"[3G*8308373902*0000*AL,garbage]")
    assert d.rx[-2:] == [b"[3G*8308373902*0002*AL]", b"[3G*8308373902*0002*AL]"]
    assert len(s.positions) == 3 and s.positions[2]["alarm"] == "general"
    # index variant: the index is repeated in the ack
    d.send(b"[ZJ*014111001332708*0075*0064*AL,040418,052156,A,22.536207,N,113.938673,E,0,0,0,5,100,82,1000,"
           b"50,00100000,1,255,460,0,9340,3663,35]")
    assert d.rx[-1] == b"[ZJ*014111001332708*0075*0002*AL]" and s.positions[3]["alarm"] == "removing"
    assert not d.closed


def test_unknown_device_gets_no_reply():
    s = _server("4700186508")
    d = Device(s)
    d.send(b"[3G*9999999999*0009*LK,0,0,53]")
    d.send(b"x[3G*4700186508*0009*LK,0,0,53]")  # a stray byte shifts maker and id (§2)
    assert d.rx == [] and s.unknown_device == 2 and not d.closed and s.frames == []


def test_malformed_ud_closes_connection():
    s = _server("1")
    d = Device(s)
    d.send(b"[SG*1*0000*UD,010120,025946,A,1.0,N,2.0,E,0,0,0,x7,0,0,0,0,00000000,0,0,5]")
    assert s.positions == [] and not d.closed  # 'x7' does not match the pattern: ignored
    d.send(b"[SG*1*0000*UD,010120,025946,A,1.0,N,2.0,E,0,0,0,99999999999,0,0,0,0,00000000,0,0,5][SG*1*0002*LK]")
    assert d.closed and not d.conn.alive and d.rx == []  # the LK after it is lost
    assert len(s.errors) == 1 and "satellites" in s.errors[0]
    assert s.disconnects == 1 and s.drops == 1
    for bad in (b"[SG*1*0000*UD,010120,025946,A,1.0,N,2.0,E,0,0,0,1,0,0,0,0,80000000,0,0,5]",
                b"[SG*1*0000*UD,010120,025946,A,1.0,N,2.0,E,0,0,0,1,0,0,0,0,00000000,1,0,,,1,2,3]",
                b"[SG*1*0000*UD,010120,025946,A,1.0,N,2.0,E,0,0,0,1,0,0,0,0,00000000,0,25]",
                b"[SG*1*0000*AL,010120,025946,A,91.0,N,2.0,E,0,0,0,1,0,0,0,0,00000000,0,0]",
                b"[SG*1*000B*LK,0,10,x]",
                b"[SG*1*0002*a}b]"):
        d = Device(s)
        d.send(bad)
        assert d.closed, bad
    assert len(s.errors) == 7 and s.positions == []


def test_trailing_crlf_closes_connection():
    s = _server("1")
    d = Device(s)
    d.send(b"[SG*1*0002*LK]\r\n")
    assert d.rx == [b"[SG*1*0002*LK]"]  # the frame is handled, then "\r\n" is a frame of its own
    assert d.closed and len(s.errors) == 1


def test_oversized_stream_closes_connection():
    s = _server("1")
    d = Device(s)
    d.send(b"[SG*1*0000*TK," + b"a" * 20000)
    assert not d.closed
    d.send(b"a" * 20000)
    assert d.closed and "TooLong" in s.errors[0]


def test_queued_command_flushed_after_next_uplink():
    s = _server("4700186508")
    s.queue_command("4700186508", "UPLOAD,600")
    d = Device(s)
    assert d.rx == [] and "4700186508" in s.queued
    d.send(b"[3G*4700186508*000B*LK,0,10,100]")
    # ack first, then the command with 3G rewritten to SG and a lower-case length (§5)
    assert d.rx == [b"[3G*4700186508*0002*LK]", b"[SG*4700186508*000a*UPLOAD,600]"]
    s.queue_command("4700186508", "CR")  # live connection: sent at once
    assert d.rx[-1] == b"[SG*4700186508*0002*CR]" and s.queued == {}
    s.queue_command("4700186508", b"TK,\x7d\x01")
    assert d.rx[-1] == b"[SG*4700186508*0005*TK,\x7d\x01]"
    d.conn.close()
    assert s.disconnects == 1 and s.drops == 0
    s.queue_command("4700186508", "RESET")
    assert "4700186508" in s.queued


def test_index_connection_gets_0001_in_commands():
    s = _server("014111001350304")
    d = Device(s)
    d.send(b"[ZJ*014111001350304*0034*0009*LK,0,0,19]")
    s.queue_command("014111001350304", "FIND")
    assert d.rx == [b"[ZJ*014111001350304*0034*0002*LK]", b"[ZJ*014111001350304*0001*0004*FIND]"]


def test_set_down_and_inject():
    s = _server("1")
    d = Device(s)
    s.inject(b"junk")
    assert d.rx == [b"junk"]
    s.set_down(True)
    assert d.closed and s.connect("10.0.0.2:40002", print, print) is None
    s.set_down(False)
    d2 = Device(s)
    assert d2.conn is not None and s.connections == 2


def test_idle_timeout():
    now = [0]
    s = traccar.WatchServer(None, lambda: now[0])
    d = Device(s)
    now[0] = 1799 * 1000
    s.check_idle()
    assert not d.closed
    d.send(b"[SG*1*0002*LK]")
    now[0] = clock.ticks_add(now[0], 1800 * 1000)
    s.check_idle()
    assert d.closed and s.timeouts == 1


def test_decode_position_function():
    p = traccar.decode_position("AL,220414,134652,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,"
                                "0001,4,1,460,0,9360,4082,131,9360,4092,148,9360,4091,143,9360,4153,141")
    assert p["type"] == "AL" and p["alarm"] == "lowBattery" and p["lon"] == 113861397
    support.raises(traccar.NoPosition, traccar.decode_position, "UD,1,2,3")
    support.raises(traccar.NoPosition, traccar.decode_position, "LK,0,0,53")
    support.raises(traccar.DecodeError, traccar.decode_position,
                   "UD,010120,025946,A,1.0,N,2.0,E,0,0,0,1,0,0,0,0,00000000,")


def test_firmware_position_round_trip():
    """Cross-check: every position() content of the firmware codec is read back by the server's
    independent Traccar decoder with the same values."""
    t = clock.from_parts(2026, 9, 14, 6, 5, 7)
    cells = [Cell(242, 1, 3021, 268435455, -71), Cell(242, 1, 65534, 1, -113)]
    wifis = [("Home,Net", "aa:bb:cc:dd:ee:01", -60), ("[LG]", "00:11:22:33:44:55", -90)]
    cases = (
        (Fix(t, 59912345, 10754321, alt=23, speed=123, course=271, sats=7, acc=12), "UD", 0, cells, wifis),
        (Fix(t + 86399, -33868820, -70650000, False, -5, 5, 359, 0, 1500), "AL", wp.STATUS_SOS, cells[:1],
         ()),
        (Fix(t, 0, -1, speed=9999), "AL", 0, [], wifis),
        (Fix(0, -90000000, 180000000), "UD_LTE", wp.STATUS_FALL | wp.STATUS_MOTION, [], ()),
        (Fix(t, 1, 999999, alt=-430), "WT", wp.STATUS_REMOVED, cells, wifis[:1]),
    )
    for fix, kind, status, cs, ws in cases:
        content = wp.position(kind, fix, 77, 42, 314, status, cs, ws)
        p = traccar.decode_position(content)
        assert (p["type"], p["time"], p["valid"]) == (kind, fix.t, fix.valid), content
        assert (p["lat"], p["lon"]) == (fix.lat, fix.lon), content
        assert (p["speed_kmh10"], p["course"], p["alt"]) == (fix.speed, fix.course, fix.alt), content
        assert p["sats"] == fix.sats
        assert (p["rssi"], p["battery"], p["steps"], p["status"]) == (77, 42, 314, status)
        assert p["cells"] == [(c.mcc, c.mnc, c.lac, c.cid, c.rssi) for c in cs]
        assert p["wifis"] == ([(m, r) for _, m, r in ws] if cs else [])
        assert not p["network_ignored"]
        # and framed, through the server itself
        s = _server("9705141740")
        d = Device(s)
        d.send(wp.encode("SG", "9705141740", content))
        assert not d.closed and s.positions[0]["lat"] == fix.lat
        assert d.rx == ([b"[SG*9705141740*0002*AL]"] if kind == "AL" else [])
    alarms = [traccar.decode_position(wp.position("AL", Fix(t, 0, 0), 0, 0, 0, b, []))["alarm"]
              for b in (wp.STATUS_SOS, wp.STATUS_LOW_BATTERY, wp.STATUS_FENCE_EXIT, wp.STATUS_FENCE_ENTER,
                        wp.STATUS_REMOVED, wp.STATUS_FALL, 0)]
    assert alarms == ["sos", "lowBattery", "geofenceExit", "geofenceEnter", "removing", "fallDown", "general"]


def test_firmware_lk_and_splitter_against_server_replies():
    s = _server("9705141740")
    d = Device(s)
    s.queue_command("9705141740", "LZ,,+5.75")
    d.send(wp.encode("3G", "9705141740", wp.lk(10, 0, 88)))
    sp = wp.FrameSplitter()
    frames = [wp.parse(f) for f in sp.feed(b"".join(d.rx))]
    assert [(f.maker, f.type, f.fields) for f in frames] == [("3G", "LK", []), ("SG", "LZ", ["", "+5.75"])]
    assert s.heartbeats[0]["battery"] == 88 and s.heartbeats[0]["steps"] == 10
