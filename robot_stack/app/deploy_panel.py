"""The live panel of a deployment, drawn from one telemetry snapshot (the executor's `status()` or a
telemetry message): `robot-stack deploy` shows it in-process, `robot-stack ctl watch` over ZMQ."""

from __future__ import annotations

import time
from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

PHASE_STYLE = {
    "running": "bold green",
    "ramp": "green",
    "hold": "bold yellow",
    "takeover": "bold cyan",
    "parking": "yellow",
    "parked": "dim",
    "idle": "dim",
    "stopped": "dim",
    "fault": "bold red",
}
SEVERITY_STYLE = {"info": "dim", "warning": "yellow", "error": "bold red"}


def _ms(p: dict | None, keys: Iterable[str] = ("p50", "p99", "max")) -> str:
    if not p:
        return "—"
    return "  ".join(f"{k} {p[k]:.1f}" for k in keys if p.get(k) is not None)


def deploy_panel(
    data: dict, events: Iterable[dict] | None = None, title: str = "deploy", keys: Iterable[str] = ()
) -> RenderableType:
    """`data`: a telemetry snapshot; `events`: recent events (dicts with t, name, severity, detail),
    newest last (default: the snapshot's own); `keys`: lines about the terminal's keys (the help,
    the answers to the last keys pressed)."""
    if not data:
        return Text("waiting for telemetry …", style="dim")
    phase = data.get("phase", "?")
    head = Table.grid(padding=(0, 2))
    for _ in range(4):
        head.add_column()
    overruns = data.get("overruns", 0)
    head.add_row(
        f"[bold]{title}[/] [{PHASE_STYLE.get(phase, '')}]{phase}[/]",
        f"episode {data.get('episode', 0)}  runs {data.get('runs', 0)}",
        f"mode {data.get('mode', '?')}"
        + (f" m={data.get('m')}" if data.get("mode") == "ensemble" else "")
        + (f" execute {data['execute_s']:g} s" if data.get("execute_s") else ""),
        f"interventions {data.get('interventions', 0)}",
    )
    if data.get("fault"):
        head.add_row(f"[bold red]fault: {data['fault']}[/]", "", "", "")

    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    table.add_row(
        "loop period ms", f"{_ms(data.get('period_ms'))}   (nominal {1000 / data.get('rate_hz', 50):.0f})"
    )
    table.add_row(
        "overruns",
        f"[{'red' if overruns else 'green'}]{overruns}[/] (skipped ticks {data.get('skipped_ticks', 0)}); "
        f"tick busy {_ms(data.get('busy_ms'), ('p50', 'p99'))} ms",
    )
    table.add_row("planner latency ms", f"{_ms(data.get('planner_latency_ms'))}  (capture → chunk arrival)")
    table.add_row("policy compute ms", _ms(data.get("compute_ms"), ("p50", "p99", "last")))
    for name, age in (data.get("frame_age_ms") or {}).items():
        table.add_row(f"frame age ms {name}", f"{_ms(age)}  (tick − capture of the frame sent)")
    age, since = data.get("chunk_age_ms"), data.get("since_plan_ms")
    table.add_row(
        "chunk age / depth",
        f"{'—' if age is None else f'{age:.0f} ms'} / {data.get('depth', 0)} chunk(s)"
        + ("" if since is None else f"   last plan {since:.0f} ms ago"),
    )
    chunks, link = data.get("chunks", {}), data.get("link", {})
    dropped = link.get("dropped") or {}
    table.add_row(
        "chunks",
        f"accepted {chunks.get('accepted', 0)}  stale {chunks.get('stale', 0)}  "
        f"rejected {sum((chunks.get('rejected') or {}).values())}   link drops {sum(dropped.values())}",
    )
    safety = {k: v for k, v in (data.get("safety") or {}).items() if v}
    table.add_row("safety", "  ".join(f"{k} {v}" for k, v in sorted(safety.items())) or "[green]quiet[/]")
    bus = data.get("bus_ms") or {}
    table.add_row(
        "bus ms",
        "  ".join(f"{k} {v:.1f}" for k, v in bus.items()) + f"   late reads {data.get('late_reads', 0)}",
    )
    recording = data.get("recording")
    if recording:
        table.add_row(
            "recording", f"{recording['path']} ({'episode open' if recording['episode_open'] else 'idle'})"
        )

    now = time.monotonic()
    lines = Text()
    for event in list(events if events is not None else data.get("events", []))[-8:]:
        ago = now - event["t"]
        lines.append(
            f"{ago:7.1f} s ago  {event['name']}: {event['detail']}\n",
            style=SEVERITY_STYLE.get(event["severity"], ""),
        )
    footer = Text("\n".join(keys), style="dim")
    return Group(head, table, lines, footer)
