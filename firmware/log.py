"""Events: what happened, as (kind, fields). The device prints them on the serial console;
the simulator plugs in a sink that stamps them with virtual UTC and writes events.jsonl."""
_sink = None


def set_sink(fn):
    """fn(kind, fields_dict); None restores printing."""
    global _sink
    _sink = fn


def event(kind, **fields):
    if _sink is not None:
        _sink(kind, fields)
        return
    parts = [kind]
    for k in sorted(fields):
        parts.append("%s=%s" % (k, fields[k]))
    print(" ".join(parts))
