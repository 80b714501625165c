"""How the scripted operator does transfer_cube.

Strategies (drawn per episode): which arm picks (the one on the cube's side, or either when the cube
lies near the middle), a grasp straight from above or tilted, where in the air the hand-over happens,
and which way up the receiving hand turns. The giver squares the cube up and holds it out sideways
with its fingers on two side faces; the receiver comes in from the other side with its hand turned a
quarter, so its fingers take the top and bottom faces and the four fingers never meet.
"""

from __future__ import annotations

import numpy as np

from drivers.sim.arms import ARM_SIDES
from drivers.sim.choreography import Choreography, Move
from drivers.sim.grasping import Grasp, arm_base, closest, natural_pinch, radial, snap_to_axes, top_grasp
from drivers.sim.kinematics import gripper_rotation
from drivers.sim.task_base import ObjectPose
from drivers.sim.trajectory import Pose

# The far arm may pick only when the cube lies at most this far past the middle, towards the other
# arm: farther out, its top-down reach runs out and its forearm would sweep the other arm's space.
FAR_PICK_LIMIT_M = 0.05
OPEN, CLOSED = 1.0, 0.0


def candidate_strategies(layout: dict[str, ObjectPose], rng: np.random.Generator) -> list[dict]:
    cube = layout["box"]
    x = cube.position[0]
    givers = [s for s in ARM_SIDES if (x if s == "left" else -x) <= FAR_PICK_LIMIT_M]
    out = []
    for giver in givers:
        for approach in ("above", "angled"):
            for turn in (1.0, -1.0):
                out.append({"giver": giver, "approach": approach, "receiver_turn": turn})
    rng.shuffle(out)
    return out


def build(choreo: Choreography, model, layout: dict[str, ObjectPose], strategy: dict, rng) -> dict:
    """Script the episode into `choreo` (raises IkFailure when a pose is out of reach)."""
    cube = layout["box"]
    giver = strategy["giver"]
    receiver = ARM_SIDES[1 - ARM_SIDES.index(giver)]

    # pick: the finger axis on the pair of faces nearest the hand's natural turn
    u = radial(arm_base(model, giver), cube.position)
    pinch = closest([cube.rotation[:, 0], cube.rotation[:, 1]], natural_pinch(u))
    tilt = 0.0 if strategy["approach"] == "above" else float(rng.uniform(0.2, 0.4))
    grasp = top_grasp(cube.position + [0, 0, rng.uniform(0.003, 0.007)], pinch, u, tilt)
    pre_grasp = grasp.shifted(-grasp.rotation[:, 0] * rng.uniform(0.08, 0.11))
    lift = grasp.shifted([0, 0, rng.uniform(0.09, 0.13)])
    held = Grasp.of(grasp, cube.position, cube.rotation)

    # hand-over: the cube squared up at the meeting point, giver's fingertips towards the receiver
    meet = np.array([rng.uniform(-0.05, 0.05), rng.uniform(0.46, 0.54), rng.uniform(0.2, 0.27)])
    towards_receiver = np.array([1.0 if giver == "left" else -1.0, 0.0, 0.0])
    wanted = gripper_rotation(towards_receiver, natural_pinch(towards_receiver))
    cube_at_meet = snap_to_axes(wanted @ held.rotation.T)
    present = held.gripper_pose(meet, cube_at_meet)

    # the receiver points back at the giver, hand turned a quarter: fingers above and below the cube
    r_rot = gripper_rotation(-towards_receiver, [0.0, 0.0, strategy["receiver_turn"]])
    take = meet + towards_receiver * 0.006  # a little on its own side, clear of the giver's fingertips
    receive = Pose(take, r_rot)
    pre_receive = receive.shifted(towards_receiver * rng.uniform(0.08, 0.1))

    choreo.pause(rng.uniform(0.2, 0.5))  # the operator takes in the scene
    choreo.phase({giver: Move(pre_grasp, 1.2, OPEN)})
    choreo.phase({giver: Move(grasp, 0.8, line=True)})
    choreo.phase({giver: Move(None, 0.45, CLOSED)}, settle=0.2, steady=True)
    choreo.phase({giver: Move(lift, 0.7, line=True)})
    choreo.phase({giver: Move(present, 1.3), receiver: Move(pre_receive, 1.4, OPEN)}, settle=0.15)
    choreo.phase({receiver: Move(receive, 0.7, line=True)}, steady=True)
    choreo.phase({receiver: Move(None, 0.45, CLOSED)}, settle=0.2, steady=True)
    choreo.phase({giver: Move(None, 0.4, OPEN)}, settle=0.15, steady=True)
    back = present.shifted(-towards_receiver * 0.1)
    keep = receive.shifted(towards_receiver * 0.04 + [0, 0, 0.02])
    choreo.phase({giver: Move(back, 0.7, line=True), receiver: Move(keep, 0.7, line=True)}, steady=True)
    return {**strategy, "receiver": receiver, "tilt_rad": round(tilt, 3), "meet": np.round(meet, 3).tolist()}
