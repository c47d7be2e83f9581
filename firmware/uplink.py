"""The link to the Traccar server: one TCP session speaking the `watch` protocol, over TLS when
configured; or the OsmAnd protocol over HTTP(S) (firmware/osmand.py). docs/transports.md.

Delivery rule (watch-protocol.md §4): Traccar never acks UD, but acks every LK with `LK` and
TCP keeps order. So each batch of queued reports goes out in one send followed by an LK, and
when that LK's ack arrives every report before it is known to be at the server: only then are
they removed from the outbox. No ack within ACK_TIMEOUT: the session is presumed dead, closed,
and the same reports are sent again on the next session (at-least-once; Traccar stores a
duplicate rather than losing one).

Alarms first: alarm frames (AL) wait in an outbox of their own, and every send takes them
before any report, so an SOS goes out in the next send even when hundreds of reports wait from
an outage; a send that carries an alarm goes ahead of other work on the AT channel.

The LK doubles as the heartbeat: Traccar drops a socket idle for 1800 s (§1), so an LK also goes
out when nothing was acked for heartbeat_s. Every LK is bare (`LK`, no values): Traccar stores a
position row for an LK that carries values, but not for a bare one (§4). Downlinks that are not
acks go to the command layer (firmware/control.py). Reconnects back off exponentially.

A broken or hostile server must not drain the battery (issue 8): every downlink byte wakes the
radio, the modem and the ESP32, and a session lives as long as the server keeps it up. So a
session is dropped as misbehaving when a frame trickles in (bytes outside a complete frame over
_TRICKLE_READS reads and _FRAME_MS: slowloris, dripped acks), when a minute brings more than
_RX_MINUTE_MAX bytes (a flood), when more than _UNASKED_MAX frames in an hour are not the acks
the watch asked for (commands, unsolicited acks, junk), or when a send goes unacked for the
second session in a row (the ack timeout bounds the time a session waits for one). Each such
session in a row doubles a wait of its own before the next connect (bad_backoff: 1 min .. 30
min), which only a new alarm skips; the reports stay in the outbox until acked, as ever.

One bad report must not block the ones behind it (issue 10 #2: a value the server's decoder
throws on makes Traccar close the link, and the same batch went out again for 72 hours). When
sends with the same oldest item go unacked twice in a row, the next session sends a bare LK
first: not acked, it is the network or the server, and nothing changes; acked, the items go one
at a time, and one that is refused alone in two sessions whose probe was acked is dropped
(`report_rejected` / `alarm_rejected` in the log, `rejected` counted). An item that cannot be
encoded at all is dropped when it is the oldest. Alarms never wait for a suspected report's
probe: they go alone, first; and a new alarm does not wait for the probe of a suspected alarm
either: the alarm queue goes once without it (a server that stores without acking must still
get every crossing and SOS at once).

Transports (config "tls", "protocol"; docs/transports.md). With "tls" the session is the
modem's TLS client (the driver's tls_* methods: A76-ATM §19), its server checked against the
CA provisioned with the watch (<root>/ca.pem, handed to the modem once under a name made from
its CRC, never logged): a server the CA does not vouch for is refused by the modem (the
driver's TlsRefused) and logged as `tls_refused`; the reports wait (bad_backoff between tries:
each costs a handshake), and nothing ever goes in clear while "tls" is set, whatever fails. With
"protocol": "osmand" each item is one HTTP(S) GET (firmware/osmand.py), acked by its 200; there
is no session and no heartbeat. A modem driver without TLS or HTTP (has_tls / has_http) cannot
carry what the config asks: a clear error is logged and the reports stay queued.
"""
import asyncio
from binascii import crc32

from firmware import clock, fsutil, log, osmand, smscodec, watchproto
from firmware.compat import const, wait_for_ms

