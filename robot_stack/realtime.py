"""Real-time scheduling for the thread that runs a control loop.

Under load the default Linux scheduler can leave a woken loop thread waiting several
milliseconds for a core (measured: p99 period error 3–4 ms at 50 Hz with both cores busy); as a
SCHED_FIFO thread it preempts ordinary work and wakes within microseconds. Needs root or
CAP_SYS_NICE (or an rtprio limit in /etc/security/limits.d); without it the loop still runs,
and says so in its statistics.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from collections.abc import Iterator

# Other Python threads of the process (panel, cameras, writers) hold the GIL for up to the switch
# interval (5 ms by default) before a woken loop thread may run; 0.2 ms bounds that wait.
CONTROL_SWITCH_INTERVAL_S = 0.0002

_switch_lock = threading.Lock()
_short_switch_users = 0  # blocks inside short_gil_switch_interval
_switch_before = 0.005  # the interval to restore when the last one leaves

_frozen_lock = threading.Lock()
_frozen_loops = 0  # control loops running with the heap frozen (frozen_heap)


@contextlib.contextmanager
def realtime_priority(priority: int) -> Iterator[bool]:
    """Run the calling thread as SCHED_FIFO at `priority` (1–99) inside the block.

    Yields whether it took effect; restores the previous policy on exit. priority 0 is a no-op.
    """
    if priority <= 0 or not hasattr(os, "sched_setscheduler"):
        yield False
        return
    with short_gil_switch_interval(), frozen_heap():
        with fifo_priority(priority) as applied:
            yield applied


@contextlib.contextmanager
def short_gil_switch_interval() -> Iterator[None]:
    """The process runs with CONTROL_SWITCH_INTERVAL_S inside the block. Blocks may nest or overlap
    (a control loop beside an in-process simulator's physics): the last one out restores the interval."""
    global _short_switch_users, _switch_before
    with _switch_lock:
        if _short_switch_users == 0:
            _switch_before = sys.getswitchinterval()
            sys.setswitchinterval(min(_switch_before, CONTROL_SWITCH_INTERVAL_S))
        _short_switch_users += 1
    try:
        yield
    finally:
        with _switch_lock:
            _short_switch_users -= 1
            if _short_switch_users == 0:
                sys.setswitchinterval(_switch_before)


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep every object alive now out of the garbage collector's sweeps while the loop runs.

    A full collection stops every thread of the process, the loop's included, for as long as it
    takes to walk all tracked objects: measured 30–80 ms ticks in a recorder that had run the
    simulator and its renderer before (4 overruns in 60 s; none with the heap frozen). Objects made
    while the loop runs are still collected; the frozen ones are only not walked again (garbage
    frozen with them waits for the unfreeze: no collection first, as one would delay the loop's
    start by as long as a sweep). Loops may nest or overlap (a park loop, the simulator's physics
    loop): the last one out unfreezes."""
    global _frozen_loops
    with _frozen_lock:
        gc.freeze()
        _frozen_loops += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_loops -= 1
            if _frozen_loops == 0:
                gc.unfreeze()


@contextlib.contextmanager
def fifo_priority(priority: int) -> Iterator[bool]:
    """Only the SCHED_FIFO part, for helper threads of a control path (bus I/O, emulated devices);
    the GIL switch interval is the control loop's to set. Yields whether it took effect."""
    if priority <= 0 or not hasattr(os, "sched_setscheduler"):
        yield False
        return
    try:
        previous = (os.sched_getscheduler(0), os.sched_getparam(0))
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except (PermissionError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, previous[0], previous[1])
