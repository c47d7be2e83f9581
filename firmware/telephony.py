"""Telephony: the whitelist at the door for calls and SMS, both ways.

Incoming calls (RING events with the caller's number from +CLIP or AT+CLCC): a listed number
rings (the board's vibration/buzzer output, until the call is answered or the caller gives
up; a short press of the button answers); anyone else, and every withheld number, is hung up at
once (AT+CHUP). While an SOS runs, a contact who calls is answered for the child (sos.takes_call).
Rejecting at once also matters for power: while a call rings the modem holds RI low 5.9 s of
every 6 (hardware.md §1.9), and RI is the ESP32's wake pin.

Incoming SMS (SMS events: an index on the SIM from +CMTI or AT+CMGL, or a directly routed
+CMT): read by length-framed AT+CMGR (the driver), then deleted from the SIM in any case, so
a full SIM store never blocks new messages. From a listed number: kept in `messages.json` on
flash (bounded; for the commands of the remote-configuration issue) before it is deleted from
the SIM, so a power cut in between reads it again rather than losing it (a repeat is
recognised). From anyone else: deleted; only the time and the fact are logged, never the text
or the number.

Outgoing calls and SMS go only to listed numbers (send_sms, dial). A modem without voice (a
variant the driver detected once) is never asked to dial or answer.

School mode (firmware/school.py decides, firmware/schoolmode.py knows when): in a window a
friend's call is rejected and a guardian's rings only if `school_guardian_rings`; SMS from
contacts are kept but held (no buzz) and announced when the window ends; nothing goes out but
SOS and the answers to guardians' commands. A critical battery (firmware/power.py) rejects
friends' calls the same way; guardians ring. A guardian's SMS that is a command (with the PIN)
goes to firmware/control.py and is not kept (it carries the PIN); a command from anyone else
is dropped unread.
"""
import asyncio
import json

from firmware import clock, fsutil, log, school
from firmware.commands import parse_sms
from firmware.compat import const
from firmware.drivers import events as ev

_INBOX_MAX = const(20)  # messages kept on flash (newest win)
_TEXT_MAX = const(480)  # characters kept per message (three SMS' worth)
_PENDING_MAX = const(16)


def mask(number):
    """A stranger's number in the log: only its last two digits."""
    if not number:
        return "withheld"
    return "*" + number[-2:]


class Inbox:
    """Kept SMS: a small JSON list, replaced atomically (fsutil.atomic_write)."""

    def __init__(self, root):
        self.path = fsutil.join(root, "messages.json")
        self.items = []
        try:
            data = fsutil.read_bytes(self.path)
            if data:
                items = json.loads(data)
                if isinstance(items, list):
                    self.items = [m for m in items if isinstance(m, dict)]
        except Exception:  # OSError, ValueError; CPython's RecursionError on deep nesting (tests/fuzz)
            log.event("error", where="inbox", err="unreadable messages.json ignored")

    def has(self, number, scts, text):
        for m in self.items:
            if m.get("from") == number and m.get("scts") == scts and m.get("text") == text:
                return True
        return False

    def add(self, t, number, name, scts, text, held=False):
        item = {"t": t, "from": number, "name": name, "scts": scts, "text": text}
        if held:
            item["held"] = True  # came in a school window: announced when it ends
        self.items.append(item)
        if len(self.items) > _INBOX_MAX:
            self.items = self.items[-_INBOX_MAX:]
        fsutil.atomic_write(self.path, json.dumps(self.items).encode())


