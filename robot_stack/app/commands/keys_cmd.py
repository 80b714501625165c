"""`robot-stack keys`: CurveZMQ key pairs for a planner that runs on another machine."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from robot_stack.errors import RobotStackError

EXAMPLES = """\
examples:
  robot-stack keys generate ~/.robot_stack/keys                 server + client "robot" key pairs
  robot-stack keys generate ~/.robot_stack/keys --client lab2   add a second robot PC (others kept)
  robot-stack keys generate                                     into the rig file's deploy.curve_keys_dir
  robot-stack keys show ~/.robot_stack/keys                     public keys and permission check

Then: on the GPU host keep server.key_secret and clients/; on each robot PC put server.key and its
own NAME.key_secret (chmod 600), and set deploy.curve_keys_dir in its rig file (or pass --keys).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "keys",
        help="make CurveZMQ keys for a remote policy server",
        description="Make and inspect the CurveZMQ keys a remote planner link needs: the policy server "
        "admits only clients whose public key is in its clients/ folder, and traffic is encrypted.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="keys_command", metavar="ACTION")
    gen = sub.add_parser(
        "generate",
        help="make the server key pair and client key pairs (existing keys are kept)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gen.add_argument(
        "dir", nargs="?", type=Path, help="keys directory (default: the rig's deploy.curve_keys_dir)"
    )
    gen.add_argument(
        "--client",
        action="append",
        metavar="NAME",
        help="a client key pair to make (repeatable; default: robot)",
    )
    gen.add_argument("--force", action="store_true", help="replace existing keys (old clients stop working)")
    gen.set_defaults(func=_generate)
    show = sub.add_parser(
        "show",
        help="list the keys in a directory and check their permissions",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    show.add_argument(
        "dir", nargs="?", type=Path, help="keys directory (default: the rig's deploy.curve_keys_dir)"
    )
    show.set_defaults(func=_show)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _directory(args: argparse.Namespace) -> Path:
    if args.dir is not None:
        return args.dir.expanduser()
    from robot_stack.rig import load_rig

    rig = load_rig(args.rig)
    if not rig.deploy.curve_keys_dir:
        raise RobotStackError(
            f"no keys directory given and {args.rig} sets no deploy.curve_keys_dir",
            hint="pass a directory: robot-stack keys generate ~/.robot_stack/keys",
        )
    return Path(rig.deploy.curve_keys_dir).expanduser()


def _generate(args: argparse.Namespace) -> int:
    from deploy.curve import DEFAULT_CLIENT, generate_keys

    directory = _directory(args)
    try:
        result = generate_keys(directory, tuple(args.client or [DEFAULT_CLIENT]), force=args.force)
    except OSError as exc:
        raise RobotStackError(
            f"cannot write keys to {directory}: {exc}", hint="choose a writable directory"
        ) from None
    console = Console(highlight=False)
    for path in result.created:
        console.print(f"[green]wrote[/] {path}")
    for path in result.kept:
        console.print(f"kept  {path}")
    console.print(
        f"\nplanner host: {directory}/server.key_secret and {directory}/clients/\n"
        f"robot PC:     {directory}/server.key and its NAME.key_secret (keep it chmod 600)"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    import zmq.auth

    directory = _directory(args)
    if not directory.is_dir():
        raise RobotStackError(
            f"keys directory {directory} does not exist", hint="robot-stack keys generate DIR"
        )
    table = Table(title=f"keys in {directory}", title_justify="left")
    for column in ("file", "role", "public key", "mode"):
        table.add_column(column)
    problems: list[str] = []
    files = sorted(directory.glob("*.key*")) + sorted((directory / "clients").glob("*.key"))
    for path in files:
        if path.suffix not in (".key", ".key_secret"):
            continue
        mode = path.stat().st_mode & 0o777
        secret = path.suffix == ".key_secret"
        role = (
            "authorised client"
            if path.parent.name == "clients"
            else ("server" if path.stem == "server" else f"client {path.stem}")
            + (" (secret)" if secret else "")
        )
        try:
            public = zmq.auth.load_certificate(path)[0].decode()
        except (OSError, ValueError):
            public = "[red]unreadable[/]"
            problems.append(f"{path} is not a key file: make new keys")
        shown = oct(mode)
        if secret and mode & 0o077:
            shown = f"[red]{oct(mode)}[/]"
            problems.append(f"{path} can be read by other users: chmod 600 {path}")
        table.add_row(str(path.relative_to(directory)), role, public, shown)
    console = Console(highlight=False)
    console.print(table)
    for problem in problems:
        console.print(f"[yellow]fix:[/] {problem}", soft_wrap=True)
    return 1 if problems else 0
