"""A Traccar-compatible `watch` protocol server, in-process, for the simulator; the same
Traccar's OsmAnd (HTTP) port (OsmAndServer, watch-protocol.md §7) and a TLS-terminating front
before either (TlsFront, docs/transports.md), both at the end of this file.

It re-implements what Traccar's WatchFrameDecoder and WatchProtocolDecoder do, as described in
../shared/docs/reference/watch-protocol.md (sections cited as §n), without importing the
firmware's codec (firmware/watchproto.py): the two are written independently so that a bug in
one cannot hide behind the same bug in the other. Runs on CPython and MicroPython (no re, no
datetime: dates go through firmware.clock).

Traccar's way with bad input is kept on purpose: any exception while decoding closes the
connection (§1), and the frames still unread in that stream are lost with it.

Misbehaviour modes (issue 8: a broken or hostile server must not drain the watch's battery),
switched on by the scenario for a while (`set_mode`). The decoder keeps running as Traccar's in
every mode (positions are stored); only what the server writes changes:
  slowloris  replies and commands as usual (so the session never times out), and from the
             connect on one byte every SLOW_MS of a frame that never ends: the frames written
             meanwhile cut into it, and the rest reads as bytes outside any frame
  drip_acks  replies held, then written one byte at a time: the bytes queued when the first
             goes out are spread so the last leaves DRIP_BY_MS after the reply was due, just
             under the firmware's 30 s ack timeout
  flood      replies and commands as usual, amid endless unknown-command frames written as fast
             as the link takes them: the network's send() returns the bytes still waiting for
             the receiver's TCP window, and the flood tops that up every FLOOD_TICK_MS
  never_ack  reads and stores everything, writes nothing (commands stay queued)
"""
import binascii

from firmware import clock

MAX_FRAME = 32 * 1024  # BaseProtocol.MAX_FRAME_LENGTH_LARGE (§2)
IDLE_TIMEOUT_MS = 1800 * 1000  # server.timeout default (§1)
MODES = ("normal", "slowloris", "drip_acks", "flood", "never_ack")
SLOW_MS = 5000  # slowloris: a byte every 5 s
DRIP_DELAY_MS = 14000  # drip_acks: the first byte of a reply 14 s after it was due ...
DRIP_BY_MS = 28000  # ... and the last 28 s after (+ 50-150 ms on the network): < 30 s
FLOOD_TICK_MS = 100
FLOOD_LOW = 4096  # flood: written while fewer bytes than this wait for the window
_MUTE = ("never_ack",)  # modes in which the server writes no reply or command
_I32_MIN = -(1 << 31)
_I32_MAX = (1 << 31) - 1
_DIGITS = "0123456789"
_HEXDIGITS = "0123456789abcdefABCDEF"
_HEALTH = ("PULSE", "HEART", "BLOOD", "BPHRT", "TEMP", "BTEMP2", "OXYGEN")


class DecodeError(ValueError):
    """Where Traccar would throw: the connection is closed (§1)."""


class NoPosition(ValueError):
    """The content does not match Traccar's position pattern: nothing is stored (§6)."""


# ---- Java-like helpers ------------------------------------------------------------------------


def _ascii(b):
    """bytes -> str as Java's US_ASCII decoder does: other bytes become U+FFFD."""
    for c in b:
        if c > 0x7F:
            return "".join([chr(x) if x < 0x80 else "\ufffd" for x in b])
    return bytes(b).decode()


def _jint(s, base=10, what="int"):
    """Integer.parseInt: optional sign, digits of base only, signed 32-bit range."""
    n = len(s)
    i = 0
    neg = False
    if n and s[0] in "+-":
        neg = s[0] == "-"
        i = 1
    if i >= n:
        raise DecodeError("NumberFormatException %s: %r" % (what, s))
    v = 0
    while i < n:
        d = _HEXDIGITS.find(s[i])
        if d > 15:
            d -= 6  # upper-case A-F
        if d < 0 or d >= base:
            raise DecodeError("NumberFormatException %s: %r" % (what, s))
        v = v * base + d
        i += 1
    if neg:
        v = -v
    if v < _I32_MIN or v > _I32_MAX:
        raise DecodeError("NumberFormatException %s out of int range: %r" % (what, s))
    return v


def _jsplit(s):
    """String.split(","): trailing empty strings are removed (and "" gives [""])."""
    parts = s.split(",")
    if len(parts) == 1:
        return parts
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def _at(values, i, what):
    if i >= len(values):
        raise DecodeError("ArrayIndexOutOfBounds: %s (index %d of %d)" % (what, i, len(values)))
    return values[i]


def _has_hex_letter(s):
    """StringUtil.containsHex: any of a-f / A-F."""
    for c in s:
        if "a" <= c <= "f" or "A" <= c <= "F":
            return True
    return False


def _digits(s):
    if not s:
        return False
    for c in s:
        if c not in _DIGITS:
            return False
    return True


def _number(s, neg_ok, frac_needs_digit):
    """Java-regex check: `-?\\d+(\\.\\d+)?` (frac_needs_digit) or `-?\\d+\\.?\\d*`."""
    if neg_ok and s.startswith("-"):
        s = s[1:]
    whole, dot, frac = s.partition(".")
    if not _digits(whole):
        return False
    if not dot:
        return True
    return _digits(frac) if frac_needs_digit else (not frac or _digits(frac))


def _scaled(s, places):
    """Decimal text -> integer in units of 10**-places, rounded half away from zero."""
    neg = s.startswith("-")
    if neg:
        s = s[1:]
    whole, _, frac = s.partition(".")
    frac = frac + "0" * (places + 1)
    v = int(whole) * 10 ** places + (int(frac[:places]) if places else 0)
    if frac[places] >= "5":
        v += 1
    return -v if neg else v


