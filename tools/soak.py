"""The power-cut suite (`make soak`): a simulated week with at least 1,000 power cuts at random
instants, a third of them inside the firmware's flash operations (a torn write, a rename or a
delete that never happened: host_sim/flashcut.py), plus a 12-hour and an 80-hour server
outage, then every report accounted for:

    python tools/soak.py [--days 7] [--cuts 1000] [--seed 1] [--out out/soak] [--json]
    micropython tools/soak.py ...    (the same cuts: the generator is our own, not random's)

created     reports and alarms the firmware put in its outboxes (each put that returned)
delivered   of those, the ones whose frame reached the server
duplicated  frames the server got more than once (the same content: the same device time, so
            Traccar's user sees the same point twice, never a wrong one)
dropped     reports the outbox dropped by its bound (72 h of reports: the 80-hour outage)
pending     still queued at the end
lost        created, and neither delivered, dropped nor pending: must be 0 (exit 1 otherwise)

The week is host_sim/scenarios/week.json on a cell that does not run down (the cuts are the
test here, not the battery). Seeded: the same seed gives the same cuts and the same figures.
"""
import sys
import time

REPO = __file__.rsplit("/", 2)[0] if __file__.count("/") >= 2 else "."
sys.path.insert(0, REPO)

from host_sim import runner  # noqa: E402  (first: virtual time before asyncio)
from host_sim.scenario import load as load_scenario  # noqa: E402
from firmware.outbox import Outbox  # noqa: E402

WEEK = REPO + "/host_sim/scenarios/week.json"
DRAIN_S = 6 * 3600  # no cut and no outage in the last hours: what is queued can go


def _hhmm(s):
    return "%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60)


class _Rng:
    """A 31-bit linear congruential generator: the same numbers on CPython and MicroPython
    (MicroPython's random has no Random class, and its generator is not CPython's)."""

    def __init__(self, seed):
        self.x = (seed * 2654435761 + 12345) & 0x7FFFFFFF

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n

    def choice(self, items):
        return items[self.below(len(items))]


def scenario(days, cuts, seed):
    """The week (or its first `days`) with the outages and `cuts` seeded power cuts."""
    sc = load_scenario(WEEK)
    dur = days * 86400
    sc["duration_s"] = dur
    sc["battery_mah"] = 1000000  # the cuts are tested here, not the cell
    rng = _Rng(seed)
    events = []
    # the outages: 12 h from Monday 07:00; 80 h from Tuesday 22:00 (the newest 72 h are kept)
    outages = [(7 * 3600, 12 * 3600), (2 * 86400 - 2 * 3600, 80 * 3600)]
    for at, for_s in outages:
        if at + for_s <= dur - DRAIN_S:
            events.append({"at": _hhmm(at), "do": "server_down", "for_s": for_s})
    span = dur - DRAIN_S - 60
    for _ in range(cuts):
        at = 60 + rng.below(span)
        off_s = rng.choice((2, 2, 5, 30, 120))
        if rng.below(3):
            events.append({"at": _hhmm(at), "do": "reboot", "for_s": off_s})
        else:
            events.append({"at": _hhmm(at), "do": "flash_cut", "op": 1 + rng.below(8),
                           "bytes": rng.below(300), "within_s": 900, "for_s": off_s})
    sc["events"] = events
    sc["name"] = "soak_%dd_%dcuts_seed%d" % (days, cuts, seed)
    return sc


class _Ledger:
    """Every put that returned (outbox name, seq, content), and what the bound dropped."""

    def __init__(self):
        self.created = []
        self.dropped = []
        self._put = Outbox.put

    def install(self):
        ledger = self
        put = self._put

        def recording_put(ob, content):
            doomed = []
            if len(ob) >= ob.max_items:  # the oldest go first (outbox.py: "Full")
                doomed = [c for _, c in ob.pending(len(ob) - ob.max_items + 1)]
            before = ob.dropped
            try:
                seq = put(ob, content)
            finally:
                # the drop is its own head write: it may have happened even when the power went
                # before the new record was on flash (the put raised)
                ledger.dropped.extend(doomed[:ob.dropped - before])
            ledger.created.append((ob.dir.rsplit("/", 1)[-1], seq, content))
            return seq

        Outbox.put = recording_put

    def uninstall(self):
        Outbox.put = self._put


