"""`robot-stack dataset info|list|show|tag|remove|merge`: look after the episodes of a dataset."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from robot_stack.app.episode_select import parse_selection
from robot_stack.errors import RobotStackError
from robot_stack.store.files import human_bytes

EXAMPLES = """\
examples:
  robot-stack dataset info demos.zarr                      rig, cameras, episodes, hours, size on disk
  robot-stack dataset list demos.zarr --tag bad            episodes with their metadata, tags and notes
  robot-stack dataset show demos.zarr 7                    one episode: attrs, stream stats, audit flags
  robot-stack dataset tag demos.zarr 3,5-7 bad             tag episodes (--remove to untag)
  robot-stack dataset remove demos.zarr 4 --yes            delete an episode (atomic; others untouched)
  robot-stack dataset remove demos.zarr --tag bad --yes    delete every episode tagged bad
  robot-stack dataset merge all.zarr day1.zarr day2.zarr   copy the episodes of day1 and day2 into all.zarr

Episode lists: 3, 0-5, 1,4,7-9. Removing and merging never rewrite the other episodes.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "dataset",
        help="list, inspect, tag, remove and merge the episodes of a dataset",
        description="Manage the episodes of a dataset. Changes are crash-safe: each episode is either as "
        "it was or as intended, and episodes not named are never rewritten.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="dataset_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, func) -> argparse.ArgumentParser:
        q = sub.add_parser(name, help=help_text, description=help_text, epilog=EXAMPLES,
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        q.set_defaults(func=func)
        return q

    q = action("info", "the dataset at a glance", _info)
    q.add_argument("dataset", type=Path)
    q.add_argument("--json", action="store_true", help="print JSON instead of a table")

    q = action("list", "episodes with their metadata, tags and the problems their stats record", _list)
    q.add_argument("dataset", type=Path)
    q.add_argument("--tag", help="only episodes with this tag")
    q.add_argument("--task", help="only episodes of this task")

    q = action("show", "one episode in detail, with its audit flags", _show)
    q.add_argument("dataset", type=Path)
    q.add_argument("episode", type=int)
    q.add_argument("--no-audit", action="store_true", help="skip the audit (stored attributes only)")

    q = action("tag", "add tags to episodes (or remove them with --remove)", _tag)
    q.add_argument("dataset", type=Path)
    q.add_argument("episodes", help="episode list, e.g. 3,5-7")
    q.add_argument("tags", nargs="+", help="tags, e.g. bad intervention")
    q.add_argument("--remove", action="store_true", help="remove these tags instead of adding them")

    q = action("remove", "delete episodes (atomic; the others are not touched)", _remove)
    q.add_argument("dataset", type=Path)
    q.add_argument("episodes", nargs="?", help="episode list, e.g. 4 or 2,9")
    q.add_argument("--tag", help="every episode carrying this tag")
    q.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    q = action("merge", "copy the episodes of datasets recorded with the same rig into one", _merge)
    q.add_argument("dest", type=Path, help="the dataset to merge into (created if it does not exist)")
    q.add_argument("sources", type=Path, nargs="+", help="datasets whose episodes are copied (only read)")


def _open(path: Path):
    from robot_stack.store import Dataset

    if not path.exists():
        raise RobotStackError(f"there is no dataset at {path}", hint="check the path (a .zarr folder)")
    return Dataset.open(path)


def _info(args: argparse.Namespace) -> int:
    from robot_stack.app.dataset_tools import summarize

    s = summarize(_open(args.dataset))
    if args.json:
        data = {k: (str(v) if isinstance(v, Path) else v) for k, v in s.__dict__.items()}
        print(json.dumps(data, indent=2))
        return 0
    table = Table(title=f"dataset {s.path}", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("rig", f"{s.rig_name} (control {s.control_hz:g} Hz)"),
        ("cameras", "\n".join(f"{k}: {v}" for k, v in s.cameras.items()) or "none"),
        (
            "episodes",
            f"{s.episodes} (next index {s.next_episode}); {s.with_notes} with problems in their stats",
        ),
        ("recorded", f"{s.duration_s / 3600:.2f} h ({s.duration_s / 60:.1f} min)"),
        ("on disk", human_bytes(s.bytes_on_disk)),
        ("tasks", ", ".join(f"{k} × {v}" for k, v in s.tasks.items()) or "—"),
        ("tags", ", ".join(f"{k} × {len(v)}" for k, v in s.tags.items()) or "—"),
        ("format", f"{s.format_version}, written by robot_stack {s.software_version}, created {s.created}"),
    ]
    if s.leftovers:
        rows.append(("crash leftovers", "\n".join(s.leftovers)))
    for k, v in rows:
        table.add_row(k, v)
    Console().print(table)
    return 0


def _list(args: argparse.Namespace) -> int:
    from robot_stack.app.dataset_tools import episode_length_s, stored_notes

    ds = _open(args.dataset)
    episodes = ds.episodes()
    chosen = {
        k: a
        for k, a in episodes.items()
        if (not args.tag or args.tag in a.get("tags", [])) and (not args.task or a.get("task") == args.task)
    }
    console = Console()
    with_operator = any(a.get("operator") for a in chosen.values())
    with_task = len({a.get("task") for a in chosen.values()}) > 1
    table = Table(title=f"episodes of {ds.path}", title_justify="left")
    columns = ["#", *(["task"] if with_task else []), *(["operator"] if with_operator else [])]
    with_success = any(a.get("success") is not None for a in chosen.values())
    columns += ["started", "len s", "status", *(["success"] if with_success else []), "tags", "notes"]
    for name in columns:
        wraps = name in ("tags", "notes")
        table.add_column(
            name,
            justify="right" if name in ("#", "len s") else "left",
            no_wrap=not wraps,
            overflow="fold",
            min_width=14 if name == "notes" else None,
        )
    for k, a in chosen.items():
        notes = stored_notes(a)
        length = episode_length_s(a)
        values = {
            "#": str(k),
            "task": str(a.get("task", "")),
            "operator": str(a.get("operator") or "—"),
            "started": str(a.get("start_time", ""))[5:16].replace("T", " "),
            "len s": "—" if length is None else f"{length:.1f}",
            "status": str(a.get("status")),
            "success": {True: "[green]yes[/]", False: "[red]no[/]"}.get(a.get("success"), "—"),
            "tags": ", ".join(a.get("tags", [])),
            "notes": "[yellow]" + "; ".join(notes) + "[/]" if notes else "[green]ok[/]",
        }
        table.add_row(*(values[c] for c in columns))
    console.print(table)
    only_task = "" if with_task or not chosen else f" (task {next(iter(chosen.values())).get('task')})"
    console.print(
        f"{len(chosen)} of {len(episodes)} episodes{only_task}; notes come from the stats stored at recording. "
        f"Full checks: robot-stack audit --dataset {ds.path}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    ds = _open(args.dataset)
    ep = ds.episode(args.episode)  # names the episodes present if this one is not
    a = ep.attrs
    console = Console()
    table = Table(title=f"episode {ep.index} of {ds.path}", title_justify="left", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    stats = a.get("stats") or {}
    joints = stats.get("joints") or {}
    rows = [
        ("task", str(a.get("task"))),
        ("operator", str(a.get("operator") or "—")),
        ("time", f"{a.get('start_time')} → {a.get('end_time')}"),
        ("status / success", f"{a.get('status')} / {a.get('success')}"),
        ("seed", str(a.get("seed"))),
        ("tags", ", ".join(a.get("tags", [])) or "—"),
        ("ticks", f"{len(ep)} at {joints.get('rate_hz') or 0:.2f} Hz, {joints.get('late_ticks', 0)} late"),
        ("joints", f"{ep.observation.shape[1]}: {', '.join(ep.joint_names) or '(unnamed)'}"),
        ("extras", ", ".join(ep.extras) or "—"),
    ]
    for name, cam in sorted((stats.get("cameras") or {}).items()):
        rows.append(
            (
                name,
                f"{cam.get('frames')} frames at {cam.get('fps') or 0:.1f} fps, {cam.get('missing_frames', 0)} lost, "
                f"oldest frame {cam.get('max_frame_age_ms', float('nan')):.0f} ms, latency {cam.get('latency_s', 0) * 1e3:.0f} ms",
            )
        )
    if a.get("extra"):
        rows.append(("extra", json.dumps(a["extra"])))
    if a.get("origin"):
        rows.append(("merged from", f"{a['origin'].get('dataset')} episode {a['origin'].get('index')}"))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    if not args.no_audit:
        from robot_stack.app.audit import AuditOptions, run_audit

        report = run_audit(ds.path, AuditOptions(episodes=[ep.index]))
        audited = report.episodes[0]
        if not audited.flags:
            console.print(
                "audit: [green]no flags[/] (outliers and latency need the whole dataset: robot-stack audit)"
            )
        for f in audited.flags:
            style = "bold red" if f.severity == "error" else "yellow"
            console.print(f"[{style}]{f.code}[/]: {f.message}", soft_wrap=True)
    return 0


def _editable(path: Path):
    from robot_stack.store import Dataset

    return Dataset.edit(path)


def _tag(args: argparse.Namespace) -> int:
    from robot_stack.app.dataset_tools import change_tags

    indices = parse_selection(args.episodes)
    with _editable(args.dataset) as ds:
        if args.remove:
            result = change_tags(ds, indices, remove=args.tags)
        else:
            result = change_tags(ds, indices, add=args.tags)
    console = Console()
    for k, tags in result.items():
        console.print(f"episode {k}: tags {', '.join(tags) or '(none)'}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    if not args.episodes and not args.tag:
        raise RobotStackError("say which episodes to remove", hint="give a list (e.g. 4 or 2,9) or --tag bad")
    console = Console()
    with _editable(args.dataset) as ds:
        episodes = ds.episodes()
        chosen = set(parse_selection(args.episodes)) if args.episodes else set()
        if args.tag:
            chosen |= {k for k, a in episodes.items() if args.tag in a.get("tags", [])}
        missing = sorted(chosen - set(episodes))
        if missing:
            raise RobotStackError(
                f"{ds.path} has no episode {', '.join(map(str, missing))}; nothing was removed",
                hint=f"list the episodes with: robot-stack dataset list {ds.path}",
            )
        if not chosen:
            console.print(f"no episode carries the tag {args.tag!r}; nothing to remove")
            return 0
        listing = ", ".join(str(k) for k in sorted(chosen))
        if not args.yes:
            if not sys.stdin.isatty():
                raise RobotStackError(
                    f"removing episode(s) {listing} of {ds.path} needs confirmation",
                    hint="add --yes to remove without asking",
                )
            answer = console.input(f"remove episode(s) {listing} of {ds.path}? This cannot be undone. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                console.print("nothing removed")
                return 0
        for k in sorted(chosen):
            ds.remove_episode(k)
    console.print(f"removed episode(s) {listing}; {len(episodes) - len(chosen)} remain")
    return 0


def _merge(args: argparse.Namespace) -> int:
    from robot_stack.app.dataset_tools import check_same_rig, create_like, merge_into
    from robot_stack.store import Dataset

    sources = [_open(p) for p in args.sources]
    seen = set()
    for src in sources:
        if src.path.resolve() == args.dest.resolve():
            raise RobotStackError(f"{src.path} is the destination; it cannot also be a source")
        if src.path.resolve() in seen:
            raise RobotStackError(f"{src.path} is given twice", hint="name each source once")
        seen.add(src.path.resolve())
    if args.dest.exists():
        dest = Dataset.edit(args.dest)
    else:
        check_same_rig(sources[0], sources[1:])  # refuse before creating anything
        dest = create_like(args.dest, sources[0])
    total = sum(len(src.indices()) for src in sources)
    console = Console()
    with dest, Progress(
        TextColumn("merging"), BarColumn(), MofNCompleteColumn(), TextColumn("episodes"),
        console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("merge", total=total)
        copied = merge_into(dest, sources, lambda: progress.advance(task))
    for source, k, new in copied:
        console.print(f"{source} episode {k} → {args.dest} episode {new}")
    console.print(f"merged {len(copied)} episode(s) into {args.dest}")
    return 0
