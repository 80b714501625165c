"""Turning a spent retry budget into an error that names the motors and says what to check.

Each motor of the failed transaction is pinged (twice, so one lost reply does not get a healthy
motor named): the silent ones are named with the port, baud rate and what to check; if every motor
answers, the replies were arriving damaged, which points at cabling or power rather than ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dynamixel_sdk import COMM_RX_TIMEOUT

from drivers.dynamixel.errors import CorruptReplyError, MotorNotRespondingError, format_baud
from drivers.dynamixel.transport import AttemptFailed

if TYPE_CHECKING:
    from drivers.dynamixel.bus import DynamixelBus


def failure_error(bus: DynamixelBus, what: str, failed: AttemptFailed, ids: Sequence[int]) -> Exception:
    """The error for a call whose retry budget is spent: silent motors by name, else damaged replies."""
    tries = bus.retries + 1
    where = f"on {bus.port_name} at {format_baud(bus.baud_rate)}"
    silent = silent_motors(bus, ids, failed)
    if len(ids) > 1 and len(silent) == len(ids):
        return MotorNotRespondingError(
            f"no motor answered {where}: none of {', '.join(bus.label(i) for i in silent)} ({what}; {tries} tries)",
            "check that the motors' power supply is on, the cable from the adapter to the first motor, "
            f"and that the motors run at {format_baud(bus.baud_rate)} "
            f"(`robot-stack motors scan --port {bus.port_name} --all-bauds`)",
            silent,
            [bus.joint_of(i) for i in silent],
        )
    if silent:
        names = ", ".join(bus.label(i) for i in silent)
        return MotorNotRespondingError(
            f"{names} did not answer {where} ({what}; {tries} tries)",
            silent_hint(bus, silent),
            silent,
            [bus.joint_of(i) for i in silent],
        )
    if failed.status_error:
        reason = "the motor kept reporting a CRC error in the instruction it received"
    else:
        reason = bus.transport.ph.getTxRxResult(failed.result).replace("[TxRxResult] ", "").rstrip("!")
    who = bus.label(failed.motor_id) if failed.motor_id is not None else "the motors"
    return CorruptReplyError(
        f"{what} failed {where}: {reason} ({who}; {tries} tries)",
        "replies arrive but are damaged: check the cable and connectors along the chain, that the "
        "power supply holds its voltage under load, and that no other program uses the port",
        [failed.motor_id] if failed.motor_id is not None else list(ids),
    )


def silent_motors(bus: DynamixelBus, ids: Sequence[int], failed: AttemptFailed) -> list[int]:
    """Which of `ids` do not answer a ping now (two tries each, so one lost reply does not
    get a healthy motor named in the error)."""
    silent = []
    for motor_id in ids:
        for _ in range(2):
            try:
                bus.transport.ping(motor_id)
                break
            except AttemptFailed:
                bus.recover()
        else:
            silent.append(motor_id)
    if not silent and failed.motor_id is not None and failed.result == COMM_RX_TIMEOUT:
        silent = [failed.motor_id]  # answers pings, but not this instruction
    return silent


def silent_hint(bus: DynamixelBus, silent: list[int]) -> str:
    ids = ", ".join(str(i) for i in silent)
    return (
        f"check that the motor is powered (its LED blinks once at power-on), that its id is {ids} and "
        f"its baud rate {format_baud(bus.baud_rate)} (`robot-stack motors scan --port {bus.port_name} "
        "--all-bauds`), and the cable into it from the previous motor in the chain"
    )
