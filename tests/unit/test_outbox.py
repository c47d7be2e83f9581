"""Outbox: FIFO order, durable acks, bound, and survival of power cuts at any instant."""
import os

import support
from firmware import fsutil
from firmware.outbox import HDR, Outbox


def _report(i):
    return "UD,140926,%06d,A,22.571707,N,113.8613968,E,0.1,0.0,100,7,60,90,1000,50,0,0" % i


def _read(path):
    return fsutil.read_bytes(path)


def _write(path, data):
    f = open(path, "wb")
    f.write(data)
    f.close()


def _logs(d):
    names = [n for n in os.listdir(d + "/outbox") if n.endswith(".log")]
    names.sort(key=lambda n: int(n[:-4]))
    return names


def _contents(ob, n=10000):
    return [c for _, c in ob.pending(n)]


def test_fifo_order_and_seq():
    d = support.tmpdir("ob")
    ob = Outbox(d, 20, 4)
    seqs = [ob.put(_report(i)) for i in range(10)]
    assert seqs == list(range(1, 11))
    assert len(ob) == 10
    got = ob.pending(3)
    assert got == [(1, _report(0)), (2, _report(1)), (3, _report(2))]
    assert _contents(ob) == [_report(i) for i in range(10)]
    assert ob.pending(0) == []


def test_put_is_on_flash_before_it_returns():
    d = support.tmpdir("ob")
    ob = Outbox(d)
    ob.put("LK,0,0,90")
    # a second instance (as after a reset) sees it without any close/flush of the first
    assert Outbox(d).pending(5) == [(1, "LK,0,0,90")]


def test_ack_through_removes_exactly_up_to_seq():
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    for i in range(10):
        ob.put(_report(i))
    ob.ack_through(6)
    assert len(ob) == 4
    assert [s for s, _ in ob.pending(10)] == [7, 8, 9, 10]
    ob.ack_through(3)  # going back does nothing
    assert len(ob) == 4
    ob.ack_through(7)
    assert ob.pending(1) == [(8, _report(7))]
    ob.ack_through(1000)  # beyond the last seq: clamped, everything done
    assert len(ob) == 0 and ob.pending(5) == []
    assert ob.put("next") == 11


def test_reopen_keeps_unacked_in_order_and_continues_seq():
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    for i in range(9):
        ob.put(_report(i))
    ob.ack_through(5)
    ob = Outbox(d, 50, 4)  # reboot
    assert ob.pending(10) == [(6, _report(5)), (7, _report(6)), (8, _report(7)), (9, _report(8))]
    assert ob.put("after") == 10
    ob.ack_through(10)
    ob = Outbox(d, 50, 4)  # all acked, all segments gone: numbering still continues
    assert len(ob) == 0
    assert ob.put("later") == 11
    assert ob.corrupt == 0 and ob.dropped == 0


def test_acked_segments_deleted_from_disk():
    d = support.tmpdir("ob")
    ob = Outbox(d, 100, 4)
    for i in range(10):  # segments 0: 1-4, 1: 5-8, 2: 9-10
        ob.put(_report(i))
    assert _logs(d) == ["0.log", "1.log", "2.log"]
    ob.ack_through(4)
    assert _logs(d) == ["1.log", "2.log"]
    ob.ack_through(7)
    assert _logs(d) == ["1.log", "2.log"]  # 8 is still pending in segment 1
    ob.ack_through(10)
    assert _logs(d) == []
    assert sorted(os.listdir(d + "/outbox")) == ["head"]
    assert 0 < ob.bytes_on_flash() < 32
    ob.put("x")
    assert _logs(d) == ["3.log"]


