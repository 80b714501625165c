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


def episode_table(report: AuditReport) -> Table:
    table = Table(title=f"audit of {report.path}", title_justify="left", header_style="bold")
    for name, justify in (
        ("#", "right"),
        ("task", "left"),
        ("length s", "right"),
        ("rate Hz", "right"),
        ("overruns", "right"),
        ("fps min", "right"),
        ("dropped", "right"),
        ("dup", "right"),
        ("age p50 ms", "right"),
        ("track p95 rad", "right"),
        ("idle s", "right"),
        ("flags", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")
    for ep in report.episodes:
        ticks = ep.metrics.get("ticks", {})
        cams = [c for c in ep.metrics.get("cameras", {}).values() if c]
        content = ep.metrics.get("content", {})
        fps = [c["fps"] for c in cams if c.get("fps") is not None]
        ages = [c["skew_ms"]["p50"] for c in cams if c.get("skew_ms")]
        style = "bold red" if ep.worst == ERROR else None
        table.add_row(
            Text(str(ep.index), style=style or ""),
            str(ep.attrs.get("task", "")),
            _num(ticks.get("duration_s")),
            _num(ticks.get("rate_hz")),
            _num(ticks.get("overruns"), "{}"),
            _num(min(fps) if fps else None),
            _num(sum(c.get("dropped", 0) for c in cams) if cams else None, "{}"),
            _num(sum(c.get("duplicates", 0) for c in cams) if cams else None, "{}"),
            _num(max(ages) if ages else None, "{:.0f}"),
            _num((content.get("tracking") or {}).get("p95_rad"), "{:.3f}"),
            _num(content.get("longest_idle_s")),
            _flags(ep),
        )
    return table


def print_report(report: AuditReport, console: Console | None = None) -> None:
    console = console or Console()
    console.print(episode_table(report))
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
