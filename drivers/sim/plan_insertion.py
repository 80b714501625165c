"""How the scripted operator does insertion.

Each arm picks the part on its side from above (straight or tilted), near the part's outer end so the
inner ends stay free; both lift, swing the parts level and in line at a meeting point in the air,
pause to line them up, and close the gap. Strategies (drawn per episode): the grasp approach, where
the parts meet, and who does the pushing — the peg hand, the socket hand, or both halfway.
"""

from __future__ import annotations

import numpy as np

from drivers.sim.arms import ARM_SIDES
from drivers.sim.choreography import Choreography, Move
from drivers.sim.grasping import Grasp, arm_base, closest, natural_pinch, radial, top_grasp
from drivers.sim.task_base import ObjectPose
from drivers.sim.task_insertion import PEG_HALF, PIN_HALF_LENGTH, SOCKET_HALF

OPEN, CLOSED = 1.0, 0.0
MOVERS = {"peg": 0.15, "both": 0.5, "socket": 0.85}  # share of the final push done by the socket hand
START_GAP_M = 0.025  # peg tip this far outside the socket mouth before the push
DEPTH_M = SOCKET_HALF[0] - PIN_HALF_LENGTH + 0.004  # push the tip 4 mm past where it meets the pin


def candidate_strategies(layout: dict[str, ObjectPose], rng: np.random.Generator) -> list[dict]:
    out = [{"approach": a, "pusher": p} for a in ("above", "angled") for p in MOVERS]
    rng.shuffle(out)
    return out


def _pick(model, side: str, part: ObjectPose, other: ObjectPose, grip_z: float, tilt: float, rng):
    """Grasp near the part's outer end; returns grasp, pre-grasp and the grasp in the part's frame."""
    axis = part.rotation[:, 0]
    outward = axis if axis @ (part.position - other.position) > 0 else -axis
    point = part.position + outward * rng.uniform(0.025, 0.035)
    point[2] = grip_z
    u = radial(arm_base(model, side), point)
    pinch = closest([part.rotation[:, 1]], natural_pinch(u))
    grasp = top_grasp(point, pinch, u, tilt)
    pre = grasp.shifted(-grasp.rotation[:, 0] * rng.uniform(0.08, 0.1))
    return grasp, pre, Grasp.of(grasp, part.position, part.rotation)


def build(choreo: Choreography, model, layout: dict[str, ObjectPose], strategy: dict, rng) -> dict:
    peg, socket = layout["peg"], layout["socket"]
    peg_arm = "right" if peg.position[0] > socket.position[0] else "left"
    socket_arm = ARM_SIDES[1 - ARM_SIDES.index(peg_arm)]
    tilt = 0.0 if strategy["approach"] == "above" else float(rng.uniform(0.15, 0.3))
    peg_grasp, peg_pre, peg_held = _pick(model, peg_arm, peg, socket, 0.022, tilt, rng)
    sock_grasp, sock_pre, sock_held = _pick(model, socket_arm, socket, peg, 0.024, tilt, rng)

    # in the air: both parts level along world x, the socket mouth facing the peg
    towards_peg = np.array([1.0 if peg_arm == "right" else -1.0, 0.0, 0.0])
    mid = np.array([rng.uniform(-0.04, 0.04), rng.uniform(0.46, 0.54), rng.uniform(0.18, 0.26)])
    level = np.eye(3)
    socket_end = mid - towards_peg * 0.05
    peg_end = socket_end + towards_peg * (SOCKET_HALF[0] + PEG_HALF[0] - DEPTH_M)
    push = START_GAP_M + DEPTH_M
    share = MOVERS[strategy["pusher"]]
    socket_start = socket_end - towards_peg * share * push
    peg_start = peg_end + towards_peg * (1 - share) * push

    lift_peg = peg_grasp.shifted([0, 0, rng.uniform(0.08, 0.12)])
    lift_sock = sock_grasp.shifted([0, 0, rng.uniform(0.08, 0.12)])
    choreo.pause(rng.uniform(0.3, 0.7))
    choreo.phase({peg_arm: Move(peg_pre, 1.4, OPEN), socket_arm: Move(sock_pre, 1.4, OPEN)})
    choreo.phase({peg_arm: Move(peg_grasp, 0.9, line=True), socket_arm: Move(sock_grasp, 0.9, line=True)})
    choreo.phase(
        {peg_arm: Move(None, 0.5, CLOSED), socket_arm: Move(None, 0.5, CLOSED)}, settle=0.25, steady=True
    )
    choreo.phase({peg_arm: Move(lift_peg, 0.8, line=True), socket_arm: Move(lift_sock, 0.8, line=True)})
    choreo.phase(
        {
            peg_arm: Move(peg_held.gripper_pose(peg_start, level), 1.5),
            socket_arm: Move(sock_held.gripper_pose(socket_start, level), 1.5),
        },
        settle=0.3,  # line the parts up by eye before pushing
    )
    choreo.phase(
        {
            # slowly: a position servo lags a moving target by millimetres, and the clearance is 8 mm
            peg_arm: Move(peg_held.gripper_pose(peg_end, level), 1.8, line=True),
            socket_arm: Move(sock_held.gripper_pose(socket_end, level), 1.8, line=True),
        },
        steady=True,
    )
    return {
        **strategy,
        "peg_arm": peg_arm,
        "socket_arm": socket_arm,
        "tilt_rad": round(tilt, 3),
        "meet": np.round(mid, 3).tolist(),
    }