def test_bound_drops_oldest():
    d = support.tmpdir("ob")
    ob = Outbox(d, 12, 5)
    for i in range(12 + 5):
        ob.put(_report(i))
    assert ob.dropped == 5
    assert len(ob) == 12
    assert _contents(ob) == [_report(i) for i in range(5, 17)]
    ob = Outbox(d, 12, 5)
    assert ob.dropped == 5  # persisted
    assert len(ob) == 12 and ob.pending(1)[0][0] == 6
    # a smaller bound after a firmware update: one put trims the queue to it
    ob = Outbox(d, 4, 5)
    ob.put("new")
    assert len(ob) == 4 and ob.dropped == 5 + 9
    assert _contents(ob) == [_report(14), _report(15), _report(16), "new"]


def test_default_bound_is_72_hours_of_5_minute_reports():
    ob = Outbox(support.tmpdir("ob"))
    assert ob.max_items == 864 == 72 * 3600 // 300


def _segment_with(d, n, seg_items=64):
    ob = Outbox(d, 100, seg_items)
    for i in range(n):
        ob.put(_report(i))
    return d + "/outbox/" + _logs(d)[-1]


def test_torn_tail_truncated_record():
    d = support.tmpdir("ob")
    path = _segment_with(d, 5)
    data = _read(path)
    _write(path, data[:-20])  # the last record lost its final 20 bytes
    ob = Outbox(d)
    assert ob.corrupt == 1
    assert _contents(ob) == [_report(i) for i in range(4)]
    assert ob.put("after") == 5  # the torn seq was never returned by a completed put
    ob = Outbox(d)
    assert ob.corrupt == 1  # repaired once, not recounted
    assert _contents(ob) == [_report(i) for i in range(4)] + ["after"]


def test_torn_tail_garbage_appended():
    d = support.tmpdir("ob")
    path = _segment_with(d, 5)
    garbage = bytes([(i * 73 + 41) & 0xFF for i in range(300)]) + b"\xa5\x10\x00\x06\x00\x00\x00junk"
    _write(path, _read(path) + garbage)
    ob = Outbox(d)
    assert ob.corrupt == 1
    assert _contents(ob) == [_report(i) for i in range(5)]
    assert ob.put("after") == 6
    assert _contents(Outbox(d)) == [_report(i) for i in range(5)] + ["after"]
    assert _read(path)[-5:] == b"after"  # the garbage was cut away


def test_power_cut_at_every_byte_of_the_last_record():
    d = support.tmpdir("ob")
    path = _segment_with(d, 3)
    full = _read(path)
    rec = HDR + len(_report(2))
    for cut in range(len(full) - rec, len(full) + 1):
        _write(path, full[:cut])
        fsutil.remove(d + "/outbox/head")
        ob = Outbox(d)
        expected = [_report(i) for i in range(3 if cut == len(full) else 2)]
        assert _contents(ob) == expected, cut
        assert ob.corrupt == (0 if cut in (len(full), len(full) - rec) else 1), cut
        assert ob.put("new") == len(expected) + 1


def test_corrupt_record_in_the_middle():
    d = support.tmpdir("ob")
    path = _segment_with(d, 6)
    data = bytearray(_read(path))
    rec = HDR + len(_report(0))  # all reports have the same length
    data[2 * rec + HDR + 10] ^= 0x01  # a flipped bit in the third record's payload
    _write(path, data)
    ob = Outbox(d)
    assert ob.corrupt == 1
    assert ob.pending(10) == [(1, _report(0)), (2, _report(1)), (4, _report(3)), (5, _report(4)),
                              (6, _report(5))]
    assert len(ob) == 5
    ob.ack_through(4)
    assert len(ob) == 2
    assert ob.put("x") == 7
    ob = Outbox(d)
    assert ob.corrupt == 1 and len(ob) == 3
    assert [s for s, _ in ob.pending(10)] == [5, 6, 7]


def test_damage_after_open_is_repaired_when_read():
    # bit rot while the watch runs: len() must never count records pending() cannot return
    d = support.tmpdir("ob")
    ob = Outbox(d)
    for i in range(3):
        ob.put(_report(i))
    path = d + "/outbox/" + _logs(d)[0]
    data = bytearray(_read(path))
    rec = HDR + len(_report(0))
    data[rec + HDR + 10] ^= 0x01  # the second record, behind the open outbox's back
    _write(path, data)
    assert ob.pending(10) == [(1, _report(0)), (3, _report(2))]
    assert len(ob) == 2 and ob.corrupt == 1
    assert Outbox(d).corrupt == 1  # persisted, and not counted twice


