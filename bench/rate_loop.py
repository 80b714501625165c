"""The 50 Hz rate loop, idle and with both cores loaded by other processes.

    python bench/rate_loop.py --out docs/bench/rate_loop.json      # 60 s per case
    python bench/rate_loop.py --quick                              # 5 s per case

Each case runs an empty body on the real monotonic clock and reports period error (|actual period
− 20 ms|), wake latency (start − deadline) and overruns; cases run with real-time scheduling (the
default) and without it, to show what the scheduling buys.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common  # noqa: E402

from robot_stack.rate_loop import RateLoop  # noqa: E402

TARGETS = {"idle_p99_ms": 0.5, "loaded_p99_ms": 1.0, "idle_overruns": 0}


def _hog() -> None:
    while True:
        pass


def run_case(seconds: float, loaded: bool, priority: int) -> dict:
    hogs = []
    if loaded:
        hogs = [mp.Process(target=_hog, daemon=True) for _ in range(os.cpu_count() or 2)]
        for h in hogs:
            h.start()
    try:
        loop = RateLoop(50, priority=priority)
        stats = loop.run(lambda tick: None, duration_s=seconds)
    finally:
        for h in hogs:
            h.terminate()
            h.join()
    return {"loaded": loaded, "load_processes": len(hogs), "seconds": seconds, **stats.to_dict()}


def main() -> None:
    args = _common.parser(__doc__).parse_args()
    seconds = 5.0 if args.quick else 60.0
    cases = {}
    for priority, label in ((40, "realtime"), (0, "default_scheduler")):
        for loaded in (False, True):
            name = f"{label}_{'loaded' if loaded else 'idle'}"
            print(f"rate_loop: {name} for {seconds:g} s", file=sys.stderr)
            cases[name] = run_case(seconds, loaded, priority)
    rt_idle, rt_loaded = cases["realtime_idle"], cases["realtime_loaded"]
    verdict = {
        "idle_p99_period_error_ms": rt_idle["period_error"]["p99_ms"],
        "loaded_p99_period_error_ms": rt_loaded["period_error"]["p99_ms"],
        "idle_overruns": rt_idle["overruns"],
        "realtime_scheduling": rt_idle["realtime"],
    }
    verdict["meets_targets"] = (
        verdict["idle_p99_period_error_ms"] < TARGETS["idle_p99_ms"]
        and verdict["loaded_p99_period_error_ms"] < TARGETS["loaded_p99_ms"]
        and verdict["idle_overruns"] == TARGETS["idle_overruns"]
    )
    _common.write(
        {"bench": "rate_loop", "rate_hz": 50, "targets": TARGETS, "summary": verdict, "cases": cases},
        args.out,
    )


if __name__ == "__main__":
    main()
