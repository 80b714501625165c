"""Subcommand groups of `robot-stack`. Each module exposes `register(subparsers)`, which adds its
parser(s) and sets `func` to a callable taking the parsed args and returning an exit status."""

from robot_stack.app.commands import (
    audit_cmd,
    calibrate_cmd,
    ctl_cmd,
    dataset_cmd,
    deploy_cmd,
    emulate_cmd,
    eval_cmd,
    keys_cmd,
    motors_cmd,
    policy_server_cmd,
    record_cmd,
    replay_cmd,
    rig_cmd,
    sim_cmd,
    teleop_cmd,
    train_cmd,
)

# In `robot-stack --help` order: the rig, then the workflow from calibration to deployment.
COMMAND_MODULES = [
    rig_cmd,
    sim_cmd,
    emulate_cmd,
    motors_cmd,
    calibrate_cmd,
    teleop_cmd,
    record_cmd,
    dataset_cmd,
    replay_cmd,
    audit_cmd,
    train_cmd,
    eval_cmd,
    deploy_cmd,
    ctl_cmd,
    policy_server_cmd,
    keys_cmd,
]
