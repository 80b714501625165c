"""Real-time scheduling for the thread that runs a control loop.

Under load the default Linux scheduler can leave a woken loop thread waiting several
milliseconds for a core (measured: p99 period error 3–4 ms at 50 Hz with both cores busy); as a
SCHED_FIFO thread it preempts ordinary work and wakes within microseconds. Needs root or
CAP_SYS_NICE (or an rtprio limit in /etc/security/limits.d); without it the loop still runs,
and says so in its statistics.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# Other Python threads of the process (panel, cameras, writers) hold the GIL for up to the switch
# interval (5 ms by default) before a woken loop thread may run; 0.2 ms bounds that wait.
CONTROL_SWITCH_INTERVAL_S = 0.0002


@contextlib.contextmanager
def realtime_priority(priority: int) -> Iterator[bool]:
    """Run the calling thread as SCHED_FIFO at `priority` (1–99) inside the block.

    Yields whether it took effect; restores the previous policy on exit. priority 0 is a no-op.
    """
    if priority <= 0 or not hasattr(os, "sched_setscheduler"):
        yield False
        return
    with short_gil_switch_interval():
        with fifo_priority(priority) as applied:
            yield applied


@contextlib.contextmanager
def short_gil_switch_interval() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(min(previous, CONTROL_SWITCH_INTERVAL_S))
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


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
