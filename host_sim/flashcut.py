"""Power cuts inside flash operations, for the simulator (the scenario event "flash_cut" and the
power-cut suite, tools/soak.py).

A power cut at a random instant of virtual time never lands inside a flash write: the
firmware's file operations do not await, so they happen between two instants. FlashCut wraps
the firmware's flash operations instead: the builtin open() (every file the firmware writes)
and firmware.fsutil's rename() and remove() (every rename and delete: fsutil's docstring), for
paths under the watch's flash folder only. Armed with arm(op, nbytes), the op-th operation from
then on is where the power goes:

  create  a file opened for writing is created or truncated, nothing written
  write   a write keeps its first nbytes (clipped to the data), the rest never reaches flash
  rename  does not happen (littlefs and POSIX renames are atomic: all or nothing)
  remove  does not happen

This is harsher than the watch's littlefs, where a file's writes become visible only when it is
closed (a cut leaves the last committed version): here a torn write stays torn, as on FAT.

From the cut on the chip is dead: every flash operation raises PowerCut (an OSError, EIO, so the
firmware's own error paths run as they would on a failing flash, never past it) until revive()
at the next boot, and on_cut(kind) runs at once, for the simulator to take the modem's power
and stop the firmware at the same instant.
"""
import builtins

from firmware import fsutil

_EIO = 5
_open = builtins.open
_rename = fsutil.rename
_remove = fsutil.remove
KINDS = ("create", "write", "rename", "remove")


class PowerCut(OSError):
    """The power went during (or before) this flash operation."""


class _File:
    """A file opened for writing under the flash folder: each write() is one operation."""

    def __init__(self, fc, f):
        self._fc = fc
        self._f = f

    def write(self, data):
        fc = self._fc
        if fc._cut("write"):
            n = fc.cut_bytes if fc.cut_bytes < len(data) else len(data)
            self._f.write(bytes(data)[:n])
            self._f.close()
            raise PowerCut(_EIO, "power cut inside a write")
        return self._f.write(data)

    def flush(self):
        if self._fc.dead:
            raise PowerCut(_EIO, "power cut")
        return self._f.flush()

    def close(self):
        # closing what was written before the cut is not an operation: the bytes are there
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class FlashCut:
    def __init__(self, root):
        self.root = root.rstrip("/") + "/"
        self.armed = None  # operations left before the cut
        self.cut_bytes = 0
        self.dead = False
        self.ops = 0  # flash operations seen (all kinds)
        self.cuts = dict((k, 0) for k in KINDS)
        self.on_cut = None  # fn(kind), called at the cut

    def install(self):
        builtins.open = self._open
        fsutil.rename = self._rename
        fsutil.remove = self._remove

    @staticmethod
    def uninstall():
        builtins.open = _open
        fsutil.rename = _rename
        fsutil.remove = _remove

    def arm(self, op=1, nbytes=0):
        """Cut the power at the op-th flash operation from now (1: the next one)."""
        self.armed = op if op > 0 else 1
        self.cut_bytes = nbytes if nbytes > 0 else 0

    def revive(self):
        """Power is back (the next boot): flash works again, nothing armed."""
        self.dead = False
        self.armed = None

    def _mine(self, path):
        return isinstance(path, str) and (path + "/").startswith(self.root)

    def _cut(self, kind):
        """Count an operation; True if the power goes at this one."""
        if self.dead:
            raise PowerCut(_EIO, "power cut")
        self.ops += 1
        if self.armed is None:
            return False
        self.armed -= 1
        if self.armed > 0:
            return False
        self.armed = None
        self.dead = True
        self.cuts[kind] += 1
        if self.on_cut is not None:
            self.on_cut(kind)
        return True

    def _open(self, path, mode="r", *args, **kw):
        if not self._mine(path):
            return _open(path, mode, *args, **kw)
        if "w" not in mode and "a" not in mode:
            if self.dead:
                raise PowerCut(_EIO, "power cut")
            return _open(path, mode, *args, **kw)
        cut = self._cut("create")
        f = _open(path, mode, *args, **kw)
        if cut:
            f.close()
            raise PowerCut(_EIO, "power cut at open")
        return _File(self, f)

    def _rename(self, old, new):
        if self._mine(old) and self._cut("rename"):
            raise PowerCut(_EIO, "power cut before a rename")
        return _rename(old, new)

    def _remove(self, path):
        if self._mine(path) and self._cut("remove"):
            raise PowerCut(_EIO, "power cut before a remove")
        return _remove(path)