def alarm_of(status):
    """Traccar's decodeAlarm: the first set bit in its priority order, else None (§6)."""
    for bit, name in ((0, "lowBattery"), (1, "geofenceExit"), (2, "geofenceEnter"), (14, "powerCut"),
                      (16, "sos"), (17, "lowBattery"), (18, "geofenceExit"), (19, "geofenceEnter"),
                      (20, "removing"), (21, "fallDown"), (22, "fallDown")):
        if status & (1 << bit):
            return name
    return None


# ---- position payload (§6) --------------------------------------------------------------------


def _position(rest):
    """The remainder after `TYPE,` -> dict, or None when the pattern does not match."""
    if "\n" in rest or "\r" in rest:  # Java's `.` and \d never match line terminators
        return None
    f = rest.split(",", 16)
    if len(f) < 17:
        return None
    lat_s, lon_s = f[3].lstrip(" "), f[5].lstrip(" ")
    if not (len(f[0]) == 6 and _digits(f[0]) and len(f[1]) == 6 and _digits(f[1])
            and f[2] in ("A", "V") and _number(lat_s, True, True) and f[4] in ("", "N", "S")
            and _number(lon_s, True, True) and f[6] in ("", "E", "W")
            and _number(f[7], False, False) and _number(f[8], False, False) and _number(f[9], True, False)
            and _digits(f[10]) and _digits(f[11]) and _digits(f[12]) and _digits(f[13]) and _digits(f[14])
            and f[15] and _jhex(f[15])):
        return None
    # date and time are UTC; Java's Calendar is lenient, so out-of-range parts roll over
    d, mo, yy = int(f[0][0:2]), int(f[0][2:4]), int(f[0][4:6])
    y = 2000 + yy + (mo - 1) // 12
    mo = (mo - 1) % 12 + 1
    t = clock.from_parts(y, mo, 1, int(f[1][0:2]), int(f[1][2:4]), int(f[1][4:6])) + (d - 1) * 86400
    lat = _scaled(lat_s, 6)
    if f[4] == "S":
        lat = -abs(lat)
    lon = _scaled(lon_s, 6)
    if f[6] == "W":
        lon = -abs(lon)
    # Position.setLatitude/setLongitude reject out-of-range values (inference: Traccar's
    # Position model, not in the reference)
    if abs(lat) > 90000000 or abs(lon) > 180000000:
        raise DecodeError("coordinate out of range: %s %s" % (f[3], f[5]))
    pos = {
        "time": t,
        "valid": f[2] == "A",
        "lat": lat,
        "lon": lon,
        "speed_kmh10": _scaled(f[7], 1),
        "course": _scaled(f[8], 0),
        "alt": _scaled(f[9], 0),
        "sats": _jint(f[10], 10, "satellites"),
        "rssi": _jint(f[11], 10, "rssi"),
        "battery": _jint(f[12], 10, "battery"),
        "steps": _jint(f[13], 10, "steps"),
    }
    status = _jint(f[15], 16, "status")  # signed int: 80000000 and above throw
    pos["status"] = status
    pos["alarm"] = alarm_of(status)
    pos["motion"] = bool(status & 0x10)
    cells, wifis, ignored = _network(f[16])
    # the trailing "positioning accuracy" Traccar ignores (§6 step 4); kept here for the
    # simulator's honesty figures only (whole metres, None when absent or not a number)
    tail = f[16].rsplit(",", 1)[-1].split(".")[0]
    pos["accuracy"] = int(tail) if tail.isdigit() and "," in f[16] else None
    pos["cells"] = cells
    pos["wifis"] = wifis
    pos["network_ignored"] = ignored
    return pos


def _jhex(s):
    for c in s:
        if c not in _HEXDIGITS:
            return False
    return True


def _network(rest):
    """Cell and Wi-Fi block (§6 steps 1-4) -> (cells, wifis, ignored)."""
    values = _jsplit(rest)
    cells = []
    wifis = []
    if len(values) >= 4 and _has_hex_letter(values[3]):
        return cells, wifis, True  # skip rule (§6 step 1)
    i = 0
    count = _jint(_at(values, i, "cell count"), 10, "cell count")
    i += 1
    if count > 0:
        i += 1  # "timing advance"
        mcc = mnc = 0
        if _at(values, i, "mcc") != "":  # when empty, Traccar does not advance the index
            mcc = _jint(values[i], 10, "mcc")
            i += 1
        if _at(values, i, "mnc") != "":
            mnc = _jint(values[i], 10, "mnc")
            i += 1
        for _ in range(count):
            s = _at(values, i, "lac")
            lac = _jint(s, 16 if _has_hex_letter(s) else 10, "lac")
            s = _at(values, i + 1, "cid")
            cid = _jint(s, 16 if _has_hex_letter(s) else 10, "cid")
            r = _at(values, i + 2, "cell rssi")
            i += 3
            cells.append((mcc, mnc, lac, cid, _jint(r, 10, "cell rssi") if r else None))
    if i < len(values) and values[i] != "":
        count = _jint(values[i], 10, "wifi count")
        i += 1
        for _ in range(count):
            mac = _at(values, i + 1, "wifi mac")  # the SSID at i is ignored
            r = _at(values, i + 2, "wifi rssi")
            i += 3
            if mac and mac != "0" and r:
                wifis.append((mac, _jint(r, 10, "wifi rssi")))
    return cells, wifis, False