class Telephony:
    def __init__(self, modem, contacts_fn, ringer, root, sos=None, cfg=None):
        """contacts_fn() -> the current Contacts (config changes replace it); ringer(on)
        drives the board's vibration/buzzer; sos: the Sos service, school: the SchoolMode
        service, control: the guardians' commands (set later by the app); cfg: settings."""
        self._m = modem
        self._contacts = contacts_fn
        self._ringer = ringer
        self.sos = sos
        self.school = None
        self.power = None  # firmware/power.py: a critical battery rejects friends' calls
        self.control = None
        self.notify = None  # fn(): a short buzz for a new message
        self._cfg = cfg
        self.inbox = Inbox(root)
        self._todo = []  # ("reject",) / ("answer",) / ("sms", index or Sms)
        self._flag = asyncio.Event()
        self.current = None  # the incoming call being handled: its number ('' withheld)
        self.ringing = False
        self.held = 0  # messages kept in a school window, not yet announced

    # ---- from the router (plain functions) ----
    def on_ring(self, number, ntype):
        if self.current is not None and self.current == number:
            return  # the same call ringing again (RING / +CLIP repeat every ~6 s)
        if getattr(self._m, "line_busy", False):
            # a call is up (an SOS call, a guardian on the line): AT+CHUP would end it too;
            # the newcomer rings out at their end
            log.event("call_ignored", why="line busy")
            return
        contacts = self._contacts()
        c = contacts.find(number, ntype) if number else None
        self.current = number
        if self.sos is not None and self.sos.takes_call(c):
            log.event("call_for_sos", name=c.name)
            return
        quiet = self._quiet()
        rings = self._cfg is not None and self._cfg["school_guardian_rings"]
        # a critical battery rejects friends as a window does, and guardians ring (in a window
        # only as school mode lets them)
        crit = self.power is not None and self.power.critical
        if school.decide_call(quiet or crit, c, rings or not quiet) == "ring":
            self.ringing = True
            self._ringer(True)
            log.event("call_ringing", name=c.name)
        else:
            if c is not None:
                log.event("call_rejected", caller=c.name, why="school" if quiet else "critical")
            else:
                log.event("call_rejected", caller=mask(number), withheld=not number)
            self._do(("reject",))

    def _quiet(self):
        return self.school is not None and self.school.quiet()

    def window_ended(self):
        """School mode ended: announce the messages it held."""
        if self.held:
            log.event("messages_released", n=self.held)
            self.held = 0
            if self.notify is not None:
                self.notify()

    def on_call(self, state, reason=None):
        if state == ev.CALL_ACTIVE or state == ev.CALL_ENDED:
            if self.ringing:
                self.ringing = False
                self._ringer(False)
                log.event("call_answered" if state == ev.CALL_ACTIVE else "call_missed", why=reason)
        if state == ev.CALL_ENDED:
            self.current = None
        if self.sos is not None:
            self.sos.on_call(state, reason)

    def on_sms(self, item, _=None):
        self._do(("sms", item))

    def answer_if_ringing(self):
        """The button's short press: take the ringing call. True if there was one (never on a
        modem without voice)."""
        if not self.ringing or not getattr(self._m, "has_voice", True):
            return False
        self._do(("answer",))
        return True

    def _do(self, job):
        if len(self._todo) < _PENDING_MAX:
            self._todo.append(job)
        self._flag.set()

    # ---- outgoing, whitelisted ----
    async def send_sms(self, number, text, urgent=False, purpose="sos"):
        """purpose: "sos" and "reply" (to a guardian's command) go out in a school window too."""
        if self._contacts().find(number) is None:
            raise ValueError("SMS only to listed numbers")
        if not school.outgoing_allowed(self._quiet(), purpose):
            raise ValueError("school mode: no SMS now")
        return await self._m.sms_send(number, text, urgent)

    async def dial(self, number, urgent=False, purpose="call"):
        if not getattr(self._m, "has_voice", True):
            raise ValueError("no voice on this modem")  # a variant without it: never an ATD
        if self._contacts().find(number) is None:
            raise ValueError("calls only to listed numbers")
        if not school.outgoing_allowed(self._quiet(), purpose):
            raise ValueError("school mode: no calls now")
        await self._m.dial(number, urgent)

    # ---- the task ----
    async def run(self):
        """Never returns."""
        while True:
            if not self._todo:
                await self._flag.wait()
            self._flag.clear()
            while self._todo:
                job = self._todo.pop(0)
                try:
                    if job[0] == "reject":
                        await self._m.hangup(True)
                    elif job[0] == "answer":
                        await self._m.answer()
                    else:
                        await self._sms(job[1])
                except OSError as e:
                    log.event("error", where="telephony", job=job[0], err=repr(e))

    async def _sms(self, item):
        m = self._m
        if isinstance(item, int):
            sms = await m.sms_read(item)
            if sms is None:
                return
        else:
            sms = item
        c = self._contacts().find(sms.number, sms.ntype)
        command = parse_sms(sms.text) is not None
        quiet = self._quiet()
        verdict = school.decide_sms(quiet, c)
        if command and (c is None or not c.is_guardian):
            verdict = "drop"  # only guardians command the watch; a guess at the PIN is not kept
        if command and verdict != "drop" and self.control is not None:
            await self.control.on_sms(c, sms.text)
        elif verdict != "drop":
            text = sms.text[:_TEXT_MAX]
            if not self.inbox.has(c.number, sms.scts, text):
                held = verdict == "hold"
                self.inbox.add(clock.wall.now(), c.number, c.name, sms.scts, text, held)
                log.event("sms_kept", name=c.name, chars=len(sms.text), held=held)
                if held:
                    self.held += 1
                elif self.notify is not None:
                    self.notify()
        else:
            log.event("sms_dropped")
        if sms.index is not None:
            await m.sms_delete(sms.index)
