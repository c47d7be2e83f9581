"""School mode: weekly quiet windows in the watch's local time (the policy; see issue 6).

A window is written "Mo-Fr 08:00-14:00": days (Mo Tu We Th Fr Sa Su, ranges with '-', lists
with ',') and a start and end in local time; an end before the start crosses midnight, and the
days name the day the window starts ("Fr 22:00-06:00" is Friday 22:00 to Saturday 06:00).
The start is inside the window, the end is not.

Everything here is a pure function of its arguments (STYLE.md habit 2): wall time goes in as
epoch-2000 seconds, UTC (`utc_s`) or already shifted to local time (`local_s`). Integers only.

Local time: the network's zone (AT+CCLK's quarter hours, daylight saving included:
clock.cclk_offset_min) wins when the watch has one; otherwise the configured standard offset
plus the configured daylight-saving rule ("EU", "US" or "" for none).
"""
from firmware import clock, contacts
from firmware.compat import const  # clock imports it already: no local fallback needed

_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MAX_WINDOWS = 16
DAY_S = const(86400)
WEEK_S = const(604800)
UNKNOWN_TIME_RETRY_S = const(60)  # without a wall clock: not quiet, ask again in a minute


def parse_hhmm(text):
    """'08:30' -> 510, minutes of the day; ValueError unless exactly HH:MM, 00:00..23:59
    (also the time of config's REMIND items)."""
    if len(text) != 5 or text[2] != ":" or not contacts.digits(text[:2] + text[3:]):
        raise ValueError("time HH:MM: %r" % text)
    h, m = int(text[:2]), int(text[3:])
    if h > 23 or m > 59:
        raise ValueError("time HH:MM: %r" % text)
    return h * 60 + m


def _days(text):
    mask = 0
    for part in text.split(","):
        a, _, b = part.partition("-")
        if a not in _DAYS or (b and b not in _DAYS):
            raise ValueError("days: %r" % text)
        i, j = _DAYS.index(a), _DAYS.index(b) if b else _DAYS.index(a)
        while True:
            mask |= 1 << i
            if i == j:
                break
            i = (i + 1) % 7
    return mask


def parse_window(text):
    """'Mo-Fr 08:00-14:00' -> (days_mask bit 0 = Monday, start_min, end_min). ValueError."""
    if not isinstance(text, str):
        raise ValueError("window: a string expected")
    days, _, span = text.partition(" ")
    a, _, b = span.partition("-")
    start, end = parse_hhmm(a), parse_hhmm(b)
    if start == end:
        raise ValueError("window: empty: %r" % text)
    return _days(days), start, end


def check_windows(values):
    """Validate the config value: a list of at most MAX_WINDOWS window strings."""
    if len(values) > MAX_WINDOWS:
        raise ValueError("at most %d windows" % MAX_WINDOWS)
    for i, w in enumerate(values):
        try:
            parse_window(w)
        except ValueError as e:
            raise ValueError("[%d]: %s" % (i, e))


# ---- local time --------------------------------------------------------------------------------


def weekday(days2000):
    """0 = Monday .. 6 = Sunday for a day number since 2000-01-01 (a Saturday)."""
    return (days2000 + 5) % 7


def _sunday(y, m, d, nth):
    """Day number (since 2000) of the nth Sunday on or after y-m-d (nth >= 1), or with nth == 0
    the last Sunday on or before it."""
    z = clock.from_parts(y, m, d) // DAY_S
    if nth == 0:
        return z - (weekday(z) + 1) % 7
    return z + (6 - weekday(z)) + 7 * (nth - 1)


def dst_span(rule, year, std_offset_min):
    """(start, end) in epoch-2000 UTC seconds of the rule's daylight-saving time in a year, or
    None for no rule. Both rules are northern: summer time lies inside the year.

    "EU" (Directive 2000/84/EC): from 01:00 UTC on the last Sunday of March to 01:00 UTC on the
    last Sunday of October, whatever the zone. "US" (Energy Policy Act 2005): from 02:00 local
    standard time on the second Sunday of March to 02:00 local daylight time (01:00 standard)
    on the first Sunday of November."""
    if rule == "EU":
        return (_sunday(year, 3, 31, 0) * DAY_S + 3600, _sunday(year, 10, 31, 0) * DAY_S + 3600)
    if rule == "US":
        std = std_offset_min * 60
        return (_sunday(year, 3, 1, 2) * DAY_S + 7200 - std, _sunday(year, 11, 1, 1) * DAY_S + 3600 - std)
    return None


def local_offset_min(utc_s, net_offset_min, std_offset_min, rule):
    """The local offset from UTC in minutes at utc_s: the network's offset when known (not
    None), else the configured standard offset plus 60 while the rule's summer time holds."""
    if net_offset_min is not None:
        return net_offset_min
    span = dst_span(rule, clock.to_parts(utc_s)[0], std_offset_min)
    if span is not None and span[0] <= utc_s < span[1]:
        return std_offset_min + 60
    return std_offset_min


def next_offset_change(utc_s, std_offset_min, rule):
    """Seconds (> 0) until the rule next moves the clocks, or None for no rule."""
    y = clock.to_parts(utc_s)[0]
    for year in (y, y + 1):
        span = dst_span(rule, year, std_offset_min)
        if span is None:
            return None
        for t in span:
            if t > utc_s:
                return t - utc_s
    return None


