"""Small file helpers shared by config and outbox (MicroPython has no os.path).

Paths are joined with "/" by hand. Missing files are told apart from other errors by errno
(MicroPython has no FileNotFoundError): ENOENT is an expected state, anything else (EIO, ENOSPC,
a corrupt filesystem) is raised to the caller.

Every rename and delete of the firmware's files goes through rename() and remove() here (and
every file is opened with the builtin open()), so the simulator's power-cut suite can cut the
power inside any of them (host_sim/flashcut.py).
"""
import os

from firmware.compat import const

ENOENT = const(2)
EEXIST = const(17)
ENOTDIR = const(20)
_S_IFDIR = const(0x4000)


def join(a, b):
    """'/' + 'x' -> '/x', 'dir' + 'x' -> 'dir/x' (the device's root is "/")."""
    if a.endswith("/"):
        return a + b
    return a + "/" + b


def atomic_write(path, data):
    """Replace path with data so that a power cut leaves either the old or the new file.

    Writes path + ".tmp", closes it (littlefs commits a file on close/sync), then renames it over
    path: littlefs and POSIX rename replace the target atomically (hardware.md §4). A reader that
    finds a stale ".tmp" at boot knows the rename never happened and must delete it, because the
    target is still the last complete version. No fallback for filesystems whose rename refuses
    an existing target (FAT): remove-then-rename would open a window with only the ".tmp" left,
    which the boot recovery would then discard.
    """
    if isinstance(data, str):
        data = data.encode()
    tmp = path + ".tmp"
    f = open(tmp, "wb")
    try:
        f.write(data)
        f.flush()
    finally:
        f.close()
    rename(tmp, path)


def rename(old, new):
    """os.rename: atomic on littlefs and POSIX, replacing new if it exists (hardware.md §4)."""
    os.rename(old, new)


def read_bytes(path, limit=-1):
    """The file's content as bytes (at most `limit` bytes if given), or None if it does not
    exist. Other OSErrors are raised."""
    try:
        f = open(path, "rb")
    except OSError as e:
        if e.errno == ENOENT:
            return None
        raise
    try:
        return f.read(limit)
    finally:
        f.close()


def _stat(path):
    """os.stat, or None if path is missing."""
    try:
        return os.stat(path)
    except OSError as e:
        if e.errno == ENOENT:
            return None
        raise


def size(path):
    """Size in bytes, or None if missing."""
    st = _stat(path)
    return None if st is None else st[6]


def exists(path):
    return _stat(path) is not None


def is_dir(path):
    st = _stat(path)
    return st is not None and bool(st[0] & 0x4000)


def remove(path):
    """Delete a file; a missing file is not an error. Returns True if something was deleted."""
    try:
        os.remove(path)
        return True
    except OSError as e:
        if e.errno == ENOENT:
            return False
        raise


def makedirs(path):
    """mkdir -p. Raises OSError(ENOTDIR) if path exists but is not a directory."""
    cur = ""
    for part in path.split("/"):
        if not part:
            if not cur:
                cur = "/"
            continue
        cur = join(cur, part) if cur else part
        try:
            os.mkdir(cur)
        except OSError as e:
            if e.errno != EEXIST:
                raise
    if not os.stat(path)[0] & _S_IFDIR:
        raise OSError(ENOTDIR)


def rmtree(path):
    """rm -r; a missing path is not an error (the simulator's fresh flash, a factory reset)."""
    try:
        names = os.listdir(path)
    except OSError as e:
        if e.errno == ENOENT:
            return
        raise
    for n in names:
        p = join(path, n)
        if is_dir(p):
            rmtree(p)
        else:
            os.remove(p)
    os.rmdir(path)
