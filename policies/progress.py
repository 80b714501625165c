"""What training shows and keeps: a rich progress bar (loss, samples/s, ETA) and metrics as JSON lines."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class TrainingLog:
    """Appends one JSON object per line to `metrics.jsonl` (kept across resumes) and drives the bar."""

    def __init__(
        self, out_dir: Path, total_steps: int, start_step: int, show: bool, console: Console | None = None
    ):
        self.path = out_dir / "metrics.jsonl"
        self._file = self.path.open("a", encoding="utf-8")
        self._progress = None
        if show:
            self._progress = Progress(
                TextColumn("[bold]train"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"),
                TextColumn("{task.fields[rate]} samples/s"),
                TextColumn("val {task.fields[val]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=console,
                transient=False,
            )
            self._task = self._progress.add_task(
                "train", total=total_steps, completed=start_step, loss="-", rate="-", val="-"
            )
            self._progress.start()

    def write(self, record: dict) -> None:
        self._file.write(json.dumps({"time": time.time(), **record}) + "\n")
        self._file.flush()

    def advance(
        self, step: int, loss: float | None = None, rate: float | None = None, val: float | None = None
    ) -> None:
        if self._progress is None:
            return
        fields = {}
        if loss is not None:
            fields["loss"] = f"{loss:.4f}"
        if rate is not None:
            fields["rate"] = f"{rate:.1f}"
        if val is not None:
            fields["val"] = f"{val:.4f}"
        self._progress.update(self._task, completed=step, **fields)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        self._file.close()
