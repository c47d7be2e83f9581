"""Typed events from the modem to the services: one bounded, preallocated queue.

The driver turns URCs (and what it learns by asking the modem after an RI wake) into events;
the app's router hands each to the services that subscribed (ARCHITECTURE.md §3a). An event is
(kind, a, b):

  DATA    a: socket link        the modem holds received bytes for the link
  CLOSED  a: socket link        the link is gone (server, network, modem restart)
  RING    a: number, b: type    an incoming call ('' when withheld; type 145 intl, 129/161
                                national, 128 restricted: hardware.md §1.6)
  CALL    a: CALL_* state, b: the reason text for CALL_ENDED ("end", "no carrier", "busy",
                                "no answer", "gone")
  DTMF    a: key                the far end pressed a key during a call (+RXDTMF)
  SMS     a: storage index (int) of a stored SMS, or an Sms delivered directly (+CMT)
  REBOOT                        the modem restarted by itself: it needs initialising again
  HUNG                          commands in a row went unanswered: power-cycle it

Full queue: the new event is dropped and `overflow` set; the driver then asks the modem for the
whole state (calls, stored SMS, sockets) once the queue has room, which is the same recovery as
for URCs lost in light sleep. Repeats of an event already waiting (a second 'data' for the same
link, the same SMS index) are not queued twice.
"""
import asyncio

from firmware.compat import const

DATA = const(1)
CLOSED = const(2)
RING = const(3)
CALL = const(4)
DTMF = const(5)
SMS = const(6)
REBOOT = const(7)
HUNG = const(8)

CALL_ACTIVE = const(0)  # +CLCC <stat> values (A76-ATM §7.2.6)
CALL_DIALING = const(2)
CALL_ALERTING = const(3)
CALL_INCOMING = const(4)
CALL_ENDED = const(6)

NAMES = {DATA: "data", CLOSED: "closed", RING: "ring", CALL: "call", DTMF: "dtmf", SMS: "sms",
         REBOOT: "reboot", HUNG: "hung"}

# kinds whose repeats collapse into the one already waiting (same kind and same a)
_COLLAPSE = (DATA, CLOSED, SMS, REBOOT, HUNG)


class EventQueue:
    def __init__(self, size=16):
        self._k = bytearray(size)
        self._a = [None] * size
        self._b = [None] * size
        self._head = 0
        self._n = 0
        self.overflow = False
        self.dropped = 0
        # an asyncio.Event, not a ThreadSafeFlag: put() runs in tasks (the AT reader), never in
        # an IRQ, and an Event wakes the router in the same order on CPython and MicroPython
        self.ready = None

    def start(self):
        """Inside the running loop (CPython binds asyncio primitives to a loop)."""
        if self.ready is None:
            self.ready = asyncio.Event()

    def __len__(self):
        return self._n

    def put(self, kind, a=None, b=None):
        """Queue an event (plain function: safe from URC handlers). False if it was dropped."""
        size = len(self._k)
        if kind in _COLLAPSE:
            for j in range(self._n):
                i = (self._head + j) % size
                if self._k[i] == kind and self._a[i] == a:
                    return True
        if self._n == size:
            self.overflow = True
            self.dropped += 1
            return False
        i = (self._head + self._n) % size
        self._k[i] = kind
        self._a[i] = a
        self._b[i] = b
        self._n += 1
        if self.ready is not None:
            self.ready.set()
        return True

    def get(self):
        """(kind, a, b) of the oldest event, or None."""
        if not self._n:
            return None
        i = self._head
        ev = (self._k[i], self._a[i], self._b[i])
        self._a[i] = self._b[i] = None
        self._head = (i + 1) % len(self._k)
        self._n -= 1
        return ev
