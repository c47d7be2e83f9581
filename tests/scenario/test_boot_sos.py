"""SOS pressed while the watch is still starting, before it ever had a fix: the press is kept
and the SOS starts as soon as the modem is up, with the cell instead of a position."""
import pytest

from host_sim import traccar

INTERPRETERS = ["python", "micropython"]


@pytest.mark.parametrize("interp", INTERPRETERS)
def test_a_press_during_boot_is_an_sos_once_the_modem_is_up(sim, interp):
    run = sim("boot_sos", interp)
    s = run.summary
    assert run.returncode == 0, run.stderr[-2000:]
    press = run.kinds("button")
    assert [e["press"] for e in press] == ["long"]
    ready = run.kinds("identity")[0]["t"]
    assert press[0]["t"] < ready  # pressed while the modem was booting ...
    sos = run.kinds("sos")
    assert len(sos) == 1 and sos[0]["t"] >= ready  # ... and not lost: the SOS starts once it is up
    # no fix ever: the SMS says so and gives the cell; the AL carries the cell with a V position
    sms = [w for w in run.wire if w["channel"] == "sms" and w["dir"] == "up"]
    assert [w["peer"] for w in sms] == ["+4791111111", "+4792222222"]
    assert all(w["data"].startswith("SOS Emma! pos unknown, cell 242-1 2010/26383617. Battery ") for w in sms)
    al = run.frames("up", "AL")
    assert len(al) == 1
    p = traccar.decode_position(al[0])
    assert p["status"] == 0x00010000 and not p["valid"] and p["cells"]
    assert s["sos_accepted_by"] == "Mamma"
    # Pappa (busy) is never dialled: Mamma accepted first
    dials = [w["peer"] for w in run.wire if w["channel"] == "call" and w["data"] == "dial"]
    assert dials == ["+4791111111"]


def test_same_wire_on_both_interpreters(sim):
    a = sim("boot_sos", "python").wire
    b = sim("boot_sos", "micropython").wire
    assert len(a) > 50 and a == b
