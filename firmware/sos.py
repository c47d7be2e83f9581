"""SOS: a long press alerts every SOS contact at once, then calls them until a person answers.

Why it is built this way (peers.md §1, §4): Stiftung Warentest found no kids' watch whose SOS was
reliable, because the call chain stops at the first mailbox: a voicemail answers the call, and
the watch takes any answered call for a person. Here a call counts as accepted only when the
callee presses a key (the modem reports it as +RXDTMF), which a mailbox never does; the SMS
every SOS contact gets says so. A call that is answered but sees no key within _KEY_WAIT_MS is
hung up and the chain goes on. Busy, no answer, a ring timeout or a dropped call: the next
contact, after a short gap; the chain runs `sos_rounds` times through the list.

At once and in parallel with the chain's start: an AL frame with the SOS bit (watch-protocol.md
§6, bit 16) goes first into the alarm outbox (sent before any backlog) and every SOS contact gets
an SMS with a map link, the position's age and accuracy and the battery. The SMS go before the
first call: the A76xx refuses SMS commands while a call is up (A76-SMS §2, hardware.md §1.5).
Then fast tracking: a report every 30 s for 10 minutes, then every 2 minutes for 30 minutes. The
child cannot end it; a guardian can (cancel, from remote configuration). A modem without voice
(a variant the driver detected, e.g. A7670E-LNXY-UBL) sends the AL and the SMS, whose text says
the watch cannot phone, logs that it cannot call, and never dials.

The policy is `step(state, event, arg, now, ring_ms, rounds)`: pure, table-tested on both
interpreters. The service `Sos` is the thin shell that runs its actions.
"""
import asyncio

from firmware import clock, log, smscodec
from firmware.compat import const, wait_for_ms
from firmware.drivers import events as ev

# phases
IDLE = const(0)
ALERTING = const(1)  # AL queued, SMS being sent
DIALING = const(2)  # ATD sent, waiting for its OK
RINGING = const(3)  # the callee's phone rings
ANSWERED = const(4)  # answered: waiting for a key (a person) or not (a mailbox)
CONNECTED = const(5)  # a person accepted: the call is left to them
GAP = const(6)  # between two calls
DONE = const(7)  # the chain ended (accepted and hung up, or every round exhausted)

# events
START = const(1)
ALERTED = const(2)
DIALED = const(3)
DIAL_FAILED = const(4)
ANSWER = const(5)
KEY = const(6)
ENDED = const(7)
TIMEOUT = const(8)
CANCEL = const(9)
INCOMING = const(10)

PHASES = ("idle", "alerting", "dialing", "ringing", "answered", "connected", "gap", "done")

_DIAL_MS = const(20000)  # ATD's OK (the modem answers at once; this only bounds a stuck one)
_KEY_WAIT_MS = const(20000)  # answered: a person presses within this, a mailbox never does
_GAP_MS = const(3000)  # between calls: the previous call's end URCs are all in by then
_FAST_MS = const(30000)  # fast tracking: a report every 30 s ...
_FAST_FOR_MS = const(600000)  # ... for 10 minutes,
_SLOW_MS = const(120000)  # then every 2 minutes ...
_TRACK_FOR_MS = const(2400000)  # ... until 40 minutes after the start
SOS_BIT = const(0x00010000)  # watch-protocol.md §6: status bit 16 = sos
_SMS_TRIES = const(3)  # attempts per SOS SMS (the first, then before later calls of the chain)
_RESEND_MS = const(60000)  # without voice (no call chain to wait for): unsent SMS again after this
# No SOS SMS is started after this: the first call comes first. One AT+CMGS can take up to 40 s
# (A76-ATM §9.2.13) and the modem takes no other command meanwhile; the SMS not sent by then go
# before the next call of the chain.
_SMS_BUDGET_MS = const(10000)