_LINK = const(0)
_ACK_TIMEOUT_MS = const(30000)
_CONNECT_TIMEOUT_MS = const(30000)
# An item whose sends went unacked this many times in a row is suspected (then sent alone after
# a probe; dropped when refused alone as often again): see Uplink._failed
_SUSPECT_FAILS = const(2)
_BATCH = const(16)  # reports per send: ~16 x 180 B stays well inside one modem send (1460 B MTU x2)
_BACKOFF_MIN_S = const(5)
# Capped at one default report interval: a safety watch should not sit on queued reports for
# long after the network comes back, and one attempt per 5 minutes costs a few radio seconds.
_BACKOFF_MAX_S = const(300)
_IDLE_MS = const(3600000)
# Traccar drops a socket idle for 1800 s (watch-protocol.md §1): heartbeat_s is at most 1740 s
# for that (config.py), and held reports may not keep the session silent longer either. Without
# this cap a report held just before a long heartbeat_s came due went batch_s later, up to
# 1740 + 900 s after the last ack.
_SILENT_MAX_MS = const(1740000)
# Downlink commands are short text; a server that streams an endless frame must not take the
# ESP32's heap (Traccar itself allows 32 KiB, watch-protocol.md §2)
_DOWNLINK_MAX = const(4096)  # no server configured: nothing to do until a report or a config change
# Misbehaviour (issue 8). A downlink normally arrives whole, in one or two TCP segments a few ms
# apart, so bytes left outside a complete frame across 3 reads and 10 s are a trickle (a read
# is a wake of the ESP32 and ~10 s of an awake modem). Reads, not time alone: our own AT
# channel can delay the read of a frame's second half by the 40 s of an SMS send.
_FRAME_MS = const(10000)
_TRICKLE_READS = const(3)
# A minute carries an ack or two (~30 B each) and rarely a command (<= 4 KiB: _DOWNLINK_MAX);
# 8 KiB is two of the driver's reads (3 x 1460 B each)
_RX_MINUTE_MAX = const(8192)
# Frames the watch did not ask for (it asks for an ack with each LK and AL it sends): a
# guardian's commands, a few an hour, 12 lets a burst of settings through. Each costs a wake,
# and some a GNSS search (CR): a server that streams them must not run the battery down
_UNASKED_MAX = const(12)
_UNASKED_MS = const(3600000)
# The wait after a session dropped for misbehaviour, doubling with each in a row: 1, 2, 4 ...
# 30 min. Reports wait longer once such a server behaves again (at most 30 min); a session
# every 30 min (a connect, a send, a close and their radio tails) costs ~1 mA while the
# server misbehaves, less than the report sends it holds back. A session acked after
# _CLEAN_MS forgets the count.
_BAD_BACKOFF_MIN_S = const(60)
_BAD_BACKOFF_MAX_S = const(1800)
_CLEAN_MS = const(600000)
CA_FILE = "ca.pem"  # the CA provisioned with the watch (TLS), in the flash root
_CA_MAX = const(10240)  # the most a modem takes (A76-ATM §19.2.2 AT+CCERTDOWN <len>)
_CA_PREFIX = "trygg"  # its name in the modem: trygg<crc32 hex>.pem; a new CA, a new name


class Ca:
    """The CA provisioned with the watch (<root>/ca.pem, PEM). load(modem) makes it the one the
    modem checks servers against, storing it there only when the modem lacks it (the name
    carries the file's CRC-32: a CA replaced on flash is stored anew under its own name). The
    text is read only to hand it to the modem, and never logged."""

    def __init__(self, root):
        self.path = fsutil.join(root, CA_FILE) if root else CA_FILE
        self.name = None

    def present(self):
        n = fsutil.size(self.path)
        return n is not None and 0 < n <= _CA_MAX

    async def load(self, modem):
        if self.name is not None and modem.tls_ca_name == self.name:
            return
        pem = fsutil.read_bytes(self.path, _CA_MAX + 1)
        if not pem or len(pem) > _CA_MAX:
            raise OSError(2, "no usable CA at %s" % CA_FILE)
        self.name = "%s%08x.pem" % (_CA_PREFIX, crc32(pem) & 0xFFFFFFFF)
        if modem.tls_ca_name != self.name:
            await modem.tls_setup(self.name, pem, _CA_PREFIX)


class _Tcp:
    """The watch protocol's bytes over the modem's TCP socket, link 0 (A76-ATM §15)."""

    tls = False
    link = _LINK

    def __init__(self, modem):
        self.m = modem

    async def open(self, host, port):
        await self.m.net_open()
        await self.m.tcp_open(_LINK, host, port, _CONNECT_TIMEOUT_MS)

    async def send(self, data, urgent=False):
        await self.m.tcp_send(_LINK, data, urgent=urgent)

    async def recv(self):
        return await self.m.tcp_recv(_LINK)

    async def close(self):
        await self.m.tcp_close(_LINK)


class _Tls(_Tcp):
    """... over the modem's TLS session 0 (A76-ATM §19), the server checked against the CA."""

    tls = True

    def __init__(self, modem, ca):
        self.m = modem
        self.ca = ca
        self.link = modem.tls_link

    async def open(self, host, port):
        await self.ca.load(self.m)
        # the data connection as on a plain day (AT+NETOPEN: the positioning's AGPS uses it);
        # the SSL service activates the same PDP context itself (AT+CCHSTART, §19.2.7)
        await self.m.net_open()
        await self.m.tls_open(0, host, port, _CONNECT_TIMEOUT_MS)

    async def send(self, data, urgent=False):
        await self.m.tls_send(0, data, urgent=urgent)

    async def recv(self):
        return await self.m.tls_recv(0)

    async def close(self):
        await self.m.tls_close(0)


