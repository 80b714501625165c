"""Subcommand groups of `robot-stack`. Each module exposes `register(subparsers)`, which adds its
parser(s) and sets `func` to a callable taking the parsed args and returning an exit status."""

from robot_stack.app.commands import emulate_cmd, motors_cmd, rig_cmd, sim_cmd

COMMAND_MODULES = [rig_cmd, sim_cmd, emulate_cmd, motors_cmd]

from robot_stack.app.commands import eval_cmd, train_cmd  # noqa: E402  (policies: train, eval)

COMMAND_MODULES += [train_cmd, eval_cmd]

from robot_stack.app.commands import calibrate_cmd  # noqa: E402

COMMAND_MODULES += [calibrate_cmd]

from robot_stack.app.commands import keys_cmd, policy_server_cmd  # noqa: E402  (deploy: remote planner)

COMMAND_MODULES += [keys_cmd, policy_server_cmd]

from robot_stack.app.commands import audit_cmd, dataset_cmd  # noqa: E402  (audit, dataset tools)

COMMAND_MODULES += [audit_cmd, dataset_cmd]
