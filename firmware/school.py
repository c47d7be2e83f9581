"""School mode: weekly quiet windows in the watch's local time (the policy; see issue 6).

A window is written "Mo-Fr 08:00-14:00": days (Mo Tu We Th Fr Sa Su, ranges with '-', lists
with ',') and a start and end in local time; an end before the start crosses midnight.
"""
_DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
MAX_WINDOWS = 16


def _hhmm(text):
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
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
    start, end = _hhmm(a), _hhmm(b)
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
