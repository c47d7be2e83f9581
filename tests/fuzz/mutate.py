"""Seeded mutations of byte strings: the same inputs on CPython and on MicroPython.

No `random` (MicroPython's has no seed-compatible generator): a xorshift32 of our own. Nothing
here iterates a dict or formats a float, so a seed gives byte-identical inputs on both
interpreters (tools/fuzz.py --digest prints a CRC of them to prove it).

A Mutator takes a target's valid seed inputs and returns, per call, one of them edited one to
four times: bit flips, bytes set / inserted / deleted, a range duplicated or repeated, splices
and crossovers with another seed, a number replaced by a boundary value or nudged by one, a
token of the target's dictionary inserted, a field (between separators) or a line replaced,
dropped, duplicated or swapped, two bytes swapped, and truncation.
"""

_M32 = 0xFFFFFFFF

# bytes that mean something to one parser or another: controls, line ends, separators, quotes,
# framing and escape bytes of the watch protocol, the top of ASCII and of a byte
INTERESTING = b"\x00\x01\x1a\x1b\x7f\x80\xa5\xc3\xff\r\n\t ,;:\"'*[]{}()\\/>#?+-.0159AFafxNSEWe"

# numbers at the edges of what parsers check: signs, 8/16/31/32-bit limits, ESP32's small-int
# limit (2^30), huge, float syntax, Python-only syntax (int() takes "1_0" and "+1")
BOUNDARY = (
    b"0", b"-0", b"00", b"1", b"-1", b"+1", b"2", b"7", b"9", b"10", b"12", b"13", b"23", b"24",
    b"29", b"31", b"59", b"60", b"61", b"99", b"100", b"127", b"128", b"255", b"256", b"359",
    b"360", b"999", b"1000", b"1024", b"4096", b"32767", b"32768", b"65535", b"65536",
    b"1073741823", b"1073741824", b"2147483647", b"2147483648", b"-2147483648", b"-2147483649",
    b"4294967295", b"4294967296", b"99999999999999999999", b"1e9", b"1e999", b"-1e999", b"0.5",
    b".5", b"5.", b".", b"-", b"0x10", b"0xFFFFFFFF", b"1_0", b" 1", b"",
)


def mix(*parts):
    """One 32-bit seed from several integers (a target's key, the run's seed, the input's number)."""
    x = 0x811C9DC5
    for p in parts:
        p &= _M32
        for _ in range(4):
            x = ((x ^ (p & 0xFF)) * 0x01000193) & _M32
            p >>= 8
    return x


class Rng:
    """xorshift32: small, fast, and identical on both interpreters."""

    def __init__(self, seed):
        self.x = (seed & _M32) or 0x9E3779B9
        for _ in range(3):
            self.next()

    def next(self):
        x = self.x
        x ^= (x << 13) & _M32
        x ^= x >> 17
        x ^= (x << 5) & _M32
        self.x = x
        return x

    def below(self, n):
        """0 <= k < n (0 when n <= 0)."""
        return self.next() % n if n > 0 else 0

    def pick(self, seq):
        return seq[self.next() % len(seq)]

    def bytes(self, n):
        return bytes([self.next() & 0xFF for _ in range(n)])


class _DigitRuns:
    """The (start, end) of each run of ASCII digits (with a '-' in front if there is one), as a
    sequence computed on demand: a list of them all took 128 KB blocks of MicroPython's 2 MB heap
    for a long input (the harness ran out, not the code under test). Same runs, same order."""

    def __init__(self, data):
        self.data = data
        self.n = 0
        for _ in self._walk():
            self.n += 1

    def _walk(self):
        data = self.data
        i = 0
        n = len(data)
        while i < n:
            if 0x30 <= data[i] <= 0x39:
                j = i
                while j < n and 0x30 <= data[j] <= 0x39:
                    j += 1
                yield (i - 1 if i and data[i - 1] == 0x2D else i), j
                i = j
            else:
                i += 1

    def __len__(self):
        return self.n

    def __getitem__(self, k):
        for run in self._walk():
            if not k:
                return run
            k -= 1
        raise IndexError(k)


def _digit_runs(data):
    return _DigitRuns(data)


def _split(data, sep):
    out = []
    i = 0
    while True:
        j = data.find(sep, i)
        if j < 0:
            out.append(data[i:])
            return out
        out.append(data[i:j])
        i = j + len(sep)


