"""Store-and-forward queue of report contents, on flash, safe against a power cut at any instant.

Layout under <root>/outbox/:

* <segno>.log  append-only segments, up to seg_items records each, segno increasing. A record:

      offset 0  1 byte   magic 0xA5 (never an ASCII byte: resync after damage is a byte search)
             1  2 bytes  payload length n, little-endian, 1..MAX_PAYLOAD
             3  4 bytes  seq, little-endian
             7  4 bytes  CRC-32 (binascii.crc32) of bytes 0..6 and then of the payload
            11  n bytes  payload (the report content, UTF-8; ASCII in practice)

* head         "h <acked> <dropped> <corrupt> <crc>\\n", replaced atomically (fsutil.atomic_write).
               acked: every seq <= acked is done (sent and acknowledged, or dropped); crc: the
               CRC-32 of "<acked> <dropped> <corrupt>", so a flipped digit that still parses
               reads as damage, not as records acked that never were. (A head of three numbers,
               without "h" and the crc, is read as written by the first firmware.)

Why this shape:

* put() is one append of ~110-260 bytes and a close: littlefs commits the file on close, so the
  record is on flash when put() returns. littlefs is copy-on-write: an append rewrites at most
  the file's last 4096-byte block, in a new place picked by its wear levelling, so a report every
  5 minutes costs ~300 small block writes a day spread over the partition (hardware.md §4).
  One file per record would cost a directory entry each; one big file would make deleting the
  sent records a rewrite of everything.
* The queue's start is a number in a tiny head file, not an edit of the log: acking is one small
  atomic write, and a segment is deleted once all its records are acked.
* Power cut during put(): on littlefs the file reverts to its last commit; on other filesystems
  the segment may end in a torn record or garbage. The per-record length + CRC finds it. On open,
  every segment is scanned; a segment with any bad bytes is rewritten atomically (<segno>.tmp,
  then rename over the segment) with only its good, unacked records, and the bad regions are
  counted in `corrupt` (persisted in head, so a repaired segment is not counted again). Rewriting
  is chosen over "start a new segment after the garbage" because MicroPython cannot truncate a
  file, and garbage left in place would be rescanned and recounted at every boot. A stale .tmp
  at open is a repair or head write cut short: the original is intact, the .tmp is deleted.
* Power cut during ack_through(): head is written first, then the acked segments are deleted.
  Either the old head survives (the records are sent again: a duplicate, never a loss) or the
  new one does (segments still on flash but fully acked are deleted at the next open).
* Full (max_items pending): put() drops the oldest first, by moving acked forward (one head
  write), and counts them in `dropped`. Dropping before appending keeps the bound on flash.
* A damaged head (impossible with an atomic rename, but FAT is not power-safe, and bits rot)
  reads as acked=0: everything still on flash is sent again rather than lost.
* Records out of seq order within a segment (moved by damage) or repeated are found at open and
  the segment rewritten in seq order, so pending() is oldest first and acking a batch by its
  last seq cannot ack a record that was never sent. Segments whose seqs do not rise with their
  number (renamed, copied or cross-linked by a damaged filesystem) are merged at open: every
  unacked record once, in seq order, into new segments after the last. Files in the folder
  that are not "<segno>.log" as this module writes them (a stray "00.log") are left alone and
  not read.

RAM: one 1 KiB payload buffer and an index of [segno, first_seq, last_seq, count, seqs] per
segment (seqs is None while the segment's seqs are consecutive, the normal case; a list only
for a segment that lost a record to damage). pending(n) reads just the records it returns
(plus the already-acked ones ahead of them in the first segment). Open reads every record once,
to verify CRCs and count what is pending: ~200 KB at most, well under a second on the ESP32.
"""
import os
import struct
from binascii import crc32

from firmware import fsutil
from firmware.compat import const

MAGIC = const(0xA5)
HDR = const(11)
MAX_PAYLOAD = const(1024)
_SEQ_MAX = const(0x3FFFFFFF)  # a head claiming more is damage (a report every 5 min: 10,000 years)
_FMT = "<BHII"  # magic, length, seq, crc
_SEG = const(0)  # index entry fields
_FIRST = const(1)
_LAST = const(2)
_COUNT = const(3)
_SEQS = const(4)