def to_local(utc_s, offset_min):
    """Epoch-2000 seconds shifted to local time (what clock.to_parts reads as local parts)."""
    return utc_s + offset_min * 60


# ---- windows -----------------------------------------------------------------------------------


def parse_windows(values):
    """The config list -> (parsed windows, skipped). Never raises: an entry that does not parse
    (the config check should have refused it) is left out and listed as (index, reason)."""
    out = []
    skipped = []
    if not isinstance(values, list):
        return out, [(None, "school_windows: a list expected")]
    for i in range(len(values)):
        if i == MAX_WINDOWS:
            skipped.append((i, "more than %d windows, the rest ignored" % MAX_WINDOWS))
            break
        try:
            out.append(parse_window(values[i]))
        except ValueError as e:
            skipped.append((i, str(e)))
    return out, skipped


def in_window(windows, local_s):
    """True if local time local_s (epoch-2000 seconds shifted to local) falls in any window.
    windows: parsed, [(days_mask, start_min, end_min)]; start inclusive, end exclusive."""
    days, sod = divmod(local_s, DAY_S)
    today = 1 << weekday(days)
    yesterday = 1 << weekday(days - 1)
    for mask, start, end in windows:
        a, b = start * 60, end * 60
        if a < b:
            if mask & today and a <= sod < b:
                return True
        else:  # crosses midnight: the evening of a listed day, the morning after it
            if (mask & today and sod >= a) or (mask & yesterday and sod < b):
                return True
    return False


def next_change(windows, local_s):
    """Seconds (1 .. WEEK_S) until in_window's answer changes; WEEK_S if it does not change
    within a week (no windows, or windows that cover all the time)."""
    edges = []
    for _, start, end in windows:
        for m in (start, end):
            if m * 60 not in edges:
                edges.append(m * 60)
    edges.sort()
    now = in_window(windows, local_s)
    day0 = local_s - local_s % DAY_S
    for k in range(8):
        base = day0 + k * DAY_S
        for e in edges:
            t = base + e
            if t <= local_s:
                continue
            if t - local_s > WEEK_S:
                return WEEK_S
            if in_window(windows, t) != now:
                return t - local_s
    return WEEK_S


# ---- the settings ------------------------------------------------------------------------------


class Schedule:
    """The school settings of a config dict, parsed once (rebuild it when they change).

    Reads school_mode ("auto" | "on" | "off"; anything else acts as "auto"), school_windows,
    school_guardian_rings, tz_offset_min (the standard offset) and tz_rule."""

    def __init__(self, values):
        self.mode = values.get("school_mode", "auto")
        self.windows, self.skipped = parse_windows(values.get("school_windows") or [])
        self.guardian_rings = values.get("school_guardian_rings", False) is True
        self.std_offset_min = values.get("tz_offset_min", 0)
        self.rule = values.get("tz_rule", "")

    def offset_min(self, utc_s, net_offset_min):
        return local_offset_min(utc_s, net_offset_min, self.std_offset_min, self.rule)

    def quiet(self, utc_s, net_offset_min):
        """(is_quiet, seconds until the answer may change): see quiet()."""
        if self.mode == "on":
            return True, WEEK_S
        if self.mode == "off":
            return False, WEEK_S
        if utc_s is None:
            return False, UNKNOWN_TIME_RETRY_S
        local_s = to_local(utc_s, self.offset_min(utc_s, net_offset_min))
        q = in_window(self.windows, local_s)
        wait = next_change(self.windows, local_s)
        # the clocks may move before that (the network's zone changes at the same instants in
        # practice): look again then, so a window starts at its local time on the new offset
        moves = next_offset_change(utc_s, self.std_offset_min, self.rule)
        if moves is not None and moves < wait:
            wait = moves
        return q, wait


def quiet(values, utc_s, net_offset_min):
    """(is_quiet, seconds_until_it_may_change) for the settings dict values at utc_s (epoch-2000
    UTC, None if the watch does not know the time) with the network's offset (minutes, None if
    the network gave none). "on": quiet until the setting changes; "off": never; "auto": the
    windows at the local time. Unknown time: not quiet, look again in 60 s. The seconds are
    1 .. WEEK_S; a settings change must be looked at at once whatever they say."""
    return Schedule(values).quiet(utc_s, net_offset_min)


# ---- what a window allows ----------------------------------------------------------------------
# The whitelist policy, in and out of windows: contact is what Contacts.find returned (None for
# a stranger or a withheld number, who are refused in and out of windows alike).


def decide_call(quiet, contact, guardian_rings):
    """An incoming call: "ring" or "reject". In a window only a guardian rings, and only with
    school_guardian_rings set."""
    if contact is None:
        return "reject"
    if not quiet or (guardian_rings and contact.is_guardian):
        return "ring"
    return "reject"


def decide_sms(quiet, contact):
    """An incoming SMS: "keep" (store it, notify the child), "hold" (store it, notify only when
    the window ends) or "drop" (a stranger's). A contact's SMS is always stored: a guardian's
    command in it is carried out in a window too; only the child's notification waits."""
    if contact is None:
        return "drop"
    return "hold" if quiet else "keep"


OUTGOING_IN_WINDOW = ("sos", "reply")


def outgoing_allowed(quiet, purpose):
    """May the watch call or text now? In a window only for purpose "sos" (an SOS always goes
    out) and "reply" (the answer to a guardian's command); outside any purpose may."""
    return not quiet or purpose in OUTGOING_IN_WINDOW
