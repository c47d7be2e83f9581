"""The OsmAnd protocol: Traccar's HTTP uplink (port 5055, watch-protocol.md §7), the second
way the watch reports (config "protocol": "osmand"; docs/transports.md).

One GET per queued item, alarms first, over the modem's HTTP(S) service (the driver's
http_get: AT+HTTPINIT once, AT+HTTPPARA="URL", AT+HTTPACTION=0, A76-ATM §16). The query is
built from the stored content (watchproto.values(): the outboxes hold the canonical UD/AL
values, firmware/watchproto.py): id, timestamp (Unix seconds), lat, lon, valid, speed (knots),
bearing, altitude, accuracy, batt, sat, cell (mcc,mnc,lac,cid,rssi, one per cell), wifi
(mac,rssi, one per access point) and, for an alarm, alarm=<Traccar's alarm name> (sos,
geofenceExit, ...; an AL without a mapped bit is "general", as the watch decoder makes it, §6).

Delivery rule: an item leaves its outbox only when its request got a 200 (Traccar stored it).
A 200's body, if any, is a queued command's text (§7: Traccar hands one `custom` command per
answer): it goes to the command layer (firmware/control.py) as a watch-protocol downlink would;
OsmAnd has no way back for the command's echo, so that is dropped (logged). A 400 means the
server does not know this device id (§7): logged clearly, everything stays queued, and the
next try waits (uplink.bad_backoff: 1 .. 30 min: every try costs a transfer). Any other answer
or a failed request (the module's 6xx/7xx codes) is an outage: the reports stay queued and the
uplink backs off as for a failed connect. An answer that refuses the request itself (413, 414,
431: too large) twice in a row drops that item (report_rejected), since sending it again can
never succeed. With "tls" the URL is https:// and the module checks the server against the
provisioned CA (the driver's TlsRefused: `tls_refused` in the log, nothing sent, never plain).
"""
from firmware import log, smscodec, watchproto
from firmware.compat import const

_UNIX_2000_K = const(946684)  # Unix seconds at 2000-01-01: 946684 * 1000 + 800
_UNIX_2000_R = const(800)
# Traccar's decodeAlarm order (watch-protocol.md §6) and its alarm names (Position.ALARM_*)
_ALARMS = ((0, "lowBattery"), (1, "geofenceExit"), (2, "geofenceEnter"), (14, "powerCut"), (16, "sos"),
           (17, "lowBattery"), (18, "geofenceExit"), (19, "geofenceEnter"), (20, "removing"),
           (21, "fallDown"), (22, "fallDown"))
# statuses that refuse the request itself: sending the same again cannot succeed
_TOO_LARGE = (413, 414, 431)
_REFUSED_MAX = const(2)


def unix(t):
    """Epoch-2000 seconds -> Unix seconds as decimal text, in small ints (2^30 on the ESP32)."""
    hi = t // 1000 + _UNIX_2000_K
    lo = t % 1000 + _UNIX_2000_R
    if lo >= 1000:
        hi += 1
        lo -= 1000
    return "%d%03d" % (hi, lo)