class State:
    """The SOS state machine's state. numbers: the SOS contacts' numbers, in order."""

    def __init__(self):
        self.phase = IDLE
        self.started = None  # ticks of the start; None once cancelled (ends fast tracking)
        self.numbers = ()
        self.idx = 0
        self.round = 0
        self.deadline = None  # ticks of the next TIMEOUT, None for none
        self.accepted = None  # index into numbers of who accepted, or -1 for a call-back
        self.outcome = None  # "accepted", "exhausted", "cancelled", "no contacts"
        self.redial = False  # the next dial is the same contact again (its dial was refused)
        self.redialed = False  # that contact has had its one redial in this round


def _dial(s, now):
    s.phase = DIALING
    s.deadline = clock.ticks_add(now, _DIAL_MS)
    return ("dial", s.idx)


def _gap(s, now):
    s.phase = GAP
    s.deadline = clock.ticks_add(now, _GAP_MS)


def _in_call(s):
    return s.phase in (DIALING, RINGING, ANSWERED, CONNECTED)


def step(s, event, arg, now, ring_ms, rounds):
    """Feed one event; returns the action for the service, or None:
    ("alert",) queue the alarm and send the SMS; ("dial", i) call numbers[i]; ("hangup", why);
    ("answer",) take the incoming call; ("accepted", i) numbers[i] pressed a key (i = -1: a
    contact who called back was answered); ("exhausted",) every round ended unanswered.
    arg: the SOS numbers for START, the reason text for ENDED, the key for KEY."""
    p = s.phase
    if event == START:
        if p != IDLE and p != DONE:
            return None  # already running: a second long press changes nothing
        s.phase = ALERTING
        s.started = now
        s.numbers = tuple(arg or ())
        s.idx = 0
        s.round = 1
        s.deadline = None
        s.accepted = None
        s.outcome = None
        s.redial = s.redialed = False
        return ("alert",)
    if event == CANCEL:
        if p == IDLE:
            return None
        was_call = _in_call(s)
        s.phase = IDLE
        s.started = None
        s.deadline = None
        s.outcome = "cancelled"
        return ("hangup", "cancelled") if was_call else None
    if p == ALERTING and event == ALERTED:
        if not s.numbers:
            s.phase = DONE
            s.outcome = "no contacts"
            return ("exhausted",)
        return _dial(s, now)
    if p == DIALING and event == DIALED:
        s.phase = RINGING
        s.deadline = clock.ticks_add(now, ring_ms)
        return None
    if p == DIALING and event == DIAL_FAILED:
        # refused at once (another call just came in, a busy channel): the same contact again
        # after the gap, once; the chain must not skip the one who might answer
        s.redial = not s.redialed
        s.redialed = True
        _gap(s, now)
        return None
    if event == ANSWER and p in (DIALING, RINGING):
        s.phase = ANSWERED
        s.deadline = clock.ticks_add(now, _KEY_WAIT_MS)
        return None
    if event == KEY and p == ANSWERED:
        s.phase = CONNECTED
        s.deadline = None
        s.accepted = s.idx
        s.outcome = "accepted"
        return ("accepted", s.idx)
    if event == ENDED:
        if arg == "incoming" and (p in (DIALING, RINGING, ANSWERED) or (p == CONNECTED and s.accepted != -1)):
            return None  # a call that came in (a stranger rejected) ended, not the one we dialled
        if p in (DIALING, RINGING, ANSWERED):
            _gap(s, now)  # busy, no answer, the mailbox or the person hung up: next one
            return None
        if p == CONNECTED:
            s.phase = DONE
            s.deadline = None
            return None
        return None  # late end URCs of a call already handled
    if event == TIMEOUT:
        if p in (DIALING, RINGING, ANSWERED):
            _gap(s, now)
            return ("hangup", "no answer" if p != ANSWERED else "no key")
        if p == GAP:
            return _advance(s, now, rounds)
        return None
    if event == INCOMING and p in (GAP, DONE) and s.started is not None:
        # a contact calls back (they got the SMS): answer for the child, who may not be able to
        s.phase = CONNECTED
        s.deadline = None
        s.accepted = -1
        if s.outcome != "accepted":
            s.outcome = "accepted"
        return ("answer",)
    return None


