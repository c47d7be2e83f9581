"""A real server behind the simulated modem (`make sim SERVER=host:port`, CPython only).

The emulated modem's TCP connections to the scenario's server go over real TCP to a server the
user runs (a local Traccar on port 5093, say), so the simulated watch shows up on their map.
Virtual time waits for the real replies: after the watch sent bytes, the next jump of virtual
time is held (up to WAIT_MS of real time) until the server answered, so an LK gets its ack at
the virtual instant it arrives instead of after a virtual hour of silence. Bytes the server
sends on its own (a command typed in Traccar's web page) are picked up at every jump.

Everything the watch sends also goes to a shadow of the simulated server (host_sim/traccar.py,
its replies dropped), so the run's summary still counts the reports and checks each frame as
Traccar would. The scenario's "server_commands" go to that shadow only: with a real server,
send commands from its own interface.
"""
import select
import socket
import time

WAIT_MS = 3000  # real ms to hold virtual time for a reply to what the watch sent
CONNECT_S = 5


class _Conn:
    def __init__(self, server, sock, send, close, shadow):
        self.server = server
        self.sock = sock
        self.send = send  # to the watch: the emulator's callback
        self.close_cb = close
        self.shadow = shadow
        self.sent_at = None  # time.monotonic() of the last uplink bytes not yet answered
        self.open = True

    # the emulator calls these (the connection object of world.connect)
    def receive(self, data):
        if not self.open:
            return
        try:
            self.sock.sendall(bytes(data))
        except OSError:
            self._gone()
            return
        self.server.bytes_up += len(data)
        if self.sent_at is None:
            self.sent_at = time.monotonic()
        if self.shadow is not None:
            self.shadow.receive(data)

    def close(self):
        """The watch closed it."""
        if self.open:
            self.open = False
            try:
                self.sock.close()
            except OSError:
                pass
            if self.shadow is not None:
                self.shadow.close()
            return True
        return False

    # the pump
    def read(self):
        """What the server sent (delivered to the watch); False once it closed."""
        try:
            data = self.sock.recv(4096)
        except BlockingIOError:
            return True
        except OSError:
            data = b""
        if not data:
            self._gone()
            return False
        self.server.bytes_down += len(data)
        self.sent_at = None
        self.send(data)
        return True

    def _gone(self):
        """The server closed it (or the socket failed): the watch is told."""
        if self.close():
            self.close_cb()


class RealServer:
    """world.add_server(host, ip, port, RealServer("127.0.0.1", 5093, shadow)); call pump()
    before every jump of virtual time (VirtualTime.waiters)."""

    def __init__(self, host, port, shadow=None, wait_ms=WAIT_MS):
        self.host = host
        self.port = port
        self.shadow = shadow
        self.wait_ms = wait_ms
        self.conns = []
        self.connections = 0
        self.bytes_up = 0
        self.bytes_down = 0

    def connect(self, peer, send, close):
        try:
            sock = socket.create_connection((self.host, self.port), timeout=CONNECT_S)
        except OSError:
            return None  # refused or unreachable: the modem reports the connect failed
        sock.setblocking(False)
        shadow = None
        if self.shadow is not None:
            shadow = self.shadow.connect(peer, lambda data: None, lambda: None)
        c = _Conn(self, sock, send, close, shadow)
        self.conns.append(c)
        self.connections += 1
        return c

    def pump(self):
        """Deliver what arrived; hold (real time) while a connection awaits its reply."""
        self.conns = [c for c in self.conns if c.open]
        while self.conns:
            now = time.monotonic()
            waiting = [c for c in self.conns
                       if c.sent_at is not None and (now - c.sent_at) * 1000 < self.wait_ms]
            timeout = 0
            if waiting:
                timeout = min(self.wait_ms / 1000 - (now - c.sent_at) for c in waiting)
            ready, _, _ = select.select([c.sock for c in self.conns], [], [], max(0, timeout))
            if not ready:
                for c in waiting:  # no answer in time: let virtual time go on
                    c.sent_at = None
                return
            for c in list(self.conns):
                if c.sock in ready:
                    c.read()
            self.conns = [c for c in self.conns if c.open]
            if not [c for c in self.conns if c.sent_at is not None]:
                return

    def close_all(self):
        for c in self.conns:
            c.close()
        self.conns = []