def _deg(udeg):
    a = -udeg if udeg < 0 else udeg
    return "%s%d.%06d" % ("-" if udeg < 0 else "", a // 1000000, a % 1000000)


def knots(kmh100):
    """0.01 km/h -> knots with two decimals (1 kn = 1.852 km/h), rounded."""
    k = (kmh100 * 1000 + 926) // 1852
    return "%d.%02d" % (k // 100, k % 100)


def alarm(v):
    """Traccar's alarm for a position's status word (first bit in its order), 'general' for an
    AL without one (§6), None for a report."""
    for bit, name in _ALARMS:
        if v.status & (1 << bit):
            return name
    return "general" if v.kind[:2] == "AL" else None


def query(content, dev_id):
    """The OsmAnd query string of a stored UD/AL content. ValueError if the content cannot be
    read (watchproto.values) or the id holds anything but letters and digits. Every value is
    digits, '.', '-', ',' or ':' (allowed in a query, RFC 3986 §3.4): nothing to escape, and
    nothing that could end the AT command's quotes."""
    for c in dev_id:
        if not ("0" <= c <= "9" or "A" <= c <= "Z" or "a" <= c <= "z"):
            raise ValueError("device id: letters and digits only: %r" % dev_id)
    v = watchproto.values(content)
    parts = ["id=" + dev_id, "timestamp=" + unix(v.t), "lat=" + _deg(v.lat), "lon=" + _deg(v.lon),
             "valid=" + ("true" if v.valid else "false"), "speed=" + knots(v.speed),
             "bearing=%d" % v.course, "altitude=%d" % v.alt]
    if v.acc is not None:
        parts.append("accuracy=%d" % v.acc)
    parts.append("batt=%d" % v.batt)
    parts.append("sat=%d" % v.sats)
    for lac, cid, rssi in v.cells:
        cell = "cell=%d,%d,%d,%d" % (v.mcc, v.mnc, lac, cid)
        parts.append(cell if rssi is None else cell + ",%d" % rssi)
    for _, mac, rssi in v.wifis:
        for c in mac:
            if c not in "0123456789abcdefABCDEF:":
                raise ValueError("wifi mac: %r" % mac)
        parts.append("wifi=%s,%d" % (mac.lower(), rssi))
    a = alarm(v)
    if a is not None:
        parts.append("alarm=" + a)
    return "&".join(parts)


def url(host, port, tls, q):
    return "%s://%s:%d/?%s" % ("https" if tls else "http", host, port, q)


class OsmAnd:
    """The OsmAnd half of the uplink (firmware/uplink.py Uplink holds the outboxes, the backoff
    and the loop; this sends). deliver() sends what is queued, oldest first, alarms first."""

    def __init__(self, up):
        self.up = up
        self._refused = None  # (outbox, seq) of an item answered 413/414/431 ...
        self._refused_n = 0  # ... that many times in a row

    async def deliver(self):
        """Send every queued item (not held), one GET each. True if all went; False when a
        request failed (the uplink's retry time is set)."""
        up = self.up
        cfg = up._cfg
        sent = 0
        through = None
        while True:
            box = up._al if up._al is not None and len(up._al) else None
            if box is None:
                if not len(up._ob) or up._held():
                    break
                box = up._ob
            items = box.pending(1)
            if not items:
                break
            seq, content = items[0]
            alarm_box = box is up._al
            try:
                u = url(cfg["server_host"], cfg["server_port"], cfg["tls"], query(content, up.device_id))
            except ValueError as e:
                up._reject(box, seq, "unencodable: %r" % e)
                continue
            try:
                m = up._m
                if not m.net_up:
                    # the data connection as on a watch-protocol day (the positioning's AGPS
                    # needs it); the HTTP service activates the same PDP context itself
                    await m.net_open()
                if cfg["tls"]:
                    await up._ca.load(m)  # the CA in the modem's SSL context 0 (once per boot)
                status, body = await m.http_get(u, cfg["tls"], urgent=alarm_box)
            except OSError as e:
                self._log_sent(sent, through)
                up._failed_request(e)
                return False
            if alarm_box:
                up._alarm_out.set()
            if status == 200:
                box.ack_through(seq)
                up._request_ok()
                self._refused = None
                if alarm_box:
                    log.event("alarm_delivered", n=1, through=seq)
                else:
                    up.delivered += 1
                    sent += 1
                    through = seq
                if body:
                    self._command(body)
                continue
            self._log_sent(sent, through)
            sent = 0
            if status == 400:
                up._refused_device()
                return False
            if status in _TOO_LARGE:
                if self._refused == (box, seq):
                    self._refused_n += 1
                else:
                    self._refused, self._refused_n = (box, seq), 1
                if self._refused_n >= _REFUSED_MAX:
                    self._refused = None
                    up._reject(box, seq, "HTTP %d for it %d times" % (status, _REFUSED_MAX))
                    continue
            up._failed_request(OSError(5, "HTTP %d" % status))
            return False
        self._log_sent(sent, through)
        return True

    def _log_sent(self, n, through):
        if n:
            log.event("delivered", n=n, through=through, queued=len(self.up._ob))

    def _command(self, body):
        """A 200's body: a command's text (§7), carried out like a watch-protocol downlink. Its
        reply has no way back over OsmAnd."""
        up = self.up
        text = smscodec.printable(body[:120])
        log.event("downlink", type=text.split(",", 1)[0][:16], content=text, via="osmand")
        if up.on_command is None:
            return
        frame = watchproto.Frame(up._cfg["maker"], up.device_id, None, len(body), bytes(body))
        try:
            if up.on_command(frame):
                log.event("command_reply_dropped", why="OsmAnd has no way back for replies")
        except ValueError as e:
            log.event("error", where="osmand_command", err=repr(e))
