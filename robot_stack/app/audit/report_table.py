"""The audit in the terminal: one row per episode with its key figures, flags in colour (red: damaged,
yellow: look at it), then what concerns the whole dataset (camera latency, crash leftovers)."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table
from rich.text import Text

from robot_stack.app.audit.model import ERROR, AuditReport, EpisodeAudit


def _num(value, fmt: str = "{:.1f}") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return fmt.format(value)


def _flags(ep: EpisodeAudit) -> Text:
    if not ep.flags:
        return Text("ok", style="green")
    text = Text()
    seen = []
    for f in sorted(ep.flags, key=lambda f: (f.severity != ERROR, f.code)):
        label = f.code if f.camera is None else f"{f.code}({f.camera})"
        if label in seen:
            continue
        seen.append(label)
        if text:
            text.append(" ")
        text.append(label, style="bold red" if f.severity == ERROR else "yellow")
    return text


COLUMNS = {  # name → what it shows (docs/audit.md)
    "#": "episode index",
    "task": "task (shown when the dataset has several)",
    "len s": "episode length",
    "Hz": "achieved control rate",
    "late": "control ticks that overran",
    "fps": "lowest achieved camera frame rate",
    "lost": "frames lost, all cameras",
    "dup": "duplicated frames, all cameras",
    "age ms": "median age of the frame each tick sees (worst camera)",
    "track": "95th percentile of |action − observation| on the arm joints, rad",
    "idle s": "longest stretch without motion",
}
NARROW_DROPS = ("Hz", "fps", "age ms")  # left out on terminals under 110 columns


def episode_table(report: AuditReport, width: int = 200) -> Table:
    tasks = {str(ep.attrs.get("task", "")) for ep in report.episodes}
    columns = [
        c for c in COLUMNS if (c != "task" or len(tasks) > 1) and (width >= 110 or c not in NARROW_DROPS)
    ]
    title = f"audit of {report.path}" + (f" — task {tasks.pop()}" if len(tasks) == 1 else "")
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in columns:
        if name == "task":
            table.add_column(name, max_width=16, overflow="ellipsis", no_wrap=True)
        else:
            table.add_column(name, justify="right", no_wrap=True)
    table.add_column("flags", overflow="fold", min_width=12)
    for ep in report.episodes:
        ticks = ep.metrics.get("ticks", {})
        cams = [c for c in ep.metrics.get("cameras", {}).values() if c]
        content = ep.metrics.get("content", {})
        fps = [c["fps"] for c in cams if c.get("fps") is not None]
        ages = [c["skew_ms"]["p50"] for c in cams if c.get("skew_ms")]
        values = {
            "#": Text(str(ep.index), style="bold red" if ep.worst == ERROR else ""),
            "task": str(ep.attrs.get("task", "")),
            "len s": _num(ticks.get("duration_s")),
            "Hz": _num(ticks.get("rate_hz")),
            "late": _num(ticks.get("overruns"), "{}"),
            "fps": _num(min(fps) if fps else None),
            "lost": _num(sum(c.get("dropped", 0) for c in cams) if cams else None, "{}"),
            "dup": _num(sum(c.get("duplicates", 0) for c in cams) if cams else None, "{}"),
            "age ms": _num(max(ages) if ages else None, "{:.0f}"),
            "track": _num((content.get("tracking") or {}).get("p95_rad"), "{:.3f}"),
            "idle s": _num(content.get("longest_idle_s")),
        }
        table.add_row(*(values[c] for c in columns), _flags(ep))
    return table


def print_report(report: AuditReport, console: Console | None = None) -> None:
    console = console or Console()
    console.print(episode_table(report, console.width))
    latency = report.overview.get("latency", {})
    for name, est in latency.items():
        if est.get("latency_s") is None:
            console.print(
                f"camera latency {name}: unclear (best lag {est['best_lag_s'] * 1e3:.0f} ms, z {est['z']:.1f} "
                f"from {est['samples']} frame pairs: too little motion or too few frames)"
            )
        else:
            console.print(
                f"camera latency {name}: [bold]{est['latency_s'] * 1e3:.0f} ms[/] (r {est['peak_r']:.2f}, "
                f"z {est['z']:.1f}, {est['samples']} frame pairs); stored correction {est['stored_s'] * 1e3:.0f} ms"
            )
    for flag in report.dataset_flags:
        style = "bold red" if flag.severity == ERROR else "yellow"
        console.print(f"[{style}]{flag.code}[/]: {flag.message}", soft_wrap=True)
    counts = report.flag_counts()
    flagged = sum(1 for ep in report.episodes if ep.flags)
    ov = report.overview
    summary = (
        f"{len(report.episodes)} episodes, {ov.get('duration_s', 0.0) / 60:.1f} min recorded, "
        f"{ov.get('bytes_read', 0) / 1e6:.0f} MB read in {report.seconds:.1f} s; "
    )
    if counts:
        summary += f"{flagged} episode(s) flagged: " + ", ".join(f"{c} × {n}" for c, n in counts.items())
    else:
        summary += "[green]no flags[/]"
    console.print(summary, soft_wrap=True)