def test_corrupt_length_field_resyncs():
    d = support.tmpdir("ob")
    path = _segment_with(d, 4)
    data = bytearray(_read(path))
    rec = HDR + len(_report(0))
    data[rec + 1] = 0xFF  # the second record's length now points far past the third
    _write(path, data)
    ob = Outbox(d)
    assert ob.corrupt == 1
    assert [s for s, _ in ob.pending(10)] == [1, 3, 4]


def test_stale_head_tmp_loses_nothing():
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    for i in range(6):
        ob.put(_report(i))
    ob.ack_through(2)
    # power cut while acking through 5: head.tmp written, never renamed over head
    _write(d + "/outbox/head.tmp", b"5 0 0\n")
    ob = Outbox(d, 50, 4)
    assert [s for s, _ in ob.pending(10)] == [3, 4, 5, 6]
    assert not fsutil.exists(d + "/outbox/head.tmp")
    # the same with a torn head.tmp, and a segment repair cut short
    _write(d + "/outbox/head.tmp", b"5 ")
    _write(d + "/outbox/1.tmp", b"\xa5partial")
    ob = Outbox(d, 50, 4)
    assert [s for s, _ in ob.pending(10)] == [3, 4, 5, 6]
    assert sorted(os.listdir(d + "/outbox")) == ["0.log", "1.log", "head"]


def test_power_cut_between_head_and_segment_delete():
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    for i in range(6):
        ob.put(_report(i))
    seg0 = _read(d + "/outbox/0.log")
    ob.ack_through(4)
    _write(d + "/outbox/0.log", seg0)  # as if the delete after the head write never happened
    ob = Outbox(d, 50, 4)
    assert [s for s, _ in ob.pending(10)] == [5, 6]
    assert _logs(d) == ["1.log"]


def test_damaged_head_resends_rather_than_loses():
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    for i in range(6):
        ob.put(_report(i))
    ob.ack_through(2)
    _write(d + "/outbox/head", b"\x00\xff garbage")
    ob = Outbox(d, 50, 4)
    assert [s for s, _ in ob.pending(10)] == [1, 2, 3, 4, 5, 6]
    assert ob.corrupt == 1


def test_empty_segment_file_after_power_cut():
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 2)
    ob.put("a")
    ob.put("b")
    _write(d + "/outbox/1.log", b"")  # created, nothing committed
    ob = Outbox(d, 50, 2)
    assert ob.corrupt == 0 and _contents(ob) == ["a", "b"]
    assert ob.put("c") == 3
    assert _contents(Outbox(d, 50, 2)) == ["a", "b", "c"]


def test_rejects_bad_content():
    ob = Outbox(support.tmpdir("ob"))
    support.raises(ValueError, ob.put, "")
    support.raises(ValueError, ob.put, "x" * 1025)
    support.raises(TypeError, ob.put, b"bytes")
    assert len(ob) == 0


def test_every_single_bit_flip_of_the_head_loses_nothing():
    # issue 10 #5: a head damaged so that it still parsed (a digit flipped) acked reports that
    # were never sent; now each flip either leaves the head as it was or reads as damage (resend)
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    for i in range(12):
        ob.put(_report(i))
    ob.ack_through(7)
    head = _read(d + "/outbox/head")
    assert head.startswith(b"h 7 0 0 ")
    for i in range(len(head)):
        for bit in range(8):
            bad = bytearray(head)
            bad[i] ^= 1 << bit
            _write(d + "/outbox/head", bytes(bad))
            seqs = [s for s, _ in Outbox(d, 50, 4).pending(20)]
            # as before, or damage: everything still on flash (from 5: 1-4 went with the ack) again
            assert seqs in ([8, 9, 10, 11, 12], [5, 6, 7, 8, 9, 10, 11, 12]), (bytes(bad), seqs)
            _write(d + "/outbox/head", head)