def decode_position(content):
    """A UD*/AL*/WT* content (`UD,...`) read as Traccar would -> dict with type, time (epoch
    2000), valid, lat, lon (signed micro-degrees), speed_kmh10, course, alt, sats, rssi, battery,
    steps, status, alarm, motion, cells [(mcc, mnc, lac, cid, rssi)], wifis [(mac, rssi)],
    network_ignored. Raises NoPosition when Traccar would store nothing, DecodeError where it
    would throw and close the connection (both are ValueError)."""
    if isinstance(content, (bytes, bytearray)):
        content = _ascii(content)
    typ, comma, rest = content.partition(",")
    if not (typ.startswith("UD") or typ.startswith("AL") or typ.startswith("WT")):
        raise NoPosition("not a position type: %r" % typ)
    pos = _position(rest if comma else "")
    if pos is None:
        raise NoPosition("no match: %r" % content[:60])
    pos["type"] = typ
    if typ.startswith("AL") and pos["alarm"] is None:
        pos["alarm"] = "general"
    return pos


# ---- framing (§2) -----------------------------------------------------------------------------


def _unescape(frame):
    if b"}" not in frame:
        return frame
    out = bytearray()
    i = 0
    n = len(frame)
    while i < n:
        b = frame[i]
        if b == 0x7D:
            c = frame[i + 1] if i + 1 < n else -1
            if not 1 <= c <= 5:
                raise DecodeError("unexpected byte at %d: 0x%02x" % (i + 1, c & 0xFF))
            out.append(b"}[],*"[c - 1])
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


class _Link:
    """What a connection to either listener (_Listener) keeps: its peer, its two ends (send,
    close), whether it is alive, when it last heard from the device, the bytes not yet framed;
    the ends: the device closes it, or the server does (after an error: _fail)."""

    def __init__(self, server, peer, send, close):
        self.server = server
        self.peer = peer
        self._send = send
        self._close = close
        self.alive = True
        self.last_rx_ms = server._now()
        self._buf = bytearray()

    def _who(self):
        return self.peer

    def _fail(self, why):
        self.server.errors.append("%s: %s" % (self._who(), why))
        self.server.drops += 1
        self._server_close()

    def _server_close(self):
        if self.alive:
            self.alive = False
            self.server._gone(self)
            self._close()

    def close(self):
        """The device closed the connection."""
        if self.alive:
            self.alive = False
            self.server._gone(self)


