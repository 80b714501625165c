"""The recorder's live panel: where the session is, and whether every stream keeps up."""

from __future__ import annotations

import shutil
import time

import numpy as np
from rich.console import Group
from rich.table import Table
from rich.text import Text

from robot_stack.app.record.keys import HELP
from robot_stack.app.record.session import RecordSession
from robot_stack.app.teleop.panel import LEVEL_STYLE

DISK_LOW_BYTES = 2 * 1024**3
PHASE_STYLE = {"recording": "bold red", "reset": "bold yellow", "starting": "dim", "done": "bold green"}


class DiskSpace:
    """Free space under the dataset, read at most once a second."""

    def __init__(self, path):
        self.path = path
        self._at = 0.0
        self._free: int | None = None

    def free(self) -> int | None:
        now = time.monotonic()
        if now - self._at > 1.0:
            self._at = now
            try:
                self._free = shutil.disk_usage(self.path).free
            except OSError:
                self._free = None
        return self._free


def record_panel(session: RecordSession, disk: DiskSpace, keys_active: bool) -> Group:
    opts = session.options
    stats = session.loop.loop.live_stats()
    head = Table.grid(padding=(0, 2))
    for _ in range(4):
        head.add_column()
    number = session.take.number if session.take is not None else min(session.saved + 1, opts.episodes)
    left = session.time_left_s
    seed = f"seed {session.seed}" if session.scene.sim and session.seed is not None else ""
    head.add_row(
        f"[{PHASE_STYLE.get(session.phase, '')}]{session.phase.upper()}[/]",
        f"episode [bold]{number}[/] of {opts.episodes}  (saved {session.saved})",
        f"time left {left:5.1f} s" if left is not None else "",
        f"{opts.task}  {seed}",
    )
    rate = stats.achieved_rate_hz
    head.add_row(
        f"loop {rate:.1f} Hz" if np.isfinite(rate) else "loop —",
        f"period err p99 {stats.period_error.p99_ms:.2f} ms (last min)",
        f"overruns [{'red' if stats.overruns else 'green'}]{stats.overruns}[/]",
        "realtime" if stats.realtime else "[yellow]not realtime[/]",
    )

    cams = Table(box=None, title_justify="left")
    for column in ("camera", "fps", "drops", "missed", "state"):
        cams.add_column(column, justify="right" if column not in ("camera", "state") else "left")
    for name, camera in session.cameras.items():
        s = camera.stats()
        state = "[bold red]STALLED[/]" if s.stalled else ("stalls " + str(s.stalls) if s.stalls else "ok")
        cams.add_row(
            name,
            f"{s.fps:.1f}/{camera.spec.fps}",
            f"[{'yellow' if s.drops else 'green'}]{s.drops}[/]",
            str(s.reader_missed),
            state,
        )

    writer_line = Text()
    take = session.take
    if take is not None:
        w = take.writer.stats()
        writer_line.append(
            f"writer: {w.write_mb_s:.1f} MB/s, queue {w.queue_items} items / {w.queue_bytes / 1e6:.0f} MB "
            f"(peak {w.queue_peak_bytes / 1e6:.0f} of {w.queue_limit_bytes / 1e6:.0f} MB), "
            f"refused {w.rejected_ticks + sum(w.rejected_frames.values())}"
        )
    else:
        writer_line.append(f"writer: idle, {len(session.pending)} episode(s) saving", style="dim")
    free = disk.free()
    if free is not None:
        style = "bold red" if free < DISK_LOW_BYTES else ""
        writer_line.append(f"   disk free {free / 1e9:.1f} GB", style=style)

    done = Text()
    for summary in session.summaries[-4:]:
        style = "strike dim" if summary.removed else ("yellow" if summary.flags else "green")
        done.append(summary.line() + "\n", style=style)

    now = time.monotonic()
    events = Text()
    for event in list(session.events)[-5:] + list(session.loop.status.events)[-2:]:
        events.append(f"{now - event.t:6.1f} s ago  {event.text}\n", style=LEVEL_STYLE.get(event.level, ""))
    footer = Text(HELP if keys_active else "keys: none (stdin is not a terminal); Ctrl-C stops", style="dim")
    footer.append("\n")
    return Group(head, cams, writer_line, done, events, footer)