def _splitter():
    return watchproto.FrameSplitter(_DOWNLINK_MAX, False)


def next_backoff(prev_s):
    """Exponential reconnect backoff: 5, 10, 20 ... 300 s."""
    if prev_s <= 0:
        return _BACKOFF_MIN_S
    return min(_BACKOFF_MAX_S, prev_s * 2)


def bad_backoff(strikes):
    """The wait after the strikes-th session in a row dropped for misbehaviour: 60, 120, 240
    ... 1800 s (0 for none)."""
    if strikes <= 0:
        return 0
    return min(_BAD_BACKOFF_MAX_S, _BAD_BACKOFF_MIN_S << min(strikes - 1, 5))


class Uplink:
    def __init__(self, modem, cfg, outbox, device_id, alarms=None, on_command=None):
        """alarms: the outbox of alarm frames, sent before the reports; on_command(frame) -> the
        reply frame (bytes) or None, for every downlink that is not an ack (firmware/control.py)."""
        self.on_command = on_command
        self._replies = []
        self._hold_until = None  # ticks: queued reports may wait until then (kick(hold_ms))
        self._asked_until = None  # ticks: reports queued before then go at once (asked())
        self._m = modem
        self._cfg = cfg
        self._ob = outbox
        self._al = alarms
        self.device_id = device_id
        self._split = _splitter()
        self.connected = False
        self.backoff_s = 0
        self._retry_at = None  # ticks before which no reconnect is attempted
        self._last_ack = None  # ticks of the last LK/AL ack
        self._kick = asyncio.Event()
        self._rx = asyncio.Event()
        self._ack = asyncio.Event()
        self._reading = asyncio.Lock()
        self._alarm_out = asyncio.Event()  # a send carrying alarms was written, or the session died
        self._alarm_lost = False  # ... it died: the alarm was not written (alarm_written)
        self.delivered = 0
        self._got_ack = False  # the LK ack a send waits for came (_ack also wakes on a loss)
        self._unacked = False  # the last session ended without the ack it waited for
        self.strikes = 0  # sessions in a row dropped for misbehaviour
        self._bad_until = None  # ticks before which only a new alarm connects
        self._alarms_tried = 0  # _alarm_mark() at the last connect
        # A report or alarm the server refuses (it drops the link instead of reading on) must not
        # block the ones behind it (issue 10 #2): see _deliver
        self._suspect = None  # (outbox, seq) of the oldest item of the batches that failed
        self._suspect_fails = 0  # ... how many times in a row
        self._careful = 0  # items still to send one at a time
        self._alarm_free = 0  # seq of the newest alarm sent without waiting for a probe
        self._alone_fails = 0  # the suspect sent alone, after an acked probe, and not acked
        self.rejected = 0  # items dropped because the server refused them every time
        self._ca = Ca(getattr(cfg, "root", None))
        self._tx = _Tcp(modem)  # the transport of the session (set at each connect)
        self._osm = osmand.OsmAnd(self)
        self._proto = None  # the protocol in use ("watch" / "osmand"), to see it change
        self._pass_t = None  # ticks the pass under way began (None: waiting for a kick, a hold, a backoff)
        self._session()

    # ---- called by others ----
    def kick(self, hold_ms=None):
        """New report queued: deliver it now; or, with hold_ms, it may wait that long to go with
        the next ones (a watch standing at a known place, `batch_s`). An earlier deadline is
        kept; any kick without hold_ms (an alarm, a moving child), and any within the window
        of a locate-now (asked), sends everything at once."""
        a = self._asked_until
        if a is not None and clock.ticks_diff(clock.ticks_ms(), a) >= 0:
            a = self._asked_until = None
        if hold_ms is None or a is not None:
            self._hold_until = None
        else:
            until = clock.ticks_add(clock.ticks_ms(), hold_ms)
            h = self._hold_until
            if h is None or clock.ticks_diff(until, h) < 0:
                self._hold_until = until
        self._kick.set()

    def asked(self):
        """A guardian asked where the watch is (CR, "locate now"): the report that answers comes
        within its GNSS window, and it goes at once with whatever is held (one transfer), as
        any reply does, not batch_s later."""
        self._asked_until = clock.ticks_add(clock.ticks_ms(), (self._cfg["gnss_timeout_s"] + 30) * 1000)

    def _held(self):
        """Reports wait for their batch: no alarm queued, the batch's deadline not passed, and
        (watch protocol) the session not silent for _SILENT_MAX_MS."""
        h = self._hold_until
        if h is None or (self._al is not None and len(self._al)) or self._last_ack is None:
            return False  # a new session's first send goes at once (it also binds the session)
        now = clock.ticks_ms()
        silent = self._proto == "watch" and self._silent_ms(now) >= _SILENT_MAX_MS
        if silent or clock.ticks_diff(now, h) >= 0:
            self._hold_until = None
            return False
        return True

    def _silent_ms(self, now):
        """How long the server has read nothing from this session: since the last ack, or
        since the session began (Traccar's idle timer starts at the connect)."""
        a = self._last_ack
        if a is None or clock.ticks_diff(a, self._since) < 0:
            a = self._since
        return clock.ticks_diff(now, a)

    def _sendable(self):
        return self.queued() and not self._held()

    def on_data(self, link, _=None):
        """Router: the modem holds bytes for a socket (or may: it asks after every RI wake)."""
        if link == self._tx.link and self.connected and self._proto == "watch":
            self._rx.set()

    def on_closed(self, link, _=None):
        if link == self._tx.link and self.connected and self._proto == "watch":
            self._lost("closed by network or server")

    async def alarm_written(self, timeout_ms):
        """After queueing an alarm: wait until a send carrying it is written to the socket, at
        most timeout_ms, and not at all while there is no session. The SOS waits here before
        its SMS take the AT channel, so the AL is the first thing on the air. A session that
        dies meanwhile ends the wait at once (True only if the alarm was written): a watch that
        stood still with its reports held (batch_s) learns of a server outage only when the
        SOS's send fails, and the SOS SMS must not wait out the bound for it."""
        if not self.connected:
            return False
        self._alarm_out.clear()
        self._alarm_lost = False
        self._kick.set()
        try:
            await wait_for_ms(self._alarm_out.wait(), timeout_ms)
        except asyncio.TimeoutError:
            return False
        return not self._alarm_lost

    def _alarm_gone(self):
        """The session an alarm waits for died (or an OsmAnd request failed): wake the SOS in
        alarm_written; the alarm stays queued for the next session."""
        if not self._alarm_out.is_set():  # (written before the session died: it was written)
            self._alarm_lost = True
            self._alarm_out.set()

    def queued(self):
        return len(self._ob) + (len(self._al) if self._al is not None else 0)

    # ---- session ----
    def _session(self):
        """Per-connection bookkeeping of what the server sends (the misbehaviour bounds)."""
        self._bad = None  # why this session was dropped as misbehaving
        self._since = clock.ticks_ms()
        self._owed = 0  # acks the server owes: one per LK and AL sent
        self._min_t = self._since  # the current minute's downlink bytes
        self._min_bytes = 0
        self._unasked_t = self._since  # the current hour's frames not asked for
        self._unasked = 0
        self._partial_t = None  # the first read that left bytes outside a complete frame
        self._partial_reads = 0
        self._probed = False  # a bare LK was acked in this session

    def _lost(self, why, bad=False):
        self.connected = False
        self._split = _splitter()
        self.backoff_s = next_backoff(self.backoff_s)
        now = clock.ticks_ms()
        self._retry_at = clock.ticks_add(now, self.backoff_s * 1000)
        if bad:
            self.strikes += 1
            wait_s = max(self.backoff_s, bad_backoff(self.strikes))
            self._bad_until = clock.ticks_add(now, wait_s * 1000)
            # the network works (the server answered): a new alarm need not wait for more
            self._retry_at = clock.ticks_add(now, _BACKOFF_MIN_S * 1000)
            log.event("disconnect", why=why, retry_s=wait_s, strikes=self.strikes)
        else:
            log.event("disconnect", why=why, retry_s=self.backoff_s)
        self._kick.set()  # the sender may be asleep until a heartbeat: let it plan the reconnect
        self._ack.set()  # ... or waiting for an ack that cannot come now
        self._alarm_gone()  # ... and an SOS waiting for its alarm's send need not

    async def _connect(self):
        cfg = self._cfg
        host, port = cfg["server_host"], cfg["server_port"]
        self._alarms_tried = self._alarm_mark()
        # TLS exactly when configured: a refused or failed TLS connect never falls back to plain
        self._tx = _Tls(self._m, self._ca) if cfg["tls"] else _Tcp(self._m)
        try:
            await self._tx.open(host, port)
        except OSError as e:
            if getattr(e, "tls_refused", False):
                self._tls_refused(host, port, e)
                return False
            self.backoff_s = next_backoff(self.backoff_s)
            self._retry_at = clock.ticks_add(clock.ticks_ms(), self.backoff_s * 1000)
            log.event("connect_failed", host=host, port=port, err=repr(e), retry_s=self.backoff_s)
            return False
        self.connected = True
        self._split = _splitter()
        self._ack.clear()
        self._session()
        log.event("connect", host=host, port=port, id=self.device_id, tls=self._tx.tls)
        return True

    def _tls_refused(self, host, port, e):
        """The server's certificate is not signed by the provisioned CA (or no CA is set): the
        modem refused the handshake and sent nothing. Logged for the people who run the server;
        the next try waits bad_backoff (each costs a handshake, ~4 KB), and no alarm skips it:
        an alarm cannot go to that server either."""
        self.strikes += 1
        wait_s = max(next_backoff(self.backoff_s), bad_backoff(self.strikes))
        self.backoff_s = next_backoff(self.backoff_s)
        self._retry_at = clock.ticks_add(clock.ticks_ms(), wait_s * 1000)
        log.event("tls_refused", host=host, port=port, err=getattr(e, "code", None), retry_s=wait_s,
                  why="the server's certificate is not signed by the CA provisioned with the watch; "
                      "reports stay queued")

    async def _close(self, why, bad=False):
        if self.connected:
            self._lost(why, bad)
        try:
            await self._tx.close()
        except OSError:
            pass

    def _may_connect(self):
        if not self._cfg["server_host"]:
            return False
        now = clock.ticks_ms()
        r = self._retry_at
        if r is not None and clock.ticks_diff(now, r) < 0:
            return False
        b = self._bad_until
        return b is None or clock.ticks_diff(now, b) >= 0 or self._new_alarm()

    def _alarm_mark(self):
        """Alarms ever queued (acked or dropped + waiting): grows by one with each alarm."""
        return self._al.acked + len(self._al) if self._al is not None else 0

    def _new_alarm(self):
        """An alarm queued since the last connect: it goes out despite a misbehaving server's
        wait (an SOS, a zone crossing; the server stores an AL whatever it does with acks)."""
        return self._alarm_mark() > self._alarms_tried

    def _frame(self, content):
        return watchproto.encode(self._cfg["maker"], self.device_id, content)

    def _lk(self):
        """A bare LK: acked like any LK, and stock Traccar stores no position for it, while an
        `LK,steps,rolls,battery` becomes one more position row at the last location (issue 7:
        289 extra rows a day). Battery and steps travel in the UD/AL frames instead."""
        return self._frame(watchproto.LK)

    async def _send_and_confirm(self, payload, what, urgent=False, acks=1):
        """Send frames ending in an LK; True once that LK is acked. urgent: it carries alarms;
        acks: the acks the server owes for them (the LK's and one per AL)."""
        self._ack.clear()
        self._got_ack = False
        self._owed += acks
        await self._tx.send(payload, urgent=urgent)
        if urgent:
            self._alarm_out.set()
        try:
            await wait_for_ms(self._ack.wait(), _ACK_TIMEOUT_MS)
        except asyncio.TimeoutError:
            pass
        if not self._got_ack:
            # The data URC may have been missed (RI pulses merge, light sleep drops UART
            # bytes), or the server closed after acking: the modem buffers socket data
            # (CIPRXGET mode), so look once before giving the session up.
            await self._read()
            if not self._got_ack:
                # one lost ack may be the network's; two sessions in a row are the server's
                await self._close("no ack for " + what, self._unacked)
                self._unacked = True
                return False
        self.backoff_s = 0
        self._unacked = False
        return True

    def moved_at(self):
        """The watchdog's clock (App._watchdog): ticks when the pass under way began or last had
        an ack (an OsmAnd request its 200), whichever is later, however many batches a backlog
        after an outage still holds; None between passes (waiting is no hang)."""
        t = self._pass_t
        a = self._last_ack
        if t is not None and a is not None and clock.ticks_diff(a, t) > 0:
            return a
        return t

    def _frames(self, box, items):
        """The frames of items (seq, content) up to the first that cannot be encoded (content
        damaged on flash in a way its CRC let through, or written by a buggy firmware): that
        one, if first, is dropped, since no server could ever take it."""
        out = []
        for seq, c in items:
            try:
                out.append(self._frame(c))
            except ValueError as e:
                if not out:
                    self._reject(box, seq, "unencodable: %r" % e)
                break
        return out

    def _reject(self, box, seq, why):
        box.ack_through(seq)  # the oldest pending: acks this one only
        self.rejected += 1
        self._suspect, self._suspect_fails, self._alone_fails = None, 0, 0
        log.event("report_rejected" if box is self._ob else "alarm_rejected", seq=seq, why=why)

    def _failed(self, box, seq, alone):
        """A send whose oldest item was (box, seq) went unacked. Twice in a row with the same
        oldest item: the next session sends a bare LK first (is it the server or the batch?),
        then the items one at a time. The item sent alone after an acked probe and not acked,
        in two such sessions, is one the server refuses: dropped, logged, counted (a network
        that is down acks no probe, so nothing is dropped for an outage)."""
        if self._suspect == (box, seq):
            self._suspect_fails += 1
        else:
            self._suspect, self._suspect_fails, self._alone_fails = (box, seq), 1, 0
        if self._suspect_fails >= _SUSPECT_FAILS:
            self._careful = _BATCH
        if alone and self._probed:
            self._alone_fails += 1
            if self._alone_fails >= _SUSPECT_FAILS:
                self._reject(box, seq, "the server dropped the link for it %d times" % self._alone_fails)

    async def _deliver(self):
        """Send what the outboxes hold, alarms first, then reports oldest first, batch by
        batch. True if all went out, or all but reports queued meanwhile that may wait for
        their batch (a second send in the radio's tail would cost a transfer's active
        seconds for nothing: they go with the next)."""
        while self.connected:
            alarms = self._al.pending(_BATCH) if self._al is not None else []
            # A suspected alarm waits for the probe, but an alarm newer than the last one sent
            # without a probe does not: the whole alarm queue goes at once, once (a crossing or
            # an SOS must reach a server that stores without acking, issue 8; if the oldest
            # alarm is the one refused, the careful pass resumes at the next session). The
            # suspect is forgotten once a careful send is acked or it is dropped: then an
            # alarm goes alone too, as the careful pass goes on.
            fresh = alarms and alarms[-1][0] > self._alarm_free
            careful = self._careful and (not alarms or self._suspect is None or (
                self._suspect[0] is self._al and not fresh))
            if alarms and not careful:
                self._alarm_free = alarms[-1][0]
            if careful:
                # an alarm never waits for the probe of a suspected report: it goes alone first
                if not self._probed:
                    if not await self._send_and_confirm(self._lk(), "probe"):
                        return False
                    self._probed = True
                alarms = alarms[:1]
            n = _BATCH - len(alarms)
            if self._careful:
                n = 0 if alarms else 1
            batch = self._ob.pending(n) if n else []
            if not batch and not alarms:
                return True
            parts = self._frames(self._al, alarms)
            if len(parts) < len(alarms):
                if parts:
                    alarms = alarms[:len(parts)]
                    batch = []
                else:
                    continue  # the first alarm was dropped: take the next
            more = self._frames(self._ob, batch)
            if len(more) < len(batch):
                if not more and not parts:
                    continue  # the first report was dropped: take the next
                batch = batch[:len(more)]
            parts.extend(more)
            parts.append(self._lk())
            if not await self._send_and_confirm(b"".join(parts), "reports", bool(alarms), len(alarms) + 1):
                box, head = (self._al, alarms[0][0]) if alarms else (self._ob, batch[0][0])
                self._failed(box, head, len(alarms) + len(batch) == 1)
                return False
            if careful:
                self._careful -= 1
                self._suspect, self._suspect_fails, self._alone_fails = None, 0, 0
            elif self._suspect is not None and self._suspect[0] is not self._al:
                pass  # alarms went ahead of a suspected report: its count stands
            else:
                self._suspect, self._suspect_fails, self._alone_fails = None, 0, 0
            if alarms:
                self._al.ack_through(alarms[-1][0])
                log.event("alarm_delivered", n=len(alarms), through=alarms[-1][0])
            if batch:
                self._ob.ack_through(batch[-1][0])
                self.delivered += len(batch)
                log.event("delivered", n=len(batch), through=batch[-1][0], queued=len(self._ob))
            if self._held():  # no alarm queued, and reports made meanwhile may wait
                return True
        return False

    def _heartbeat_due(self):
        if self._last_ack is None:
            return True
        return clock.ticks_diff(clock.ticks_ms(), self._last_ack) >= self._cfg["heartbeat_s"] * 1000

    def _ms_until_due(self):
        """How long the sender may sleep when it has nothing to send: while disconnected, until
        the reconnect time; while connected, until the next heartbeat. OsmAnd: until the held
        reports' deadline or the retry time, with nothing queued an hour (no heartbeat)."""
        now = clock.ticks_ms()
        if self._proto == "osmand":
            if not self._cfg["server_host"] or not self.queued():
                return _IDLE_MS
            wait = 0
            h = self._hold_until
            if h is not None and self._held():
                wait = clock.ticks_diff(h, now)
            r = self._retry_at
            if r is not None and clock.ticks_diff(r, now) > wait:
                wait = clock.ticks_diff(r, now)
            return max(0, wait)
        if not self.connected:
            if not self._cfg["server_host"]:
                return _IDLE_MS
            if self._retry_at is None:
                return 0
            wait = clock.ticks_diff(self._retry_at, now)
            b = self._bad_until
            if b is not None and not self._new_alarm():
                wait = max(wait, clock.ticks_diff(b, now))
            return max(0, wait)
        if self._last_ack is None:
            return 0
        hb = self._cfg["heartbeat_s"] * 1000
        wait = hb - clock.ticks_diff(now, self._last_ack)
        h = self._hold_until
        if h is not None and self.queued():
            # held reports go at their deadline, and stand in for the heartbeat until then,
            # but never past _SILENT_MAX_MS of silence (Traccar's idle timeout)
            wait = min(clock.ticks_diff(h, now), _SILENT_MAX_MS - self._silent_ms(now))
        return max(0, wait)

    def _blocked(self):
        """Why nothing can be sent as configured (a clear error for the log), or None."""
        cfg = self._cfg
        if not cfg["server_host"]:
            return "no server configured; reports stay queued"
        m = self._m
        if cfg["tls"] and not getattr(m, "has_tls", False):
            return "TLS is configured but the modem driver has no TLS; reports stay queued (never in clear)"
        if cfg["protocol"] == "osmand" and not getattr(m, "has_http", False):
            return "OsmAnd is configured but this modem's driver has no HTTP; reports stay queued"
        if cfg["tls"] and not self._ca.present():
            return "TLS is configured but no CA was provisioned (%s); reports stay queued" % CA_FILE
        return None

    async def _switch(self, proto):
        """The protocol changed (provisioning, a new config): the old one's link ends first."""
        if self._proto == "watch" and self.connected:
            await self._close("protocol changed to " + proto)
        elif self._proto == "osmand" and hasattr(self._m, "http_term"):
            await self._m.http_term()
        self.connected = False
        self._last_ack = None
        self._proto = proto

    async def run_sender(self):
        """Keep the session up, deliver reports, send heartbeats (watch protocol); or send each
        queued item when due (OsmAnd). Never returns."""
        warned = None
        while True:
            why = None
            self._pass_t = clock.ticks_ms()
            try:
                proto = "osmand" if self._cfg["protocol"] == "osmand" else "watch"
                if proto != self._proto:
                    await self._switch(proto)
                why = self._blocked()
                if why is not None:
                    if why != warned:
                        log.event("error", where="uplink", err=why)
                        warned = why
                    if self.connected:  # e.g. TLS asked for now: the plain session ends here
                        if proto == "watch":
                            await self._close("blocked")
                        self.connected = False
                elif proto == "osmand":
                    warned = None
                    if self._sendable() and self._may_connect():
                        await self._osm.deliver()
                else:
                    warned = None
                    if self.connected and self._tx.tls != self._cfg["tls"]:
                        await self._close("tls setting changed")  # never on in clear
                    if not self.connected and self._may_connect():
                        # reconnect even with nothing queued: a guardian's request ("locate
                        # now") can only reach a watch that holds a session
                        await self._connect()
                    if self.connected:
                        if self._sendable():
                            await self._deliver()
                        elif self._heartbeat_due() and not (self._held() and self.queued()):
                            if await self._send_and_confirm(self._lk(), "heartbeat"):
                                log.event("heartbeat")
            except OSError as e:
                log.event("error", where="uplink", err=repr(e))
                if self._proto == "watch":
                    await self._close("error")
                else:
                    self._failed_request(e)
            self._kick.clear()
            if why is None and self._sendable() and (
                    self.connected if self._proto == "watch" else self._may_connect()):
                continue  # more to send (each pass awaited the modem: no busy loop)
            self._pass_t = None
            try:
                await wait_for_ms(self._kick.wait(), _IDLE_MS if why is not None else self._ms_until_due())
            except asyncio.TimeoutError:
                pass

    # ---- OsmAnd (firmware/osmand.py sends; the state is kept here) ----
    def _request_ok(self):
        """An OsmAnd request got its 200."""
        if not self.connected:
            cfg = self._cfg
            log.event("connect", host=cfg["server_host"], port=cfg["server_port"], id=self.device_id,
                      tls=cfg["tls"], via="osmand")
        self.connected = True
        self.backoff_s = 0
        self.strikes = 0
        self._last_ack = clock.ticks_ms()

    def _failed_request(self, e):
        """An OsmAnd request failed (the module's error code, no answer, a status but 200 or
        400): an outage; the usual backoff, everything stays queued."""
        cfg = self._cfg
        self.connected = False
        self._alarm_gone()
        if getattr(e, "tls_refused", False):
            self._tls_refused(cfg["server_host"], cfg["server_port"], e)
            return
        self.backoff_s = next_backoff(self.backoff_s)
        self._retry_at = clock.ticks_add(clock.ticks_ms(), self.backoff_s * 1000)
        log.event("request_failed", host=cfg["server_host"], port=cfg["server_port"], err=repr(e)[:120],
                  retry_s=self.backoff_s)

    def _refused_device(self):
        """HTTP 400: Traccar does not know this device id (watch-protocol.md §7). Nothing is
        dropped; the next try waits bad_backoff (1 .. 30 min) until someone adds the id."""
        self.connected = False
        self._alarm_gone()
        self.strikes += 1
        wait_s = max(next_backoff(self.backoff_s), bad_backoff(self.strikes))
        self.backoff_s = next_backoff(self.backoff_s)
        self._retry_at = clock.ticks_add(clock.ticks_ms(), wait_s * 1000)
        log.event("error", where="osmand", retry_s=wait_s,
                  err="HTTP 400: the server does not know device id %s (add it in Traccar exactly so); "
                      "reports stay queued" % self.device_id)

    async def run_receiver(self):
        """Read what the server sends: acks and downlink commands. Never returns."""
        while True:
            await self._rx.wait()
            self._rx.clear()
            if self.connected:
                await self._read()

    async def _read(self):
        # one reader at a time: tcp_recv may take several AT commands, and two interleaved
        # readers would hand the splitter the chunks out of order
        async with self._reading:
            if self._bad is not None:
                return  # dropped for misbehaviour: not one more byte of it
            try:
                data = await self._tx.recv()
            except OSError as e:
                log.event("error", where="recv", err=repr(e))
                return
            if data:
                self._on_bytes(data)
            if self._bad is not None:
                self._replies = []
                await self._close(self._bad, True)
                return
            if self._replies and self.connected:
                # the echo of each command (watch-protocol.md §5: Traccar files it under an
                # unknown type and keeps the session): no ack to wait for
                replies, self._replies = self._replies, []
                try:
                    await self._tx.send(b"".join(replies))
                except OSError as e:
                    log.event("error", where="command_reply", err=repr(e))

    def _misbehaving(self, data, frames):
        """Why this read makes the session misbehaving (module docstring), or None."""
        now = clock.ticks_ms()
        if clock.ticks_diff(now, self._min_t) >= 60000:
            self._min_t = now
            self._min_bytes = 0
        self._min_bytes += len(data)
        if self._min_bytes > _RX_MINUTE_MAX:
            return "flood: %d bytes in a minute" % self._min_bytes
        if frames and data[-1] == 0x5D:  # ends with a complete frame's ']'
            self._partial_t = None
        elif self._partial_t is None:
            self._partial_t = now
            self._partial_reads = 1
        else:
            self._partial_reads += 1
            if self._partial_reads >= _TRICKLE_READS and clock.ticks_diff(now, self._partial_t) >= _FRAME_MS:
                return "trickle: no complete frame in %d reads" % self._partial_reads
        return None

    def _unasked_frame(self):
        """A frame the watch did not ask for; True once there are too many this hour."""
        now = clock.ticks_ms()
        if clock.ticks_diff(now, self._unasked_t) >= _UNASKED_MS:
            self._unasked_t = now
            self._unasked = 0
        self._unasked += 1
        if self._unasked > _UNASKED_MAX:
            self._bad = "%d frames not asked for in an hour" % self._unasked
            return True
        return False

    def _on_bytes(self, data):
        frames = self._split.feed(data)
        self._bad = self._misbehaving(data, frames)
        if self._bad is not None:
            return
        for frame in frames:
            try:
                f = watchproto.parse(frame)
            except ValueError as e:
                if self._unasked_frame():
                    return
                log.event("error", where="downlink", err=repr(e))
                continue
            if f.dev_id != self.device_id:
                # another watch's frame (a proxy mixing sessions, a hostile server): it acks
                # nothing and commands nothing here
                log.event("error", where="downlink", err="frame for device %s" % f.dev_id[:20])
                if self._unasked_frame():
                    return
                continue
            if (f.type == "LK" or f.type == "AL") and self._owed > 0:
                self._owed -= 1
                now = clock.ticks_ms()
                self._last_ack = now
                if clock.ticks_diff(now, self._since) >= _CLEAN_MS:
                    self.strikes = 0  # a session that has behaved for a while
                if f.type == "LK":
                    # Only the LK that closes a batch confirms it: Traccar acks an AL as soon as
                    # it reads it, before the frames after it (watch-protocol.md §4).
                    self._got_ack = True
                    self._ack.set()
            elif self._unasked_frame():
                return
            elif f.type == "LK" or f.type == "AL":
                pass  # an ack nothing was sent for
            else:
                log.event("downlink", type=f.type, content=smscodec.printable(f.content[:120]))
                if self.on_command is not None:
                    reply = self.on_command(f)
                    if reply and len(self._replies) < 8:
                        self._replies.append(reply)
