"""The link to the Traccar server: one TCP session speaking the `watch` protocol.

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
"""
import asyncio

from firmware import clock, log, smscodec, watchproto
from firmware.compat import const, wait_for_ms

_LINK = const(0)
_ACK_TIMEOUT_MS = const(30000)
_CONNECT_TIMEOUT_MS = const(30000)
_BATCH = const(16)  # reports per send: ~16 x 180 B stays well inside one modem send (1460 B MTU x2)
_BACKOFF_MIN_S = const(5)
# Capped at one default report interval: a safety watch should not sit on queued reports for
# long after the network comes back, and one attempt per 5 minutes costs a few radio seconds.
_BACKOFF_MAX_S = const(300)
_IDLE_MS = const(3600000)
# Downlink commands are short text; a server that streams an endless frame must not take the
# ESP32's heap (Traccar itself allows 32 KiB, watch-protocol.md §2)
_DOWNLINK_MAX = const(4096)  # no server configured: nothing to do until a report or a config change


def _splitter():
    return watchproto.FrameSplitter(_DOWNLINK_MAX, False)


def next_backoff(prev_s):
    """Exponential reconnect backoff: 5, 10, 20 ... 300 s."""
    if prev_s <= 0:
        return _BACKOFF_MIN_S
    return min(_BACKOFF_MAX_S, prev_s * 2)


