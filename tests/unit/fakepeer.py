"""A recording stand-in for a server behind the simulated network (world.connect contract):
connect(peer, send, close) -> Conn; Conn.receive(bytes) / Conn.close()."""


class RecordingConn:
    def __init__(self, peer, send, close, ack=None):
        self.peer = peer
        self.send = send
        self.close_cb = close
        self.ack = ack
        self.got = b""
        self.closed = False

    def receive(self, data):
        self.got += data
        if self.ack:
            self.send(self.ack)

    def close(self):
        self.closed = True


class RecordingServer:
    """Records every connection; refuses all when refuse=True; answers each receive with ack."""

    def __init__(self, refuse=False, ack=None):
        self.conns = []
        self.refuse = refuse
        self.ack = ack

    def connect(self, peer, send, close):
        if self.refuse:
            return None
        c = RecordingConn(peer, send, close, self.ack)
        self.conns.append(c)
        return c
