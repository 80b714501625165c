"""Subcommand groups of `robot-stack`. Each module exposes `register(subparsers)`, which adds its
parser(s) and sets `func` to a callable taking the parsed args and returning an exit status."""

from robot_stack.app.commands import emulate_cmd, motors_cmd, rig_cmd, sim_cmd

COMMAND_MODULES = [rig_cmd, sim_cmd, emulate_cmd, motors_cmd]