def _count(items):
    c = {}
    for x in items:
        c[x] = c.get(x, 0) + 1
    return c


def account(sim, ledger):
    """The figures: every created item delivered, dropped by the bound, pending, or lost."""
    at_server = _count(content for _, typ, content in sim.server.frames
                       if typ.startswith("UD") or typ.startswith("AL"))
    pending = []
    app = sim.last_app
    if app is not None:
        for box in (app.outbox, app.alarms):
            if box is not None:  # what is on flash (reopened: as the next boot would find it)
                root, name = box.dir.rsplit("/", 1)
                again = Outbox(root, box.max_items, box.seg_items, name)
                pending.extend(c for _, c in again.pending(100000))
    dropped = _count(ledger.dropped)
    pend = _count(pending)
    delivered = lost = 0
    lost_items = []
    for _, seq, content in ledger.created:
        if at_server.get(content, 0) > 0:
            delivered += 1
        elif pend.get(content, 0) > 0:
            pend[content] -= 1
        elif dropped.get(content, 0) > 0:
            dropped[content] -= 1
        else:
            lost += 1
            lost_items.append((seq, content[:60]))
    fc = sim.flashcut
    cuts_in = fc.cuts if fc is not None else {}
    return {
        "cuts": sum(1 for e in sim.sc["events"] if e["do"] in ("reboot", "flash_cut")),
        "cuts_inside_flash": dict(cuts_in),
        "flash_cuts_between": sim.power_cuts_between,
        "boots": sim.boots,
        "created": len(ledger.created),
        "delivered": delivered,
        "duplicated": sum(n - 1 for n in at_server.values() if n > 1),
        "dropped_by_bound": len(ledger.dropped),
        "pending": len(pending),
        "lost": lost,
        "lost_items": lost_items[:10],
    }


def soak(days, cuts, seed, out):
    sc = scenario(days, cuts, seed)
    ledger = _Ledger()
    ledger.install()
    try:
        sim = runner.Sim(sc, out, echo=False)
        t0 = time.time()
        sim.run()
        wall = time.time() - t0
    finally:
        ledger.uninstall()
    r = account(sim, ledger)
    r["wall_s"] = int(wall)
    r["days"] = days
    r["seed"] = seed
    return r


def _args(argv):
    a = {"days": 7, "cuts": 1000, "seed": 1, "out": REPO + "/out/soak", "json": False}
    i = 0
    while i < len(argv):
        k = argv[i]
        if k == "--json":
            a["json"] = True
        elif k in ("--days", "--cuts", "--seed", "--out") and i + 1 < len(argv):
            i += 1
            a[k[2:]] = argv[i] if k == "--out" else int(argv[i])
        else:
            raise SystemExit(__doc__)
        i += 1
    return a


def main():
    a = _args(sys.argv[1:])
    days, cuts, seed = a["days"], a["cuts"], a["seed"]
    if not 1 <= days <= 7:
        raise SystemExit("--days: 1 to 7")
    r = soak(days, cuts, seed, a["out"])
    if a["json"]:
        print(runner.json_line(sorted(r.items())))
    else:
        inside = r["cuts_inside_flash"]
        print("soak         %d days, %d power cuts (seed %d), %d boots, %d s" % (
            r["days"], r["cuts"], r["seed"], r["boots"], r["wall_s"]))
        print("             inside flash operations: %d (%s); armed but none came: %d" % (
            sum(inside.values()), ", ".join("%s %d" % (k, inside[k]) for k in sorted(inside)),
            r["flash_cuts_between"]))
        print("             reports and alarms created %d, delivered %d, duplicated %d, dropped by "
              "the 72 h bound %d, pending %d, lost %d" % (
                  r["created"], r["delivered"], r["duplicated"], r["dropped_by_bound"], r["pending"],
                  r["lost"]))
        for seq, c in r["lost_items"]:
            print("             LOST seq %d: %s" % (seq, c))
    return 1 if r["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
