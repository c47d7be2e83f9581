"""SOS pressed while the watch is still starting, before it ever had a fix: the press is kept
and the SOS starts as soon as the modem is up, with the cell instead of a position."""
import pytest

from host_sim import traccar

INTERPRETERS = ["python", "micropython"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_press_during_boot_is_an_sos_once_the_modem_is_up(sim, interp):
    run = sim("boot_sos", interp)
    s = run.summary
    press = run.kinds("button")
    assert [e["press"] for e in press] == ["long", "long"]
    ready = run.kinds("identity")[0]["t"]
    assert press[0]["t"] < ready  # pressed while the modem was booting ...
    sos = run.kinds("sos")
    assert len(sos) == 2 and ready <= sos[0]["t"] < press[1]["t"]  # ... and not lost
    # no fix ever: the SMS says so and gives the cell; the AL carries the cell with a V position
    sms = [w for w in run.wire if w["channel"] == "sms" and w["dir"] == "up" and w["t"] < press[1]["t"]]
    assert [w["peer"] for w in sms] == ["+4791111111", "+4792222222"]
    assert all(w["data"].startswith("SOS Emma! pos unknown, cell 242-1 2010/26383617. Battery ") for w in sms)
    al = run.frames("up", "AL")
    assert len(al) == 2
    p = traccar.decode_position(al[0])
    assert p["status"] == 0x00010000 and not p["valid"] and p["cells"]
    assert s["sos_accepted_by"] == "Mamma"
    # Pappa (busy) is never dialled: Mamma accepted first, both times
    dials = [w["peer"] for w in run.wire if w["channel"] == "call" and w["data"] == "dial"]
    assert dials == ["+4791111111", "+4791111111"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_switched_off_from_afar_the_button_starts_it_and_held_on_is_an_sos(sim, interp):
    run = sim("boot_sos", interp)
    off = run.kinds("shutdown")
    assert [e["what"] for e in off] == ["poweroff"] and run.kinds("deep_sleep")
    # the server's POWEROFF was answered before the watch went (watch-protocol.md §5 echo)
    assert [c for c in run.frames("up") if c == "POWEROFF"]
    boots = [e for e in run.kinds("boot") if e["t"] > off[0]["t"]]
    assert [e["cause"] for e in boots] == ["deep-sleep"]
    # nothing in between: no reports while off (the modem was powered down too)
    reports = [e["t"] for e in run.kinds("report")]
    assert not [t for t in reports if off[0]["t"] < t < boots[0]["t"]]
    # the press that started it, held on, became the second SOS, accepted like the first
    second = run.kinds("sos")[1]
    assert second["t"] > boots[0]["t"]
    assert [e["by"] for e in run.kinds("sos_accepted")] == ["Mamma", "Mamma"]
