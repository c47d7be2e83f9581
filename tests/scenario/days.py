"""Helpers the scenario tests share: times in a simulated day and the network's channels.

    t_ms, channel = days.timeline(start)   # start: epoch-2000 s of the scenario start
"""
import json
import os
import shutil
import tempfile

from firmware import clock
from firmware.outbox import Outbox
from host_sim.world import offset_ms  # noqa: F401  ('HH:MM[:SS]' after the start -> ms)

# A held batch goes at its deadline (Uplink._held); a send is acked within the uplink's 30 s ack
# timeout. A report still queued at the end of a run was made at most batch_s + this before it.
SEND_SLACK_MS = 60000


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


def config(run):
    """The watch's settings at the end of the run (its flash's config.json: every key)."""
    with open(os.path.join(run.out, "flash", "config.json")) as f:
        return json.load(f)


def held_at_end(run):
    """The reports still in the watch's outbox when the run ended, [(seq, content)] oldest
    first, read with the firmware's own Outbox from a copy of the flash (opening may repair,
    and the run's files stay as they were)."""
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(run.out, "flash", "outbox")
        if not os.path.isdir(src):
            return []
        shutil.copytree(src, os.path.join(tmp, "outbox"))
        ob = Outbox(tmp)
        return ob.pending(len(ob)) if len(ob) else []
    finally:
        shutil.rmtree(tmp)


def batch_lag_ms(run):
    """The longest a report may wait at the watch before it is at the server: batch_s (a report
    made while the watch stands still waits at most that for its batch, Uplink.kick keeping the
    earliest deadline) plus SEND_SLACK_MS for the send and its ack."""
    return config(run)["batch_s"] * 1000 + SEND_SLACK_MS


def delivered_within(run, t_ms, reports, lag_ms):
    """Each of `reports` (report events) is confirmed at the server (a `delivered` event whose
    `through` covers its seq) at most lag_ms after it was made; fails naming the first late."""
    through = [(t_ms(e["t"]), e["through"]) for e in run.kinds("delivered")]
    for e in reports:
        t = t_ms(e["t"])
        at = [ts for ts, th in through if th >= e["seq"] and ts >= t]
        assert at and at[0] - t <= lag_ms, "report %d made at %d ms: delivered %s" % (
            e["seq"], t, "%d ms later" % (at[0] - t) if at else "never")


def every_report_accounted_for(run, t_ms, one_boot=True, held_ms=None):
    """Account for every report by its sequence number (no "all but one"): each seq a `report`
    event logged is either covered by a later `delivered` event (`through` >= seq) or still in
    the outbox on the watch's flash at the end of the run (a batch held while the watch stands
    still, `batch_s`), never both, never neither; and the server holds a distinct UD for each
    delivered one (or, over OsmAnd, a distinct request without an alarm). Only a batch may be
    left: every report still queued was made at most held_ms before the end (default: the
    run's batch_s plus SEND_SLACK_MS; 0 when batching is off). one_boot: a fresh flash and no
    reset, so the seqs are exactly 1..n, the delivered counts add up to the seqs delivered and
    the ones held are the newest (after a reset a lost ack may resend a batch). Returns n, the
    number of reports made; held_at_end(run) has the ones left."""
    reports = run.kinds("report")
    seqs = [e["seq"] for e in reports]
    n = len(seqs)
    assert seqs == sorted(set(seqs)), "seqs must only grow"
    made = dict((e["seq"], t_ms(e["t"])) for e in reports)
    held = [seq for seq, _ in held_at_end(run)]
    assert len(held) == run.summary["outbox_left"], (held, run.summary["outbox_left"])
    delivered = run.kinds("delivered")
    through = [(t_ms(e["t"]), e["through"]) for e in delivered]
    for e in reports:
        t = t_ms(e["t"])
        sent = [1 for ts, th in through if th >= e["seq"] and ts >= t]
        if e["seq"] in held:
            assert not sent, "report %d delivered and still queued" % e["seq"]
        else:
            assert sent, "report %d neither delivered nor queued" % e["seq"]
    assert set(held) <= set(seqs), "queued seqs no report made: %r" % sorted(set(held) - set(seqs))
    if held_ms is None:
        held_ms = batch_lag_ms(run) if config(run)["batch_s"] else 0
    end = run.summary["sim_seconds"] * 1000
    for seq in held:
        assert end - made[seq] <= held_ms, "report %d queued for %d s at the end: more than a batch" % (
            seq, (end - made[seq]) // 1000)
    k = len(held)
    if one_boot:
        assert seqs == list(range(1, n + 1))
        assert held == seqs[n - k:], "only the newest reports may be held: %r" % held
        assert [th for _, th in through] == sorted(th for _, th in through)
        assert (through[-1][1] if through else 0) == n - k and sum(e["n"] for e in delivered) == n - k
    s = run.summary
    assert s["reports_queued"] == n
    uds = set(w["data"].split("*", 3)[3] for w in run.wire
              if w["channel"] == "watch" and w["dir"] == "up" and "*UD," in w["data"])
    # over OsmAnd (watch-protocol.md §7) a report is a GET of its own; an alarm's has alarm=
    uds |= set(w["data"] for w in run.wire
               if w["channel"] == "osmand" and w["dir"] == "up" and "&alarm=" not in w["data"])
    assert len(uds) == n - k
    return n
