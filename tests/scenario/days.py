"""Helpers the scenario tests share: times in a simulated day and the network's channels.

    t_ms, channel = days.timeline(start)   # start: epoch-2000 s of the scenario start
"""
from firmware import clock
from host_sim.world import offset_ms  # noqa: F401  ('HH:MM[:SS]' after the start -> ms)


def local(ms):
    """ms after the start -> 'HH:MM:SS.mmm' (the scenarios start at local midnight)."""
    s = ms // 1000
    return "%02d:%02d:%02d.%03d" % (s // 3600, s // 60 % 60, s % 60, ms % 1000)


def text_of(w):
    """A wire frame's data as text (binary frames are written as hex)."""
    return bytes.fromhex(w["data"]).decode() if w.get("hex") else w["data"]


def timeline(start):
    """(t_ms, channel) for a scenario starting at `start`: t_ms(iso) -> ms after the start of
    an events/wire 't'; channel(run, "sms"|"call") -> [(ms, dir, peer, data)]."""

    def t_ms(iso):
        return (clock.parse_iso8601(iso[:19]) - start) * 1000 + int(iso[20:23])

    def channel(run, name):
        return [(t_ms(w["t"]), w["dir"], w["peer"], text_of(w)) for w in run.wire if w["channel"] == name]

    return t_ms, channel


def every_report_delivered(run, t_ms, one_boot=True):
    """Account for every report by its sequence number (no "all but one"): each seq a `report`
    event logged is covered by a later `delivered` event (`through` >= seq), the outbox ends
    empty and the server holds a distinct UD for each (or, over OsmAnd, a distinct request
    without an alarm). one_boot: a fresh flash and no reset, so
    the seqs are exactly 1..n and the delivered counts add up to n (after a reset a lost ack may
    resend a batch). Returns n."""
    reports = run.kinds("report")
    seqs = [e["seq"] for e in reports]
    n = len(seqs)
    assert seqs == sorted(set(seqs)), "seqs must only grow"
    delivered = run.kinds("delivered")
    through = [(t_ms(e["t"]), e["through"]) for e in delivered]
    for e in reports:
        t = t_ms(e["t"])
        assert [1 for ts, th in through if th >= e["seq"] and ts >= t], "report %d never delivered" % e["seq"]
    if one_boot:
        assert seqs == list(range(1, n + 1))
        assert [th for _, th in through] == sorted(th for _, th in through)
        assert through[-1][1] == n and sum(e["n"] for e in delivered) == n
    s = run.summary
    assert s["reports_queued"] == n and s["outbox_left"] == 0
    uds = set(w["data"].split("*", 3)[3] for w in run.wire
              if w["channel"] == "watch" and w["dir"] == "up" and "*UD," in w["data"])
    # over OsmAnd (watch-protocol.md §7) a report is a GET of its own; an alarm's has alarm=
    uds |= set(w["data"] for w in run.wire
               if w["channel"] == "osmand" and w["dir"] == "up" and "&alarm=" not in w["data"])
    assert len(uds) == n
    return n