def test_a_head_at_the_top_of_the_seq_range_is_damage_and_put_still_works():
    # issue 10 #5: "4294967295 0 0" broke every later put() (struct.error, or on MicroPython a
    # wrapped seq and reports silently lost)
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    ob.put(_report(0))
    _write(d + "/outbox/head", b"4294967295 0 0\n")
    ob = Outbox(d, 50, 4)
    assert ob.corrupt == 1 and [s for s, _ in ob.pending(5)] == [1]
    assert ob.put(_report(1)) == 2
    assert [s for s, _ in Outbox(d, 50, 4).pending(5)] == [1, 2]


def test_a_stray_file_beside_the_segments_is_not_read():
    # issue 10 #6: a stray 00.log beside an empty 0.log made Outbox() raise at boot (a reboot loop)
    d = support.tmpdir("ob")
    ob = Outbox(d, 50, 4)
    ob.put("a")
    _write(d + "/outbox/0.log", b"")
    _write(d + "/outbox/00.log", b"\xa5junk")
    _write(d + "/outbox/x.log", b"junk")
    ob = Outbox(d, 50, 4)
    assert len(ob) == 0 and ob.put("b") == 1 and _contents(ob) == ["b"]
    assert "00.log" in os.listdir(d + "/outbox")  # not ours: left alone


def test_records_moved_within_a_segment_come_back_in_seq_order():
    # issue 10 #7: records out of order in a segment came back out of order, and acking a batch
    # by its last seq then acked a record never sent
    d = support.tmpdir("ob")
    path = _segment_with(d, 4)
    data = _read(path)
    recs = []
    pos = 0
    while pos < len(data):
        n = data[pos + 1] | data[pos + 2] << 8
        recs.append(data[pos:pos + HDR + n])
        pos += HDR + n
    assert len(recs) == 4
    _write(path, recs[0] + recs[2] + recs[1] + recs[3] + recs[2])  # 1, 3, 2, 4 and 3 again
    ob = Outbox(d, 100, 64)
    batch = ob.pending(2)
    assert [s for s, _ in batch] == [1, 2] and batch[1][1] == _report(1)
    ob.ack_through(batch[-1][0])
    assert [s for s, _ in ob.pending(10)] == [3, 4] and len(ob) == 2
    assert [c for _, c in Outbox(d, 100, 64).pending(10)] == [_report(2), _report(3)]


def test_segments_renamed_or_copied_out_of_seq_order_lose_nothing():
    # Found by tests/fuzz (outbox): segment files whose seqs do not rise with their number (a
    # damaged filesystem renamed or cross-linked one) were read in number order; pending()
    # skipped the lower seqs of a later segment while len() counted them: never sent
    d = support.tmpdir("ob")
    ob = Outbox(d, 100, 4)
    for i in range(10):
        ob.put(_report(i))  # 0.log: 1-4, 1.log: 5-8, 2.log: 9-10
    ob.ack_through(2)
    assert _logs(d) == ["0.log", "1.log", "2.log"]
    o = d + "/outbox/"
    os.rename(o + "0.log", o + "5.log")  # 1-4 now come after 5-10
    _write(o + "7.log", _read(o + "1.log"))  # and 5-8 twice
    ob = Outbox(d, 100, 4)
    assert [s for s, _ in ob.pending(100)] == list(range(3, 11)) and len(ob) == 8
    assert _contents(ob) == [_report(i) for i in range(2, 10)]
    assert ob.corrupt == 1 and ob.put("next") == 11
    assert [int(n[:-4]) for n in _logs(d)][0] > 7  # rewritten after the last segment number
    again = Outbox(d, 100, 4)  # repaired for good: nothing counted twice
    assert again.corrupt == 1 and _contents(again) == [_report(i) for i in range(2, 10)] + ["next"]