def _advance(s, now, rounds):
    if s.redial:
        s.redial = False
        return _dial(s, now)
    s.redialed = False
    s.idx += 1
    if s.idx >= len(s.numbers):
        s.idx = 0
        s.round += 1
    if s.round > rounds:
        s.phase = DONE
        s.deadline = None
        s.outcome = "exhausted"
        return ("exhausted",)
    return _dial(s, now)


def tracking_ms(s, now):
    """Report interval while SOS tracking runs (30 s for 10 minutes, then 2 minutes until 40
    minutes after the start), None when it does not."""
    if s.started is None:
        return None
    el = clock.ticks_diff(now, s.started)
    if el < _FAST_FOR_MS:
        return _FAST_MS
    if el < _TRACK_FOR_MS:
        return _SLOW_MS
    return None


def active(s, now):
    """SOS running: the chain, or the tracking after it."""
    return s.phase != IDLE and (s.phase != DONE or tracking_ms(s, now) is not None)


# ---- the SMS ------------------------------------------------------------------------------------


def _age(age_s):
    if age_s < 60:
        return "now"
    if age_s < 3600:
        return "%dmin ago" % (age_s // 60)
    if age_s < 172800:
        return "%dh ago" % (age_s // 3600)
    return "%dd ago" % (age_s // 86400)


def where_text(fix, age_s, cell=None):
    """Where the watch is, for a person: a map link with the accuracy and the fix's age, else
    the serving cell, else that it is not known (the SOS SMS, the answer to 'where')."""
    if fix is not None:
        return "%s %dm %s" % (smscodec.map_link(fix.lat, fix.lon), fix.acc, _age(age_s))
    if cell is not None:
        return "pos unknown, cell %d-%d %d/%d" % (cell.mcc, cell.mnc, cell.lac, cell.cid)
    return "pos unknown"


def sos_text(wearer, fix, age_s, battery, cell=None, calls=True):
    """One SMS: GSM 7-bit within 160 characters, or (a name outside GSM 7-bit) UCS2 within 70.
    The long form tells the guardian to press a key when the watch calls (calls False: that
    the watch cannot phone, a modem without voice); the short one keeps the map link,
    accuracy, age and battery and drops the rest."""
    who = wearer or "watch"
    where = where_text(fix, age_s, cell)
    tail = "When we call you, press 1 to accept." if calls else "This watch cannot make or take calls."
    texts = ("SOS %s! %s. Battery %d%%. %s" % (who, where, battery, tail),
             "SOS %s! %s. Batt %d%%" % (who, where, battery),
             "SOS %s %s %d%%" % (who, where, battery))
    for t in texts:
        try:
            smscodec.encode_sms(t)
            return t
        except ValueError:
            pass
    # a very long name in UCS2: cut the name, never the position
    room = 70 - smscodec.utf16_units("SOS  %s %d%%" % (where, battery))
    name = who
    while name and smscodec.utf16_units(name) > room:
        name = name[:-1]
    return "SOS %s %s %d%%" % (name, where, battery)


# ---- the service --------------------------------------------------------------------------------


class Sos:
    """The shell around step(). Inputs arrive from the button (trigger), the router (call
    state, keys) and telephony (a contact calling in); they are queued and handled by run()."""

    def __init__(self, modem, cfg, contacts_fn, alarm_fn, sms_fn, position_fn, battery_fn, on_start=None):
        """contacts_fn() -> Contacts; alarm_fn(status) -> awaitable: queues an AL, returns its
        seq once it is on its way (or after a short bound);
        sms_fn(number, text) -> awaitable sending one SMS (urgent); position_fn() ->
        (fix or None, age_s, cell or None); on_start() e.g. tells the reporter to hurry."""
        self._m = modem
        self._cfg = cfg
        self._contacts = contacts_fn
        self._alarm = alarm_fn
        self._sms = sms_fn
        self._position = position_fn
        self._battery = battery_fn
        self._on_start = on_start
        self.s = State()
        self._inbox = []
        self._flag = asyncio.Event()
        self._names = ()
        self._text = ""
        self._unsent = []  # indexes into the SOS numbers whose SMS has not gone yet
        self._tries = 0

    # ---- inputs (plain functions, from IRQ-driven tasks and the router) ----
    def _put(self, event, arg=None):
        if len(self._inbox) < 16:
            self._inbox.append((event, arg))
        self._flag.set()

    def trigger(self):
        """The long press."""
        self._put(START)

    def cancel(self):
        """A guardian ends the SOS (the command that calls it comes with remote configuration)."""
        self._put(CANCEL)

    def on_call(self, state, reason=None):
        if state == ev.CALL_ACTIVE:
            self._put(ANSWER)
        elif state == ev.CALL_ENDED:
            self._put(ENDED, reason)

    def on_dtmf(self, key, _=None):
        self._put(KEY, key)

    def takes_call(self, contact):
        """Telephony asks before ringing: while SOS runs between calls or tracks, a contact who
        calls is answered at once (True); otherwise normal handling (False)."""
        s = self.s
        if contact is None or s.started is None or s.phase not in (GAP, DONE):
            return False
        if not active(s, clock.ticks_ms()):
            return False
        self._put(INCOMING, contact)
        return True

    def tracking_ms(self):
        return tracking_ms(self.s, clock.ticks_ms())

    # ---- the task ----
    async def run(self):
        """Never returns."""
        while True:
            s = self.s
            wait = -1
            if s.deadline is not None:
                wait = clock.ticks_diff(s.deadline, clock.ticks_ms())
            if not self._inbox and wait != 0:
                try:
                    if wait < 0 and s.deadline is None:
                        await self._flag.wait()
                    elif wait > 0:
                        await wait_for_ms(self._flag.wait(), wait)
                except asyncio.TimeoutError:
                    pass
            self._flag.clear()
            if self._inbox:
                event, arg = self._inbox.pop(0)
            elif s.deadline is not None and clock.ticks_diff(clock.ticks_ms(), s.deadline) >= 0:
                event, arg = TIMEOUT, None
            else:
                continue
            await self._handle(event, arg)

    async def _handle(self, event, arg):
        s = self.s
        cfg = self._cfg
        now = clock.ticks_ms()
        if event == START:
            sos = self._contacts().sos()
            arg = [c.number for c in sos]
            self._names = [c.name for c in sos]
        if event == TIMEOUT and s.phase == DONE and s.outcome == "no voice":
            s.deadline = None  # no call chain: only the SMS that did not go, again
            await self._resend()
            self._resend_later()
            return
        phase = s.phase
        action = step(s, event, arg, now, cfg["sos_ring_s"] * 1000, cfg["sos_rounds"])
        if event == START and action is None:
            log.event("sos_ignored", why="already running", phase=PHASES[phase])
            return
        if event == ENDED and phase in (DIALING, RINGING, ANSWERED) and s.phase != phase:
            log.event("sos_call_ended", to=self._name(s.idx), why=arg, phase=PHASES[phase], ms=self._ms())
        if event == ANSWER and phase in (DIALING, RINGING):
            log.event("sos_call_answered", to=self._name(s.idx), ms=self._ms())
        if event == CANCEL and phase != IDLE:
            log.event("sos_cancelled", phase=PHASES[phase], ms=self._ms(now))
        if event == ENDED and phase == CONNECTED:
            await self._resend()  # SMS commands fail during a call (A76-SMS §2): now they can go
        if action is None:
            return
        kind = action[0]
        if kind == "alert":
            log.event("sos", contacts=len(s.numbers))
            if self._on_start is not None:
                self._on_start()
            voice = getattr(self._m, "has_voice", True)
            await self._alert(voice)
            if not voice:
                self._no_calls()
                return
            await self._handle(ALERTED, None)
        elif kind == "dial":
            i = action[1]
            if s.idx or s.round > 1:
                await self._resend()  # an SMS that failed goes again first (not during a call)
            log.event("sos_call", to=self._name(i), round=s.round, ms=self._ms())
            try:
                await self._m.dial(s.numbers[i], urgent=True)
                await self._handle(DIALED, None)
            except (OSError, ValueError) as e:
                log.event("sos_call_failed", to=self._name(i), err=repr(e))
                await self._handle(DIAL_FAILED, None)
        elif kind == "hangup":
            log.event("sos_hangup", to=self._name(s.idx), why=action[1], ms=self._ms())
            await self._hangup()
        elif kind == "answer":
            log.event("sos_answer_callback", ms=self._ms())
            try:
                await self._m.answer(urgent=True)
            except OSError as e:
                log.event("error", where="sos_answer", err=repr(e))
        elif kind == "accepted":
            log.event("sos_accepted", by=self._name(action[1]), ms=self._ms(), round=s.round)
        elif kind == "exhausted":
            log.event("sos_unanswered", rounds=s.round - 1, ms=self._ms())
            await self._resend()

    async def _hangup(self):
        try:
            await self._m.hangup(urgent=True)
        except OSError as e:
            log.event("error", where="sos_hangup", err=repr(e))

    def _no_calls(self):
        """A modem without voice (a variant, A7670E-LNXY-UBL; the driver read it once): no call
        chain, no ATD. The AL and the SMS are the SOS; it is done, and tracking runs on."""
        s = self.s
        s.phase = DONE
        s.outcome = "no voice"
        log.event("sos_no_calls", why="the modem has no voice", model=getattr(self._m, "model", None),
                  ms=self._ms())
        self._resend_later()

    def _resend_later(self):
        s = self.s
        if self._unsent and self._tries < _SMS_TRIES and s.started is not None:
            s.deadline = clock.ticks_add(clock.ticks_ms(), _RESEND_MS)

    async def _alert(self, calls=True):
        """The AL first (it only needs flash), then one SMS per SOS contact (calls: a call
        chain follows, so the SMS not sent within _SMS_BUDGET_MS wait for it)."""
        try:
            seq = await self._alarm(SOS_BIT)
            log.event("sos_alarm_queued", seq=seq, ms=self._ms())
        except (OSError, ValueError) as e:
            log.event("error", where="sos_alarm", err=repr(e))
        if not self._cfg["sos_sms"]:  # SOSSMS,0 from a guardian: the alarm and the calls only
            self._unsent = []
            log.event("sos_sms_off")
            return
        if not getattr(self._m, "has_sms", True):
            self._unsent = []
            log.event("sos_no_sms", why="the modem has no SMS")
            return
        fix, age_s, cell = self._position()
        self._text = sos_text(self._cfg["wearer"], fix, age_s, self._battery(), cell, calls)
        self._unsent = list(range(len(self.s.numbers)))
        self._tries = 0
        await self._resend(_SMS_BUDGET_MS if calls else None)

    async def _resend(self, budget_ms=None):
        """Send the SOS SMS not yet sent (a network error, no coverage for a moment): at the
        start, then before each later call of the chain and at its end, at most _SMS_TRIES
        times each."""
        if not self._unsent or self._tries >= _SMS_TRIES:
            return
        self._tries += 1
        left = []
        for i in self._unsent:
            if budget_ms is not None and self._ms() >= budget_ms:
                left.append(i)  # before the next call, not before the first
                continue
            try:
                await self._sms(self.s.numbers[i], self._text)
                log.event("sos_sms", to=self._name(i), ms=self._ms(), chars=len(self._text))
            except (OSError, ValueError) as e:
                log.event("sos_sms_failed", to=self._name(i), err=repr(e), ms=self._ms(), tries=self._tries)
                left.append(i)
        self._unsent = left

    def _name(self, i):
        if 0 <= i < len(self._names):
            return self._names[i]
        return "caller" if i == -1 else "?"

    def _ms(self, now=None):
        s = self.s
        if s.started is None:
            return 0
        return clock.ticks_diff(clock.ticks_ms() if now is None else now, s.started)
