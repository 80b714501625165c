"""The `robot-stack` command line: one parser, one module per subcommand group."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from robot_stack.app.commands import COMMAND_MODULES
from robot_stack.errors import RobotStackError

EPILOG = """\
examples:
  robot-stack rig show                      describe the rig in ./hardware.yaml
  robot-stack rig check examples/aloha.yaml validate another rig file (exit 1 if invalid)
  robot-stack --rig lab2.yaml rig timing    measure this PC's control-loop timing at the rig's rate

Every subcommand has its own --help with examples.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="robot-stack",
        description="Record, train and deploy policies on low-cost bimanual Dynamixel rigs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rig",
        type=Path,
        default=Path("hardware.yaml"),
        metavar="PATH",
        help="rig description file (default: ./hardware.yaml)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    err = Console(stderr=True, highlight=False)
    try:
        return int(args.func(args) or 0)
    except RobotStackError as exc:
        err.print(f"[bold red]error:[/] {exc.message}", markup=True, soft_wrap=True)
        if exc.hint:
            err.print(f"[yellow]fix:[/] {exc.hint}", soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