class Uplink:
    def __init__(self, modem, cfg, outbox, device_id, alarms=None, on_command=None):
        """alarms: the outbox of alarm frames, sent before the reports; on_command(frame) -> the
        reply frame (bytes) or None, for every downlink that is not an ack (firmware/control.py)."""
        self.on_command = on_command
        self._replies = []
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
        self._alarm_out = asyncio.Event()  # a send carrying alarms has been written
        self.delivered = 0

    # ---- called by others ----
    def kick(self):
        """New report queued: deliver it now."""
        self._kick.set()

    def on_data(self, link, _=None):
        """Router: the modem holds bytes for a socket (or may: it asks after every RI wake)."""
        if link == _LINK and self.connected:
            self._rx.set()

    def on_closed(self, link, _=None):
        if link == _LINK and self.connected:
            self._lost("closed by network or server")

    async def alarm_written(self, timeout_ms):
        """After queueing an alarm: wait until a send carrying it is written to the socket, at
        most timeout_ms, and not at all while there is no session. The SOS waits here before
        its SMS take the AT channel, so the AL is the first thing on the air."""
        if not self.connected:
            return False
        self._alarm_out.clear()
        self._kick.set()
        try:
            await wait_for_ms(self._alarm_out.wait(), timeout_ms)
            return True
        except asyncio.TimeoutError:
            return False

    def queued(self):
        return len(self._ob) + (len(self._al) if self._al is not None else 0)

    # ---- session ----
    def _lost(self, why):
        self.connected = False
        self._split = _splitter()
        self.backoff_s = next_backoff(self.backoff_s)
        self._retry_at = clock.ticks_add(clock.ticks_ms(), self.backoff_s * 1000)
        log.event("disconnect", why=why, retry_s=self.backoff_s)
        self._kick.set()  # the sender may be asleep until a heartbeat: let it plan the reconnect

    async def _connect(self):
        cfg = self._cfg
        host, port = cfg["server_host"], cfg["server_port"]
        try:
            await self._m.net_open()
            await self._m.tcp_open(_LINK, host, port, _CONNECT_TIMEOUT_MS)
        except OSError as e:
            self.backoff_s = next_backoff(self.backoff_s)
            self._retry_at = clock.ticks_add(clock.ticks_ms(), self.backoff_s * 1000)
            log.event("connect_failed", host=host, port=port, err=repr(e), retry_s=self.backoff_s)
            return False
        self.connected = True
        self._split = _splitter()
        self._ack.clear()
        log.event("connect", host=host, port=port, id=self.device_id)
        return True

    async def _close(self, why):
        if self.connected:
            self._lost(why)
        try:
            await self._m.tcp_close(_LINK)
        except OSError:
            pass

    def _may_connect(self):
        if not self._cfg["server_host"]:
            return False
        r = self._retry_at
        return r is None or clock.ticks_diff(clock.ticks_ms(), r) >= 0

    def _frame(self, content):
        return watchproto.encode(self._cfg["maker"], self.device_id, content)

    def _lk(self):
        """A bare LK: acked like any LK, and stock Traccar stores no position for it, while an
        `LK,steps,rolls,battery` becomes one more position row at the last location (issue 7:
        289 extra rows a day). Battery and steps travel in the UD/AL frames instead."""
        return self._frame(watchproto.LK)

    async def _send_and_confirm(self, payload, what, urgent=False):
        """Send frames ending in an LK; True once that LK is acked. urgent: it carries alarms."""
        self._ack.clear()
        await self._m.tcp_send(_LINK, payload, urgent=urgent)
        if urgent:
            self._alarm_out.set()
        try:
            await wait_for_ms(self._ack.wait(), _ACK_TIMEOUT_MS)
        except asyncio.TimeoutError:
            # The data URC may have been missed (RI pulses merge, light sleep drops UART
            # bytes): the modem buffers socket data (CIPRXGET mode), so look once before
            # giving the session up.
            await self._read()
            if not self._ack.is_set():
                await self._close("no ack for " + what)
                return False
        self.backoff_s = 0
        return True

    async def _deliver(self):
        """Send what the outboxes hold, alarms first, then reports oldest first, batch by
        batch. True if all went out."""
        while self.connected:
            alarms = self._al.pending(_BATCH) if self._al is not None else []
            batch = self._ob.pending(_BATCH - len(alarms))
            if not batch and not alarms:
                return True
            parts = [self._frame(c) for _, c in alarms]
            parts.extend([self._frame(c) for _, c in batch])
            parts.append(self._lk())
            if not await self._send_and_confirm(b"".join(parts), "reports", bool(alarms)):
                return False
            if alarms:
                self._al.ack_through(alarms[-1][0])
                log.event("alarm_delivered", n=len(alarms), through=alarms[-1][0])
            if batch:
                self._ob.ack_through(batch[-1][0])
                self.delivered += len(batch)
                log.event("delivered", n=len(batch), through=batch[-1][0], queued=len(self._ob))
        return False

    def _heartbeat_due(self):
        if self._last_ack is None:
            return True
        return clock.ticks_diff(clock.ticks_ms(), self._last_ack) >= self._cfg["heartbeat_s"] * 1000

    def _ms_until_due(self):
        """How long the sender may sleep when it has nothing to send: while disconnected, until
        the reconnect time; while connected, until the next heartbeat."""
        now = clock.ticks_ms()
        if not self.connected:
            if not self._cfg["server_host"]:
                return _IDLE_MS
            if self._retry_at is None:
                return 0
            return max(0, clock.ticks_diff(self._retry_at, now))
        if self._last_ack is None:
            return 0
        hb = self._cfg["heartbeat_s"] * 1000
        return max(0, hb - clock.ticks_diff(now, self._last_ack))

    async def run_sender(self):
        """Keep the session up, deliver reports, send heartbeats. Never returns."""
        warned = False
        while True:
            try:
                if not self._cfg["server_host"]:
                    if not warned:
                        log.event("error", where="uplink", err="no server configured; reports stay queued")
                        warned = True
                elif not self.connected and self._may_connect():
                    # reconnect even with nothing queued: a guardian's request ("locate now")
                    # can only reach a watch that holds a session
                    await self._connect()
                if self.connected:
                    if self.queued():
                        await self._deliver()
                    elif self._heartbeat_due():
                        if await self._send_and_confirm(self._lk(), "heartbeat"):
                            log.event("heartbeat")
            except OSError as e:
                log.event("error", where="uplink", err=repr(e))
                await self._close("error")
            self._kick.clear()
            if self.connected and self.queued():
                continue  # more to send (each pass awaited the modem: no busy loop)
            try:
                await wait_for_ms(self._kick.wait(), self._ms_until_due())
            except asyncio.TimeoutError:
                pass

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
            try:
                data = await self._m.tcp_recv(_LINK)
            except OSError as e:
                log.event("error", where="recv", err=repr(e))
                return
            if data:
                self._on_bytes(data)
            if self._replies and self.connected:
                # the echo of each command (watch-protocol.md §5: Traccar files it under an
                # unknown type and keeps the session): no ack to wait for
                replies, self._replies = self._replies, []
                try:
                    await self._m.tcp_send(_LINK, b"".join(replies))
                except OSError as e:
                    log.event("error", where="command_reply", err=repr(e))

    def _on_bytes(self, data):
        for frame in self._split.feed(data):
            try:
                f = watchproto.parse(frame)
            except ValueError as e:
                log.event("error", where="downlink", err=repr(e))
                continue
            if f.type == "LK":
                # Only the LK that closes a batch confirms it: Traccar acks an AL as soon as it
                # reads it, before the frames after it (watch-protocol.md §4).
                self._last_ack = clock.ticks_ms()
                self._ack.set()
            elif f.type == "AL":
                self._last_ack = clock.ticks_ms()
            else:
                log.event("downlink", type=f.type, content=smscodec.printable(f.content[:120]))
                if self.on_command is not None:
                    reply = self.on_command(f)
                    if reply and len(self._replies) < 8:
                        self._replies.append(reply)