class Conn(_Link):
    """One device connection. receive(bytes) from the device; close() when the device closes."""

    def __init__(self, server, peer, send, close):
        _Link.__init__(self, server, peer, send, close)
        self.device = None  # uniqueId bound to this connection (last known-device frame)
        self.maker = None  # manufacturer of the last uplink
        self.has_index = False  # sticky, like the decoder's hasIndex
        self._scan = 0
        self._depth = 0
        self._busy = False
        self._drip = bytearray()  # drip_acks: bytes written one at a time
        self._drip_step = 0
        self._ticking = False  # a slowloris or flood timer runs for this connection
        self._n = 0  # slowloris bytes / flood frames written

    def _frame_end(self):
        """WatchFrameDecoder: +1 per `[`, -1 per `]`; the frame ends at the first byte after the
        first one where the count is 0. Returns the end index or -1 (scan state is kept)."""
        buf = self._buf
        i = self._scan
        depth = self._depth
        n = len(buf)
        while i < n:
            b = buf[i]
            if b == 0x5B:
                depth += 1
            elif b == 0x5D:
                depth -= 1
            if depth == 0 and i > 0:
                self._scan = 0
                self._depth = 0
                return i + 1
            i += 1
        self._scan = i
        self._depth = depth
        return -1

    def receive(self, data):
        srv = self.server
        if not self.alive:
            return
        srv.bytes_up += len(data)
        self.last_rx_ms = srv._now()
        self._buf.extend(data)
        if self._busy:  # re-entered from a send callback: the outer loop takes it
            return
        self._busy = True
        try:
            while self.alive:
                end = self._frame_end()
                if end < 0:
                    if len(self._buf) > MAX_FRAME:
                        self._fail("TooLongFrameException: %d bytes without a frame" % len(self._buf))
                    break
                raw = bytes(self._buf[:end])
                self._buf = self._buf[end:]
                srv._wire("up", self.peer, raw)
                try:
                    srv._decode(self, _unescape(raw))
                except (DecodeError, IndexError) as e:
                    self._fail("%s (frame %r)" % (e, raw[:80]))
        finally:
            self._busy = False

    def _tx(self, data):
        if not self.alive:
            return
        if self._drip or self.server.mode == "drip_acks":
            if not self._drip:
                self.server.after(DRIP_DELAY_MS, self._drip_next)
                self._drip_step = 0
            self._drip.extend(data)
            return
        self._write(data)

    def _write(self, data):
        """Onto the network; returns the bytes still waiting for the receiver's window (or
        whatever the network's send returns)."""
        self.server.bytes_down += len(data)
        self.server._wire("down", self.peer, data)
        return self._send(data)

    def _drip_next(self):
        """drip_acks: the next byte; in another mode the rest at once."""
        if not self.alive or not self._drip:
            self._drip = bytearray()
            return
        if self.server.mode != "drip_acks":
            data, self._drip = bytes(self._drip), bytearray()
            self._write(data)
            return
        if not self._drip_step:  # spread what is queued now over DRIP_BY_MS - DRIP_DELAY_MS
            self._drip_step = max(50, (DRIP_BY_MS - DRIP_DELAY_MS) // len(self._drip))
        b = bytes(self._drip[:1])
        self._drip = self._drip[1:]
        self._write(b)
        if self._drip:
            self.server.after(self._drip_step, self._drip_next)

    def _start(self):
        """The timer of a slowloris or flood mode, if one should run and none does."""
        mode = self.server.mode
        if self.alive and not self._ticking and mode in ("slowloris", "flood"):
            self._ticking = True
            self.server.after(SLOW_MS if mode == "slowloris" else FLOOD_TICK_MS, self._tick)

    def _tick(self):
        srv = self.server
        self._ticking = False
        if not self.alive:
            return
        dev = self.device or srv._any_device()
        if srv.mode == "slowloris":
            head = _to_ascii("[SG*%s*0400*MESSAGE," % dev)
            self._write(head[self._n:self._n + 1] if self._n < len(head) else b"0")
            self._n += 1
        elif srv.mode == "flood":
            waiting = 0
            while isinstance(waiting, int) and waiting < FLOOD_LOW and self.alive:
                frames = []
                for _ in range(32):
                    self._n += 1
                    content = "PING,%d" % self._n
                    frames.append("[%s*%s*%04x*%s]" % (srv._maker(self), dev, len(content), content))
                srv.flood_frames += 32
                waiting = self._write(_to_ascii("".join(frames)))
        else:
            return
        self._start()

    def _who(self):
        return "%s %s" % (self.peer, self.device or "-")


class _Acceptor:
    """A server's accepting side: its live connections (made by _open), how many it took, going
    down (every connection closed, new ones refused) and up again."""

    def __init__(self):
        self.wire = None
        self.down = False
        self.conns = []  # live connections
        self.connections = 0

    def connect(self, peer, send, close):
        """A device opens a TCP connection. Returns a connection, or None while the server is
        down."""
        if self.down:
            return None
        c = self._open(peer, send, close)
        self.connections += 1
        self.conns.append(c)
        return c

    def set_down(self, flag):
        """True: close every connection and refuse new ones; False: accept again."""
        self.down = flag
        if flag:
            for c in list(self.conns):
                c._server_close()


class _Listener(_Acceptor):
    """What Traccar's two listeners share besides: the counters (disconnects, drops, timeouts,
    bytes_up, bytes_down), the errors that closed a connection, the read-idle timer."""

    def __init__(self, devices, now_ms, idle_timeout_ms):
        _Acceptor.__init__(self)
        self.devices = devices
        self.now_ms = now_ms
        self.idle_timeout_ms = idle_timeout_ms
        self.errors = []
        self.disconnects = 0
        self.drops = 0
        self.timeouts = 0
        self.bytes_up = 0
        self.bytes_down = 0

    def check_idle(self):
        """Close connections that sent nothing for idle_timeout_ms (needs now_ms)."""
        if self.now_ms is None:
            return
        now = self.now_ms()
        for c in list(self.conns):
            if clock.ticks_diff(now, c.last_rx_ms) >= self.idle_timeout_ms:
                self.timeouts += 1
                c._server_close()

    def _now(self):
        return self.now_ms() if self.now_ms else 0

    def _gone(self, c):
        if c in self.conns:
            self.conns.remove(c)
        self.disconnects += 1


class WatchServer(_Listener):
    """Traccar's watch protocol server (port 5093) for the simulator.

    devices: set of known uniqueIds, or None to accept any. now_ms: optional function returning
    ticks in ms (firmware.clock ticks); with it, check_idle() closes connections silent for
    idle_timeout_ms (Traccar's read-idle timer, §1).
    Records: positions, heartbeats, health, frames (device, type, content), commands (device,
    content) sent, errors (decode exceptions that closed a connection); counters acks_sent,
    unknown_device, connections, disconnects (connection ends, either side), drops (closed by
    the server for an error), timeouts, bytes_up, bytes_down.
    wire: optional fn(dir, channel, peer, data) for every frame received ("up", the raw
    frame) and every reply or command sent ("down"); channel is "watch".
    """

    def __init__(self, devices=None, now_ms=None, idle_timeout_ms=IDLE_TIMEOUT_MS, after=None):
        _Listener.__init__(self, devices, now_ms, idle_timeout_ms)
        self.after = after  # after(ms, fn): the timers of the misbehaviour modes
        self.mode = "normal"
        self.flood_frames = 0
        self.queued = {}  # uniqueId -> [content] waiting for the device's next uplink (§5)
        self._bound = {}  # uniqueId -> Conn (the device session's channel)
        self.positions = []
        self.rows = 0  # position rows Traccar would store: positions + LKs that carry values
        self.heartbeats = []
        self.health = []
        self.frames = []
        self.commands = []
        self.acks_sent = 0
        self.unknown_device = 0

    # ---- connections

    def _open(self, peer, send, close):
        return Conn(self, peer, send, close)

    def connect(self, peer, send, close):
        c = _Listener.connect(self, peer, send, close)
        if c is not None:
            c._start()
        return c

    def set_mode(self, mode):
        """Misbehave (see the module docstring) from now on, or "normal" again."""
        if mode not in MODES:
            raise ValueError("server mode: %r" % mode)
        if mode != "normal" and self.after is None:
            raise ValueError("server mode %r needs after(ms, fn)" % mode)
        self.mode = mode
        for c in list(self.conns):
            c._start()
            if mode != "drip_acks" and c._drip:
                c._drip_next()  # the rest of a dripped reply at once

    def _any_device(self):
        return sorted(self.devices)[0] if self.devices else "0"

    def _maker(self, c):
        m = c.maker or "CS"
        return "SG" if m == "3G" else m

    def inject(self, data):
        """Fault injection: raw bytes to every live connection."""
        for c in list(self.conns):
            c._tx(data)

    def queue_command(self, dev_id, content):
        """A downlink command (str, or bytes already escaped): sent now if the device has a live
        connection, else on its next uplink frame (§5)."""
        c = self._bound.get(dev_id)
        if c is not None and c.alive and self.mode not in _MUTE:
            self._command(c, dev_id, content)
        else:
            self.queued.setdefault(dev_id, []).append(content)

    def _gone(self, c):
        _Listener._gone(self, c)
        if c.device is not None and self._bound.get(c.device) is c:
            del self._bound[c.device]

    def _wire(self, direction, peer, data):
        if self.wire is not None:
            self.wire(direction, "watch", peer, data)

    # ---- replies and commands

    def _reply(self, c, dev, index, content):
        """sendResponse: manufacturer as received, lower-case hex length (§4)."""
        if index is None:
            s = "[%s*%s*%04x*%s]" % (c.maker, dev, len(content), content)
        else:
            s = "[%s*%s*%s*%04x*%s]" % (c.maker, dev, index, len(content), content)
        if self.mode in _MUTE:
            return
        self.acks_sent += 1
        c._tx(_to_ascii(s))

    def _command(self, c, dev, content):
        """WatchProtocolEncoder: 3G becomes SG, index 0001 if the connection uses indexes (§5)."""
        maker = self._maker(c)
        head = "[%s*%s*%s" % (maker, dev, "0001*" if c.has_index else "")
        if isinstance(content, str):
            content = content.replace("{uniqueId}", dev)
            data = _to_ascii("%s%04x*%s]" % (head, len(content), content))
        else:
            data = _to_ascii("%s%04x*" % (head, len(content))) + bytes(content) + b"]"
        self.commands.append((dev, content))
        c._tx(data)

    def _flush(self, c):
        """onMessageEvent -> sendQueuedCommands, for the device bound to this connection."""
        dev = c.device
        if dev is None or not c.alive or self.mode in _MUTE:
            return
        pending = self.queued.pop(dev, None)
        while pending and c.alive:
            self._command(c, dev, pending.pop(0))
        if pending:
            self.queued[dev] = pending

    # ---- WatchProtocolDecoder

    def _decode(self, c, frame):
        n = len(frame)
        if n < 4:
            raise DecodeError("IndexOutOfBounds: frame of %d bytes" % n)
        c.maker = _ascii(frame[1:3])  # exactly 2 characters, whatever they are
        pos = 4
        star = frame.find(b"*", pos)
        if star < 0:
            raise DecodeError("IndexOutOfBounds: no '*' after the id")
        dev = _ascii(frame[pos:star])
        if self.devices is not None and dev not in self.devices:
            self.unknown_device += 1  # "Unknown device": dropped, no reply (§3)
            self._flush(c)
            return
        c.device = dev
        self._bound[dev] = c
        pos = star + 1
        index = None
        ci = frame.find(b"*", pos)
        if ci + 5 < n and frame[ci + 5] == 0x2A and _jhex(_ascii(frame[ci + 1:ci + 5])):
            if ci < pos:
                raise DecodeError("IndexOutOfBounds: index")
            c.has_index = True
            index = _ascii(frame[pos:ci])
            pos = ci + 1
        pos += 5  # length (never checked) and '*'
        end = n - 1  # the closing ']' is ignored
        if pos > n or end < pos:
            raise DecodeError("IndexOutOfBounds: header")
        ci = frame.find(b",", pos, end)
        if ci < 0:
            ci = end
        typ = _ascii(frame[pos:ci])
        rest = _ascii(frame[ci + 1:end]) if ci < end else ""
        self.frames.append((dev, typ, _ascii(frame[pos:end])))

        if typ == "INIT":
            self._reply(c, dev, index, "INIT,1")
        elif typ == "LK":
            self._reply(c, dev, index, "LK")
            if rest:
                values = _jsplit(rest)
                if len(values) >= 3:
                    battery = _jint(values[2], 10, "LK battery")
                    steps = _jint(values[0], 10, "LK steps")
                    self.heartbeats.append({"device": dev, "type": "LK", "battery": battery, "steps": steps})
                    # Traccar stores an LK with values as a position row at the last
                    # location (issue 7); a bare LK stores nothing
                    self.rows += 1
        elif typ.startswith("UD") or typ.startswith("AL") or typ.startswith("WT"):
            p = _position(rest)  # an exception here closes the connection before any ack
            if typ.startswith("AL"):
                if p is not None and p["alarm"] is None:
                    p["alarm"] = "general"
                self._reply(c, dev, index, "AL")
            if p is not None:
                p["device"] = dev
                p["type"] = typ
                self.positions.append(p)
                self.rows += 1
        elif typ == "TKQ" or typ == "TKQ2":
            self._reply(c, dev, index, typ)
        elif typ.upper() in _HEALTH:
            if rest:
                self.health.append(_health(dev, typ.upper(), _jsplit(rest)))
        elif typ == "JXTK":
            k = -1
            for _ in range(4):
                k = rest.find(",", k + 1)
                if k < 0:
                    raise DecodeError("IndexOutOfBounds: JXTK header")
            values = rest[:k].split(",")
            _jint(values[2], 10, "JXTK current")
            _jint(values[3], 10, "JXTK total")
            self._reply(c, dev, index, "JXTKR,1")
        # img, TK, TK2 (media) and every unknown type: no reply (§3, §4)
        self._flush(c)


def _health(dev, typ, values):
    """PULSE/HEART/BLOOD/BPHRT/TEMP/btemp2/oxygen, with Traccar's index errors (§4)."""
    rec = {"device": dev, "type": typ}
    i = 0
    if typ == "TEMP":
        rec["temp"] = _jdouble(_at(values, 0, "TEMP"))
    elif typ == "BTEMP2":
        if _jint(_at(values, 0, "btemp2 flag"), 10, "btemp2 flag") > 0:
            rec["temp"] = _jdouble(_at(values, 1, "btemp2 temp"))
    elif typ == "OXYGEN":
        rec["spo2"] = _jint(_at(values, 1, "oxygen"), 10, "oxygen")
    else:
        if typ in ("BPHRT", "BLOOD"):
            rec["high"] = _at(values, 0, "pressure high")
            rec["low"] = _at(values, 1, "pressure low")
            i = 2
        if i <= len(values) - 1:
            rec["heart_rate"] = _jint(values[i], 10, "heart rate")
    return rec


def _jdouble(s):
    """Double.parseDouble, closely enough: the text is kept, an unparsable one throws."""
    try:
        float(s)
    except ValueError:
        raise DecodeError("NumberFormatException double: %r" % s)
    return s


def _to_ascii(s):
    """String -> bytes as Java's US_ASCII encoder: other characters become '?'."""
    for ch in s:
        if ord(ch) > 0x7F:
            return "".join([x if ord(x) < 0x80 else "?" for x in s]).encode()
    return s.encode()


# ---- TLS in front of a plain server (docs/transports.md) --------------------------------------

CHAIN_BYTES = 2900  # ASSUMED Certificate record: a leaf and an intermediate, RSA-2048, ~1.4 KB each
_PEM_LINE = 64  # base64 characters per PEM line (RFC 7468 §2)


def ca_pem(name, size=880):
    """A stand-in CA certificate for the simulator: PEM text (RFC 7468 §2) whose DER bytes are
    made from the CA's name alone (an LCG fills them), so the same name gives the same
    certificate on both interpreters and different names differ everywhere. No cryptography:
    the modem emulator compares the DER of the CA it was given with the root a TlsFront names."""
    seed = 0
    for ch in name:
        seed = (seed * 131 + ord(ch)) & 0x7FFFFFFF
    der = bytearray(b"\x30\x82" + bytes([(size - 4) >> 8, (size - 4) & 0xFF]))
    der.extend(b"TRYGG-SIM-CA " + name.encode())
    while len(der) < size:
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        der.append((seed >> 16) & 0xFF)
    b64 = binascii.b2a_base64(bytes(der)).decode().replace("\n", "")
    lines = [b64[i:i + _PEM_LINE] for i in range(0, len(b64), _PEM_LINE)]
    return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"


def pem_der(pem):
    """The DER bytes of a PEM certificate (str)."""
    a = pem.index("-----BEGIN CERTIFICATE-----") + 27
    b = pem.index("-----END CERTIFICATE-----", a)
    return binascii.a2b_base64("".join(pem[a:b].split()))


class TlsFront(_Acceptor):
    """A TLS-terminating stream proxy in front of a plain server, as docs/transports.md sets one
    up before Traccar (nginx `stream { server { listen 5094 ssl; proxy_pass 127.0.0.1:5093; }}`,
    or stunnel), modelled at the record level like the modem emulator's TLS: no cryptography.
    Its certificate chain ends in the CA named `ca` (ca_pem(ca)); a client's modem asks
    tls_hello(sni) -> {"root": DER of that CA, "chain_bytes": the Certificate record's size},
    checks the root against the CA it was given and answers tls_done() (the proxy then
    connects to the backend and passes bytes both ways) or tls_alert(why) (refused: counted,
    closed). Plain bytes on the TLS port (a client that did not start TLS) fail the handshake
    as nginx's would: counted in `plain`, the connection closed.

    wire: optional fn(dir, channel, peer, data): channel "tls", one line per handshake outcome.
    Counters: connections, handshakes, refused, plain."""

    def __init__(self, backend, ca, chain_bytes=CHAIN_BYTES):
        _Acceptor.__init__(self)
        self.backend = backend
        self.ca = ca
        self.root = pem_der(ca_pem(ca))
        self.chain_bytes = chain_bytes
        self.handshakes = 0
        self.refused = 0
        self.plain = 0

    def set_ca(self, ca):
        """Present a chain ending in the CA named ca from the next handshake on (a certificate
        replaced on the proxy)."""
        self.ca = ca
        self.root = pem_der(ca_pem(ca))

    def _open(self, peer, send, close):
        return _TlsConn(self, peer, send, close)

    def _wire(self, direction, peer, text):
        if self.wire is not None:
            self.wire(direction, "tls", peer, text.encode())


class _TlsConn:
    def __init__(self, front, peer, send, close):
        self.front = front
        self.peer = peer
        self._send = send
        self._close = close
        self.alive = True
        self.inner = None  # the backend's connection once the handshake is done

    def tls_hello(self, sni):
        return {"root": self.front.root, "chain_bytes": self.front.chain_bytes}

    def tls_alert(self, why):
        self.front.refused += 1
        self.front._wire("up", self.peer, "alert: %s (the client refused this server's certificate)" % why)
        self._server_close()

    def tls_done(self):
        f = self.front
        f.handshakes += 1
        f._wire("up", self.peer, "handshake done")
        self.inner = f.backend.connect(self.peer, self._send, self._inner_closed)
        if self.inner is None:  # the backend refused (down): the proxy closes the client
            self._server_close()

    def receive(self, data):
        if not self.alive:
            return
        if self.inner is None:
            self.front.plain += 1
            self.front._wire("up", self.peer, "not TLS (%d bytes): handshake failed, closed" % len(data))
            self._server_close()
            return
        self.inner.receive(data)

    def close(self):
        """The client closed."""
        if self.alive:
            self.alive = False
            if self in self.front.conns:
                self.front.conns.remove(self)
            inner, self.inner = self.inner, None
            if inner is not None and hasattr(inner, "close"):
                inner.close()

    def _inner_closed(self):
        """The backend closed: so does the proxy, toward the client."""
        self.inner = None
        self._server_close()

    def _server_close(self):
        if self.alive:
            self.alive = False
            if self in self.front.conns:
                self.front.conns.remove(self)
            inner, self.inner = self.inner, None
            if inner is not None and hasattr(inner, "close"):
                inner.close()
            self._close()


# ---- the OsmAnd protocol (watch-protocol.md §7) -----------------------------------------------

OSMAND_PORT = 5055  # §1
_HTTP_MAX = 8192  # an HTTP request larger than this is garbage here (Traccar's limits are higher)
_UNIX_2000 = 946684800  # Unix seconds at 2000-01-01T00:00:00Z (the firmware's epoch)


def _pct(s):
    """Percent-decoding of a query component, '+' as space (Netty's QueryStringDecoder)."""
    if "%" not in s and "+" not in s:
        return s
    out = bytearray()
    i = 0
    b = s.encode()
    while i < len(b):
        c = b[i]
        if c == 0x25 and i + 3 <= len(b) and _jhex(b[i + 1:i + 3].decode()):
            out.append(int(b[i + 1:i + 3].decode(), 16))
            i += 3
            continue
        out.append(0x20 if c == 0x2B else c)
        i += 1
    return bytes(out).decode()


def _query(q):
    """'a=1&b=2&a=3' -> [(name, value)] in order (repeatable names kept, as Traccar reads them)."""
    out = []
    for part in q.split("&"):
        if part:
            k, _, v = part.partition("=")
            out.append((_pct(k), _pct(v)))
    return out


def _double(s, what):
    """Double.parseDouble, for the decimal forms a device sends: -?digits[.digits]."""
    t = s.strip()
    if not _number(t, True, False) or t in ("", "-"):
        raise DecodeError("NumberFormatException %s: %r" % (what, s))
    return t


class OsmAndServer(_Listener):
    """Traccar's OsmAnd protocol (HTTP, port 5055) for the simulator, after OsmAndProtocolDecoder
    as watch-protocol.md §7 describes it, written independently of the firmware's encoder
    (firmware/osmand.py). Positions, position rows and the command queue are shared with the
    `store` (the WatchServer of the same Traccar), so a day's accounting is the same whichever
    protocol the watch speaks; each position carries "protocol": "osmand" and "type" "AL" when it
    has an alarm attribute, else "UD" (the watch message it stands for).

    Rules kept: any method, path ignored, parameters from the query (or an urlencoded body when
    the query is empty); `id` or `deviceid` missing or unknown -> 400 Bad Request, nothing
    stored; `timestamp` below 2^31-1 is Unix seconds, else milliseconds, text with a T ISO-8601,
    else "yyyy-MM-dd HH:mm:ss" in the server's zone (UTC here), missing: the server's time; lat,
    lon (or location=lat,lon; absent: the device's last location); valid (true/1); speed in
    knots; bearing or heading; altitude; accuracy; hdop; batt; charge; cell mcc,mnc,lac,cid[,rssi]
    and wifi mac,rssi ('-' in the MAC becomes ':'), both repeatable; anything else an attribute
    (alarm=sos gives the alarm). A number that does not parse throws: the connection is closed
    without an answer (§1). The answer is `HTTP/1.1 200 OK` with a content-length and, as body,
    one queued command's text for that device (or nothing). The JSON format is not emulated
    (400). Idle connections are closed after idle_timeout_ms (server.timeout, §1).

    Records: requests [(device or None, status, query)], errors; counters connections,
    disconnects, drops, timeouts, bytes_up, bytes_down. wire: fn(dir, channel, peer, data) with
    channel "osmand": the request line up, "<status> <reason>[ <body>]" down."""

    def __init__(self, store, devices=None, now_ms=None, wall_s=None, idle_timeout_ms=IDLE_TIMEOUT_MS):
        _Listener.__init__(self, devices, now_ms, idle_timeout_ms)
        self.store = store
        self.wall_s = wall_s  # fn() -> epoch-2000 seconds now (a missing timestamp)
        self.requests = []

    def _open(self, peer, send, close):
        return _HttpConn(self, peer, send, close)

    def set_mode(self, mode):
        """Only the watch server misbehaves (host_sim/traccar.py MODES)."""

    def _wire(self, direction, peer, text):
        if self.wire is not None:
            self.wire(direction, "osmand", peer, _to_ascii(text))

    # ---- OsmAndProtocolDecoder

    def handle(self, c, method, target, headers, body):
        """One request -> (status, body text). DecodeError where Traccar would throw."""
        q = target.partition("?")[2]
        if not q and body and "json" not in headers.get("content-type", ""):
            q = _ascii(body)
        elif not q and body:
            return 400, ""  # the JSON format (Traccar >= 6.7) is not emulated
        params = _query(q)
        dev = None
        for k, v in params:
            if k in ("id", "deviceid"):
                dev = v
        if dev is None or (self.devices is not None and dev not in self.devices):
            self.store.unknown_device += 1
            self.requests.append((dev, 400, q))
            return 400, ""
        p = {"device": dev, "protocol": "osmand", "valid": True, "time": None, "lat": None, "lon": None,
             "speed_kmh10": 0, "course": 0, "alt": 0, "sats": None, "rssi": None, "battery": None,
             "steps": None, "status": None, "alarm": None, "motion": False, "accuracy": None,
             "cells": [], "wifis": [], "network_ignored": False, "attributes": {}}
        for k, v in params:
            if k in ("id", "deviceid"):
                continue
            if k == "timestamp":
                p["time"] = self._time(v)
            elif k == "lat":
                p["lat"] = _scaled(_double(v, "lat"), 6)
            elif k == "lon":
                p["lon"] = _scaled(_double(v, "lon"), 6)
            elif k == "location":
                a, _, b = v.partition(",")
                p["lat"], p["lon"] = _scaled(_double(a, "lat"), 6), _scaled(_double(b, "lon"), 6)
            elif k == "valid":
                p["valid"] = v.lower() == "true" or v == "1"
            elif k == "speed":
                # knots (osmand.speed unset); kept here as 0.1 km/h like the watch positions
                p["speed_kmh10"] = (_scaled(_double(v, "speed"), 3) * 1852 + 50000) // 100000
            elif k in ("bearing", "heading"):
                p["course"] = _scaled(_double(v, k), 0)
            elif k == "altitude":
                p["alt"] = _scaled(_double(v, k), 0)
            elif k == "accuracy":
                p["accuracy"] = _scaled(_double(v, k), 0)
            elif k == "batt":
                p["battery"] = _scaled(_double(v, k), 0)
            elif k == "cell":
                f = v.split(",")
                if len(f) < 4:
                    raise DecodeError("ArrayIndexOutOfBounds: cell %r" % v)
                rssi = _jint(f[4], 10, "cell rssi") if len(f) > 4 and f[4] else None
                p["cells"].append((_jint(f[0], 10, "mcc"), _jint(f[1], 10, "mnc"), _jint(f[2], 10, "lac"),
                                   _jint(f[3], 10, "cid"), rssi))
            elif k == "wifi":
                mac, _, r = v.partition(",")
                p["wifis"].append((mac.replace("-", ":"), _jint(r, 10, "wifi rssi")))
            elif k == "alarm":
                p["alarm"] = v
            elif k == "sat":
                p["sats"] = _jint(v, 10, "sat")
            else:
                p["attributes"][k] = v
        if p["time"] is None:
            p["time"] = self.wall_s() if self.wall_s is not None else 0
        if p["lat"] is None or p["lon"] is None:
            last = [x for x in self.store.positions if x["device"] == dev]
            if last:  # the last known location, reused (§7)
                p["lat"], p["lon"] = last[-1]["lat"], last[-1]["lon"]
                p["valid"] = False
            else:
                p["lat"] = p["lon"] = 0
        if abs(p["lat"]) > 90000000 or abs(p["lon"]) > 180000000:
            raise DecodeError("coordinate out of range")
        p["type"] = "AL" if p["alarm"] else "UD"
        self.store.positions.append(p)
        self.store.rows += 1
        self.requests.append((dev, 200, q))
        text = ""
        pending = self.store.queued.get(dev)
        if pending:  # one queued command per answer (§7), Traccar's shared queue
            content = pending.pop(0)
            if not pending:
                del self.store.queued[dev]
            if isinstance(content, str):
                content = content.replace("{uniqueId}", dev)
                self.store.commands.append((dev, content))
                text = content
        return 200, text

    def _time(self, v):
        if v and _digits(v):
            n = int(v)
            unix = n if n < _I32_MAX else n // 1000
            return unix - _UNIX_2000
        if "T" in v:
            return clock.parse_iso8601(v[:19] + "Z")
        # "yyyy-MM-dd HH:mm:ss" in the server's zone: UTC here
        if len(v) != 19 or v[4] != "-" or v[10] != " ":
            raise DecodeError("ParseException timestamp %r" % v)
        return clock.from_parts(int(v[0:4]), int(v[5:7]), int(v[8:10]), int(v[11:13]), int(v[14:16]),
                                int(v[17:19]))


_REASONS = {200: "OK", 400: "Bad Request"}


class _HttpConn(_Link):
    def receive(self, data):
        srv = self.server
        if not self.alive:
            return
        srv.bytes_up += len(data)
        self.last_rx_ms = srv._now()
        self._buf.extend(data)
        while self.alive:
            i = self._buf.find(b"\r\n\r\n")
            if i < 0:
                if len(self._buf) > _HTTP_MAX:
                    self._fail("request too large")
                return
            lines = _ascii(self._buf[:i]).split("\r\n")
            headers = {}
            for line in lines[1:]:
                k, _, v = line.partition(":")
                headers[k.strip().lower()] = v.strip()
            n = headers.get("content-length", "0")
            n = int(n) if _digits(n) else 0
            if len(self._buf) < i + 4 + n:
                return
            body = bytes(self._buf[i + 4:i + 4 + n])
            self._buf = self._buf[i + 4 + n:]
            parts = lines[0].split(" ")
            if len(parts) != 3:
                self._fail("bad request line %r" % lines[0][:60])
                return
            srv._wire("up", self.peer, lines[0])
            try:
                status, text = srv.handle(self, parts[0], parts[1], headers, body)
            except (DecodeError, IndexError, ValueError) as e:
                self._fail("%s (request %r)" % (e, lines[0][:80]))
                return
            payload = _to_ascii(text) if text else b""
            reason = _REASONS.get(status, "?")
            head = "HTTP/1.1 %d %s\r\ncontent-length: %d\r\n\r\n" % (status, reason, len(payload))
            srv._wire("down", self.peer, "%d %s%s" % (status, reason, " " + text if text else ""))
            data = head.encode() + payload
            srv.bytes_down += len(data)
            self._send(data)