class Mutator:
    """seeds: the valid inputs (bytes); tokens: the target's dictionary (bytes); seps: field
    separators (bytes) the field edits split at; max_len: inputs are cut to this."""

    def __init__(self, seeds, tokens=(), seps=(b",",), max_len=4096):
        self.seeds = [bytes(s) for s in seeds]
        self.tokens = tuple(tokens) + BOUNDARY[:8]
        self.seps = tuple(seps) or (b",",)
        self.max_len = max_len
        # edit kinds, weighted by repetition
        self._ops = (0, 0, 1, 2, 2, 3, 4, 5, 5, 6, 7, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 14, 15, 16)

    def input(self, r):
        data = r.pick(self.seeds)
        k = 1 + r.below(4)
        for _ in range(k):
            data = self.edit(data, r)
        if len(data) > self.max_len:
            data = data[:self.max_len]
        return data

    def edit(self, data, r):
        op = r.pick(self._ops)
        n = len(data)
        if op == 0 and n:  # flip one bit
            i = r.below(n)
            return data[:i] + bytes([data[i] ^ (1 << r.below(8))]) + data[i + 1:]
        if op == 1 and n:  # a byte set to anything
            i = r.below(n)
            return data[:i] + bytes([r.below(256)]) + data[i + 1:]
        if op == 2 and n:  # a byte set to an interesting one
            i = r.below(n)
            return data[:i] + bytes([r.pick(INTERESTING)]) + data[i + 1:]
        if op == 3:  # insert random bytes
            i = r.below(n + 1)
            return data[:i] + r.bytes(1 + r.below(4)) + data[i:]
        if op == 4:  # insert an interesting byte
            i = r.below(n + 1)
            return data[:i] + bytes([r.pick(INTERESTING)]) + data[i:]
        if op == 5 and n:  # delete a range
            i = r.below(n)
            j = i + 1 + r.below(16 if r.below(4) else n - i)
            return data[:i] + data[j:]
        if op == 6 and n:  # duplicate a range in place
            i = r.below(n)
            j = i + 1 + r.below(min(64, n - i))
            return data[:j] + data[i:j] + data[j:]
        if op == 7 and n:  # repeat a range many times (long lines, deep nesting, full buffers)
            i = r.below(n)
            j = i + 1 + r.below(min(16, n - i))
            k = 2 + r.below(self.max_len // (j - i) + 1)
            return data[:i] + data[i:j] * k + data[j:]
        if op == 8:  # splice a piece of another seed in place of a piece of this one
            o = r.pick(self.seeds)
            a = r.below(len(o) + 1)
            b = a + r.below(len(o) - a + 1)
            i = r.below(n + 1)
            j = i + r.below(min(32, n - i) + 1)
            return data[:i] + o[a:b] + data[j:]
        if op == 9:  # crossover: this one's head, another's tail
            o = r.pick(self.seeds)
            return data[:r.below(n + 1)] + o[r.below(len(o) + 1):]
        if op == 10:  # a number replaced by a boundary value (or one inserted)
            runs = _digit_runs(data)
            v = r.pick(BOUNDARY)
            if not runs:
                i = r.below(n + 1)
                return data[:i] + v + data[i:]
            s, e = r.pick(runs)
            return data[:s] + v + data[e:]
        if op == 11:  # a number nudged by one (off-by-one at every range check)
            runs = _digit_runs(data)
            if not runs:
                return data
            s, e = r.pick(runs)
            text = data[s:e]
            if len(text) > 18:
                return data
            v = int(text) + (1 if r.below(2) else -1)
            return data[:s] + (b"%d" % v) + data[e:]
        if op == 12:  # a token of the dictionary inserted or put in place of a few bytes
            t = r.pick(self.tokens)
            i = r.below(n + 1)
            j = i + (r.below(min(8, n - i) + 1) if r.below(2) else 0)
            return data[:i] + t + data[j:]
        if op == 13:  # a field: replaced, dropped, duplicated or two swapped
            sep = r.pick(self.seps)
            f = _split(data, sep)
            k = r.below(4)
            a = r.below(len(f))
            if k == 0:
                f[a] = r.pick(BOUNDARY) if r.below(2) else r.pick(self.tokens)
            elif k == 1 and len(f) > 1:
                f.pop(a)
            elif k == 2:
                f.insert(a, f[a])
            else:
                b = r.below(len(f))
                f[a], f[b] = f[b], f[a]
            return sep.join(f)
        if op == 14:  # a line: dropped, duplicated or two swapped
            f = _split(data, b"\n")
            a = r.below(len(f))
            k = r.below(3)
            if k == 0 and len(f) > 1:
                f.pop(a)
            elif k == 1:
                f.insert(a, f[a])
            else:
                b = r.below(len(f))
                f[a], f[b] = f[b], f[a]
            return b"\n".join(f)
        if op == 15 and n:  # truncated (a torn write, a cut connection)
            return data[:r.below(n)]
        if op == 16 and n:  # two bytes swapped (out-of-order delivery in miniature)
            i = r.below(n)
            j = r.below(n)
            if i > j:
                i, j = j, i
            if i == j:
                return data
            return data[:i] + data[j:j + 1] + data[i + 1:j] + data[i:i + 1] + data[j + 1:]
        return data + bytes([r.pick(INTERESTING)])
