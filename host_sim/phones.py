"""People with phones: who calls and texts the watch, and how they answer when it calls them.

Scenario key "people" (optional; without it nobody exists):
  [{"name": "Mamma", "number": "+4791111111",
    "answers": {"mode": "answer"|"voicemail"|"busy"|"no_answer", "rings": 3, "key": "1",
                "key_after_s": 3, "talk_s": 120, "ring_limit_s": 60},
    "calls": [{"at": "HH:MM[:SS]", "ring_s": 25, "talk_s": 60, "withheld": false}],
    "texts": [{"at": "HH:MM[:SS]", "text": "..."}]}]
"at" is an offset from the scenario start (world.offset_ms). Every key is checked: an unknown
key, a wrong type or a bad value is a ValueError naming the field ("people[0].answers.mode").
The answers default to {"mode": "no_answer"}.

Defaults (ASSUMED, none of them is a network figure): rings 3 (ring cycles of 5 s at the callee
before it answers), key_after_s 3, talk_s 120 for "answer" and 60 for "voicemail" (greeting +
recording), ring_limit_s 60 (the network gives up on an unanswered call); a call to the watch
rings ring_s 30 before the caller gives up and talks talk_s 60 once answered.

The A76xx emulator schedules the calls and texts and writes each person's log:
  person.log = [(vt_ms, event, detail)]
  the watch calls them:  "called_by_watch" (detail: answers mode), "answered", "voicemail",
                         "key" (the key), "busy", "no_answer", "hung_up" (they ended it; detail
                         seconds talked), "watch_hung_up" (seconds), "cancelled" (the watch hung
                         up before they answered), "dropped" (the watch's modem lost the call)
  they call the watch:   "rang", "unreachable" (watch off or out of coverage), "watch_busy"
                         (the watch was in another call: they hear busy), "watch_answered",
                         "rejected", "gave_up", "hung_up", "watch_hung_up", "dropped"
  texts:                 "sms_sent" (the text, when they press send), "sms_waiting" (the
                         network keeps it: detail the reason), "sms_delivered" (detail "SM,<i>"
                         or "CMT"), "sms_received" (a text from the watch)
Calls and texts for numbers nobody has go to People.unknown as (vt_ms, event, number, detail).
"""

MODES = ("answer", "voicemail", "busy", "no_answer")
_NUMBER_CHARS = "0123456789*#"
_KEYS = "0123456789*#ABCD"

_ANSWER_KEYS = ("mode", "rings", "key", "key_after_s", "talk_s", "ring_limit_s")
_PERSON_KEYS = ("name", "number", "answers", "calls", "texts")
_CALL_KEYS = ("at", "ring_s", "talk_s", "withheld")
_TEXT_KEYS = ("at", "text")


def _only(d, keys, where):
    if not isinstance(d, dict):
        raise ValueError("%s: expected an object" % where)
    for k in d:
        if k not in keys:
            raise ValueError("%s.%s: unknown key" % (where, k))


def _int(d, key, where, default, lo, hi):
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or v > hi:
        raise ValueError("%s.%s: integer %d..%d expected, got %r" % (where, key, lo, hi, v))
    return v


def _offset(d, where):
    from host_sim.world import offset_ms  # here, not at import: world imports this module

    v = d.get("at")
    if not isinstance(v, str):
        raise ValueError("%s.at: 'HH:MM[:SS]' expected, got %r" % (where, v))
    try:
        return offset_ms(v)
    except ValueError:
        raise ValueError("%s.at: 'HH:MM[:SS]' expected, got %r" % (where, v))


def valid_number(s):
    """A dialable number: digits, * and #, an optional leading '+'."""
    if not isinstance(s, str):
        return False
    body = s[1:] if s[:1] == "+" else s
    if not body:
        return False
    for ch in body:
        if ch not in _NUMBER_CHARS:
            return False
    return True


class Person:
    def __init__(self, spec, where):
        _only(spec, _PERSON_KEYS, where)
        name = spec.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("%s.name: a non-empty string expected, got %r" % (where, name))
        self.name = name
        number = spec.get("number")
        if not valid_number(number):
            raise ValueError("%s.number: digits with an optional leading '+' expected, got %r"
                             % (where, number))
        self.number = number
        a = spec.get("answers", {"mode": "no_answer"})
        w = where + ".answers"
        _only(a, _ANSWER_KEYS, w)
        mode = a.get("mode", "no_answer")
        if mode not in MODES:
            raise ValueError("%s.mode: one of %s expected, got %r" % (w, ", ".join(MODES), mode))
        self.mode = mode
        self.rings = _int(a, "rings", w, 3, 0, 100)
        key = a.get("key")
        if key is not None and (not isinstance(key, str) or len(key) != 1 or key not in _KEYS):
            raise ValueError("%s.key: one of %s expected, got %r" % (w, _KEYS, key))
        if key is not None and mode != "answer":
            raise ValueError("%s.key: only a person in mode 'answer' presses a key" % w)
        self.key = key
        self.key_after_s = _int(a, "key_after_s", w, 3, 0, 3600)
        self.talk_s = _int(a, "talk_s", w, 60 if mode == "voicemail" else 120, 1, 86400)
        self.ring_limit_s = _int(a, "ring_limit_s", w, 60, 1, 3600)
        self.calls = []
        calls = spec.get("calls", [])
        if not isinstance(calls, list):
            raise ValueError("%s.calls: a list expected" % where)
        for i in range(len(calls)):
            c = calls[i]
            w = "%s.calls[%d]" % (where, i)
            _only(c, _CALL_KEYS, w)
            withheld = c.get("withheld", False)
            if not isinstance(withheld, bool):
                raise ValueError("%s.withheld: true or false expected, got %r" % (w, withheld))
            self.calls.append({"at_ms": _offset(c, w), "ring_s": _int(c, "ring_s", w, 30, 1, 3600),
                               "talk_s": _int(c, "talk_s", w, 60, 1, 86400), "withheld": withheld})
        self.texts = []
        texts = spec.get("texts", [])
        if not isinstance(texts, list):
            raise ValueError("%s.texts: a list expected" % where)
        for i in range(len(texts)):
            t = texts[i]
            w = "%s.texts[%d]" % (where, i)
            _only(t, _TEXT_KEYS, w)
            text = t.get("text")
            if not isinstance(text, str):
                raise ValueError("%s.text: a string expected, got %r" % (w, text))
            self.texts.append({"at_ms": _offset(t, w), "text": text})
        self.log = []

    def __repr__(self):
        return "<Person %s %s>" % (self.name, self.number)


class People:
    def __init__(self, scenario, vt):
        self.vt = vt
        self.people = []
        self.unknown = []  # (vt_ms, event, number, detail) for numbers nobody has
        specs = scenario.get("people")
        if specs is None:
            specs = []
        if not isinstance(specs, list):
            raise ValueError("people: a list expected")
        seen = {}
        for i in range(len(specs)):
            p = Person(specs[i], "people[%d]" % i)
            if p.number in seen:
                raise ValueError("people[%d].number: %s is also people[%d]'s" % (i, p.number, seen[p.number]))
            seen[p.number] = i
            self.people.append(p)

    def __iter__(self):
        return iter(self.people)

    def __len__(self):
        return len(self.people)

    def find(self, number):
        """The person with exactly this number, or None."""
        for p in self.people:
            if p.number == number:
                return p
        return None

    def note(self, person, number, event, detail=""):
        """Log event for person (or for number in self.unknown when person is None)."""
        if person is not None:
            person.log.append((self.vt.ms, event, detail))
        else:
            self.unknown.append((self.vt.ms, event, number, detail))