class Outbox:
    """Outbox(root, name="outbox"): the queue in root/name. See the module docstring for the
    format. The watch keeps two: "outbox" for reports and "alarms" for AL frames, which the
    uplink sends ahead of any backlog of reports."""

    def __init__(self, root, max_items=864, seg_items=64, name="outbox"):
        if max_items < 1 or seg_items < 1:
            raise ValueError("max_items and seg_items must be >= 1")
        self.dir = fsutil.join(root, name)
        self.max_items = max_items  # 864 = 72 h of 5-minute reports
        self.seg_items = seg_items
        self.dropped = 0  # records dropped because the queue was full (persisted)
        self.corrupt = 0  # damaged regions found and removed (persisted)
        self._acked = 0
        self._next = 1
        self._segs = []  # index entries, oldest first
        self._tail_ok = False  # may put() append to self._segs[-1]?
        self._next_segno = 0
        self._len = 0
        self._bad = 0  # damaged regions seen by _records since last reset
        self._hdr = bytearray(HDR)
        self._hdr7 = memoryview(self._hdr)[0:7]
        self._buf = bytearray(MAX_PAYLOAD)
        self._mv = memoryview(self._buf)
        self._chunk = bytearray(64)
        fsutil.makedirs(self.dir)
        self._open()

    # ---- public API -----------------------------------------------------------------------------

    def __len__(self):
        """Number of records not yet acked."""
        return self._len

    @property
    def acked(self):
        """Every seq <= acked is done (acked or dropped)."""
        return self._acked

    def put(self, content):
        """Append a report (str); returns its seq once it is on flash. Drops the oldest if full."""
        if not isinstance(content, str):
            raise TypeError("outbox content must be str")
        data = content.encode()
        n = len(data)
        if n < 1 or n > MAX_PAYLOAD:
            raise ValueError("outbox record must be 1..%d bytes, not %d" % (MAX_PAYLOAD, n))
        if self._len >= self.max_items:
            # Also catches a queue left longer by a firmware with a larger max_items: one head write.
            k = self._len - self.max_items + 1
            self._set_acked(self._nth_pending(k), self.dropped + k)
        seq = self._next
        self._next = seq + 1  # consumed even if the write fails: a seq is never given twice
        if not self._tail_ok or self._segs[-1][_COUNT] >= self.seg_items:
            self._segs.append([self._next_segno, seq, seq - 1, 0, None])
            self._next_segno += 1
            self._tail_ok = True
        seg = self._segs[-1]
        h = self._hdr
        struct.pack_into(_FMT, h, 0, MAGIC, n, seq, 0)
        struct.pack_into("<I", h, 7, crc32(data, crc32(self._hdr7)))
        try:
            f = open(self._path(seg[_SEG]), "ab")
            try:
                f.write(h)
                f.write(data)
            finally:
                f.close()
        except OSError:
            # Part of the record may be on flash now. Never append after it: the next put starts
            # a new segment, and the next open repairs this one.
            self._tail_ok = False
            self._refresh_tail()
            raise
        self._add(seg, seq)
        self._len += 1
        return seq

    def pending(self, n):
        """Up to n (seq, content) not yet acked, oldest first.

        Damage that appeared on flash after open (bit rot, a bad write by something else) is
        repaired here, at once: counted in `corrupt`, removed, and len() updated, so len() never
        counts records that pending() cannot return."""
        self._bad = 0
        out = self._read_pending(n)
        if self._bad:
            self._repair()
            out = self._read_pending(n)
        return out

    def _read_pending(self, n):
        out = []
        a = self._acked
        prev = a
        for seg in self._segs:
            if len(out) >= n:
                break
            if not self._pending_in(seg):
                continue
            path = self._path(seg[_SEG])
            size = fsutil.size(path) or 0
            f = open(path, "rb")
            try:
                for seq, nb, _ in self._records(f, size):
                    if seq > prev:  # (a record out of order counts as damage: repaired, read again)
                        prev = seq
                        out.append((seq, bytes(self._mv[0:nb]).decode()))
                        if len(out) >= n:
                            break
            finally:
                f.close()
        return out

    def ack_through(self, seq):
        """Every record with seq <= seq is done: durable before this returns."""
        if seq >= self._next:
            seq = self._next - 1  # never ack seqs not handed out yet
        if seq > self._acked:
            self._set_acked(seq, self.dropped)

    def bytes_on_flash(self):
        """Bytes in the outbox's files (littlefs stores small files inline in metadata and
        rounds bigger ones up to 4096-byte blocks: see os.statvfs for the real free space)."""
        total = fsutil.size(fsutil.join(self.dir, "head")) or 0
        for seg in self._segs:
            total += fsutil.size(self._path(seg[_SEG])) or 0
        return total

    # ---- index ----------------------------------------------------------------------------------

    def _path(self, segno):
        return fsutil.join(self.dir, "%d.log" % segno)

    @staticmethod
    def _add(seg, seq):
        if seg[_SEQS] is not None:
            seg[_SEQS].append(seq)
        elif seg[_COUNT] and seq != seg[_LAST] + 1:  # a gap: keep the seqs from now on
            seg[_SEQS] = list(range(seg[_FIRST], seg[_LAST] + 1))
            seg[_SEQS].append(seq)
        if not seg[_COUNT]:
            seg[_FIRST] = seq
        seg[_LAST] = seq
        seg[_COUNT] += 1

    def _pending_in(self, seg):
        a = self._acked
        if a < seg[_FIRST]:
            return seg[_COUNT]
        if a >= seg[_LAST]:
            return 0
        if seg[_SEQS] is None:
            return seg[_LAST] - a
        c = 0
        for s in seg[_SEQS]:
            if s > a:
                c += 1
        return c

    def _nth_pending(self, k):
        """The seq of the k-th (1-based) pending record."""
        a = self._acked
        for seg in self._segs:
            p = self._pending_in(seg)
            if k <= p:
                if seg[_SEQS] is None:
                    return max(seg[_FIRST], a + 1) + k - 1
                for s in seg[_SEQS]:
                    if s > a:
                        k -= 1
                        if not k:
                            return s
            k -= p
        return self._next - 1

    def _recount(self):
        n = 0
        for seg in self._segs:
            n += self._pending_in(seg)
        self._len = n

    def _set_acked(self, acked, dropped):
        # Head first, then delete: a power cut in between leaves fully acked segments that the
        # next open deletes. The reverse order could only lose the head's update, also harmless.
        self._write_head(acked, dropped, self.corrupt)
        self._acked = acked
        self.dropped = dropped
        segs = self._segs
        while segs and not self._pending_in(segs[0]):
            fsutil.remove(self._path(segs[0][_SEG]))
            segs.pop(0)
            if not segs:
                self._tail_ok = False  # the tail went too: the next put opens a new segment
        self._recount()

    def _write_head(self, acked, dropped, corrupt):
        # ~10 bytes: littlefs keeps it inline in the directory's metadata, so an ack costs one
        # metadata commit, and littlefs relocates metadata blocks every 100 erases (hardware.md §4).
        nums = "%d %d %d" % (acked, dropped, corrupt)
        fsutil.atomic_write(fsutil.join(self.dir, "head"), "h %s %d\n" % (nums, crc32(nums.encode())))

    # ---- reading and repair ---------------------------------------------------------------------

    def _parse(self, f, pos, size):
        """(seq, n) if a valid record starts at pos (header in _hdr, payload in _buf[:n]), else None."""
        if size - pos <= HDR:
            return None
        f.seek(pos)
        h = self._hdr
        if f.readinto(h) != HDR or h[0] != MAGIC:
            return None
        _, n, seq, crc = struct.unpack(_FMT, h)
        if n < 1 or n > MAX_PAYLOAD or pos + HDR + n > size:
            return None
        mv = self._mv[0:n]
        if f.readinto(mv) != n or crc32(mv, crc32(self._hdr7)) != crc:
            return None
        return seq, n

    def _resync(self, f, pos, size):
        """The first position >= pos where a valid record starts, or size. Payloads are ASCII, so
        in practice only the magic bytes of the following records (and header bytes) are tried."""
        buf = self._chunk
        while pos < size:
            f.seek(pos)
            got = f.readinto(buf)
            if not got:
                break
            for i in range(got):
                if buf[i] == MAGIC and self._parse(f, pos + i, size) is not None:
                    return pos + i
            pos += got
        return size

    def _records(self, f, size):
        """Yield (seq, n, pos) for each valid record of an open segment, in file order; the
        record is in _hdr/_buf while the caller holds it. Each damaged region (a torn tail,
        garbage, a flipped bit) is skipped and counted in self._bad, and so is a record whose seq
        is not above the one before it (moved or repeated: the segment is then rewritten in seq
        order)."""
        pos = 0
        prev = -1
        while pos < size:
            r = self._parse(f, pos, size)
            if r is None:
                self._bad += 1
                pos = self._resync(f, pos + 1, size)
                continue
            seq, n = r
            if seq <= prev:
                self._bad += 1
            else:
                prev = seq
            yield seq, n, pos
            pos += HDR + n

    def _scan(self, segno):
        """Index entry for a segment file (None if it holds no valid record); damage in self._bad."""
        path = self._path(segno)
        size = fsutil.size(path) or 0
        seg = [segno, 0, -1, 0, None]
        f = open(path, "rb")
        try:
            for seq, _, _ in self._records(f, size):
                if seq > seg[_LAST]:  # a record out of order: counted, the segment rewritten
                    self._add(seg, seq)
        finally:
            f.close()
        return seg if seg[_COUNT] else None

    def _rewrite(self, segno):
        """Rewrite a damaged segment with only its valid unacked records, atomically. Returns its
        new index entry, or None (file deleted) if nothing was left."""
        path = self._path(segno)
        tmp = fsutil.join(self.dir, "%d.tmp" % segno)
        size = fsutil.size(path) or 0
        seg = [segno, 0, -1, 0, None]
        f = open(path, "rb")
        try:
            # the valid unacked records' (seq, pos), each seq once, copied in seq order
            recs = {}
            for seq, _, pos in self._records(f, size):
                if seq > self._acked and seq not in recs:
                    recs[seq] = pos
            out = open(tmp, "wb")
            try:
                for seq in sorted(recs):
                    n = self._parse(f, recs[seq], size)[1]
                    out.write(self._hdr)
                    out.write(self._mv[0:n])
                    self._add(seg, seq)
            finally:
                out.close()
        finally:
            f.close()
        if not seg[_COUNT]:
            fsutil.remove(tmp)
            fsutil.remove(path)
            return None
        fsutil.rename(tmp, path)  # atomic: the old damaged segment or the clean one, never neither
        return seg

    def _refresh_tail(self):
        """After a failed append: re-read the tail segment's index from flash (a record may have
        landed whole). Best effort: the filesystem may be failing right now."""
        seg = self._segs[-1]
        try:
            fresh = self._scan(seg[_SEG]) if fsutil.exists(self._path(seg[_SEG])) else None
        except OSError:
            fresh = seg if seg[_COUNT] else None
        self._bad = 0
        if fresh is None:
            self._segs.pop()
        else:
            self._segs[-1] = fresh
        self._recount()

    def _read_head(self):
        """Load acked/dropped/corrupt; True if the head was damaged (and must be rewritten)."""
        data = fsutil.read_bytes(fsutil.join(self.dir, "head"))
        if data is None:
            return False
        try:
            f = data.split()
            if len(f) == 5 and f[0] == b"h":
                nums = b" ".join(f[1:4])
                if int(f[4]) != crc32(nums):
                    raise ValueError("head crc")
                f = f[1:4]
            elif len(f) != 3:
                raise ValueError("head fields")
            acked, dropped, corrupt = [int(x) for x in f]
            if not (0 <= acked <= _SEQ_MAX and 0 <= dropped <= _SEQ_MAX and 0 <= corrupt <= _SEQ_MAX):
                raise ValueError("head range")
        except ValueError:
            self.corrupt = 1  # damaged head: acked stays 0, everything on flash is sent again
            return True
        self._acked, self.dropped, self.corrupt = acked, dropped, corrupt
        return False

    def _repair(self):
        """Rescan every segment, count and remove damaged records (as at open)."""
        self._segs = []
        self._tail_ok = False
        self._open()

    def _open(self):
        segnos = []
        for name in os.listdir(self.dir):
            if name.endswith(".tmp"):
                # head.tmp or <segno>.tmp: a write cut short before its rename; the original is intact.
                fsutil.remove(fsutil.join(self.dir, name))
            elif name.endswith(".log"):
                try:
                    n = int(name[:-4])
                except ValueError:
                    continue
                if name == "%d.log" % n and n >= 0:  # not "00.log", "+1.log": not ours
                    segnos.append(n)
        segnos.sort()
        dirty = self._read_head()
        top = self._acked
        for segno in segnos:
            self._bad = 0
            seg = self._scan(segno)
            if self._bad:
                self.corrupt += self._bad
                dirty = True
                seg = self._rewrite(segno)
            if seg is None or seg[_LAST] <= self._acked:
                fsutil.remove(self._path(segno))  # empty, or fully acked before a power cut
                continue
            self._segs.append(seg)
            if seg[_LAST] > top:
                top = seg[_LAST]
        self._bad = 0
        self._next = top + 1
        self._next_segno = segnos[-1] + 1 if segnos else 0
        if self._misordered():
            self.corrupt += 1
            dirty = True
            self._merge()
        self._tail_ok = bool(self._segs)
        self._recount()
        if dirty:  # persist the count, so that repaired damage is not counted again next boot
            self._write_head(self._acked, self.dropped, self.corrupt)

    def _commit(self, segno):
        fsutil.rename(fsutil.join(self.dir, "%d.tmp" % segno), self._path(segno))

    def _misordered(self):
        """Do the segments, in segno order, fail to hold ever higher seqs? Never as this module
        writes them; a segment renamed, copied or cross-linked by a damaged filesystem does. The
        records in it that are not above the segments before it would be skipped by pending()
        but counted by len(): never sent, and the queue never empty."""
        last = -1
        for seg in self._segs:
            if seg[_FIRST] <= last:
                return True
            last = seg[_LAST]
        return False

    def _merge(self):
        """Rewrite every unacked record once, in seq order, into new segments after the last
        one (each <segno>.tmp, then renamed), then delete the old ones. A power cut in between
        leaves old and new segments, merged again at the next open: nothing lost or repeated."""
        where = {}  # seq -> (segno, pos) of its first copy
        for seg in self._segs:
            path = self._path(seg[_SEG])
            size = fsutil.size(path) or 0
            f = open(path, "rb")
            try:
                for seq, _, pos in self._records(f, size):
                    if seq > self._acked and seq not in where:
                        where[seq] = (seg[_SEG], pos)
            finally:
                f.close()
        self._bad = 0
        old = [seg[_SEG] for seg in self._segs]
        segs = []
        src = None  # [segno, open file, size] of the segment being copied from
        out = None
        try:
            for seq in sorted(where):
                segno, pos = where[seq]
                if src is None or src[0] != segno:
                    if src is not None:
                        src[1].close()
                    path = self._path(segno)
                    src = [segno, open(path, "rb"), fsutil.size(path) or 0]
                if out is None or segs[-1][_COUNT] >= self.seg_items:
                    if out is not None:
                        out.close()
                        self._commit(segs[-1][_SEG])
                    segs.append([self._next_segno, 0, -1, 0, None])
                    self._next_segno += 1
                    out = open(fsutil.join(self.dir, "%d.tmp" % segs[-1][_SEG]), "wb")
                n = self._parse(src[1], pos, src[2])[1]
                out.write(self._hdr)
                out.write(self._mv[0:n])
                self._add(segs[-1], seq)
        finally:
            if src is not None:
                src[1].close()
            if out is not None:
                out.close()
        if segs:
            self._commit(segs[-1][_SEG])
        for segno in old:
            fsutil.remove(self._path(segno))
        self._segs = segs
