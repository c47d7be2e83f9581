"""A pure-Python stand-in for MicroPython's C module `_asyncio` (Task, TaskQueue).

Why: the C TaskQueue stamps tasks pushed without a key with the *real* mp_hal_ticks_ms()
(extmod/modasyncio.c, task_queue_push and Task.cancel), which breaks virtual time. asyncio.core
imports `_asyncio` first; the simulator puts this module in sys.modules under that name before
asyncio is imported, so the frozen asyncio.core runs unchanged on virtual ticks.

Same contract as the C module: Task has coro, data, state, ph_key, done(), cancel(), and is
awaitable; TaskQueue has peek/push/pop/remove and orders by ticks_diff of ph_key, FIFO among
equal keys. A sorted list is enough: the watch has a handful of tasks.
"""
core = None  # asyncio.core, filled in by vtime.install() once asyncio is imported


class TaskQueue:
    def __init__(self):
        self._q = []

    def peek(self):
        q = self._q
        return q[0] if q else None

    def push(self, v, key=None):
        v.data = None
        v.ph_key = core.ticks() if key is None else key
        q = self._q
        i = len(q)
        diff = core.ticks_diff
        while i and diff(q[i - 1].ph_key, v.ph_key) > 0:
            i -= 1
        q.insert(i, v)

    def pop(self):
        return self._q.pop(0)

    def remove(self, v):
        self._q.remove(v)


class Task:
    def __init__(self, coro, globals=None):
        self.coro = coro
        self.data = None
        self.state = True  # True running, None/False done, a TaskQueue of waiters, or a callback
        self.ph_key = 0

    def __iter__(self):
        if not self.state:
            self.state = False  # done, and now awaited
        elif self.state is True:
            self.state = TaskQueue()
        elif type(self.state) is not TaskQueue:
            raise RuntimeError("can't wait")
        return self

    def __next__(self):
        if not self.state:
            raise self.data
        self.state.push(core.cur_task)
        core.cur_task.data = self

    def done(self):
        return not self.state

    def cancel(self):
        if not self.state:
            return False
        if self is core.cur_task:
            raise RuntimeError("can't cancel self")
        t = self
        while isinstance(t.data, Task):
            t = t.data
        if hasattr(t.data, "remove"):
            t.data.remove(t)
            core._task_queue.push(t)
        elif core.ticks_diff(t.ph_key, core.ticks()) > 0:
            core._task_queue.remove(t)
            core._task_queue.push(t)
        t.data = core.CancelledError
        return True
