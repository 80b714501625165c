"""What a policy consumes and produces, stored with every checkpoint and checked against the rig.

The state vector is the follower arms' joints concatenated in `arms` order; the action vector has the
same layout (the leader command per follower joint). Images are the named cameras, each cut to its
region when it has one, resized to `image_size` and centre-cropped to `crop_size`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policies.config import Region
from robot_stack.errors import RobotStackError
from robot_stack.rig import RigSpec


class PolicySpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    cameras: list[str]
    image_size: tuple[int, int]  # (H, W) after resizing
    crop_size: tuple[int, int]  # (H, W) the network sees
    regions: dict[str, Region] = {}  # camera → part of its frame used (policies.config.DataConfig.regions)
    arms: dict[str, list[str]] = Field(min_length=1)  # arm name → joint names, in state order
    action_dim: int = Field(ge=1)
    control_rate_hz: float = Field(gt=0)
    stride: int = Field(default=1, ge=1)  # control ticks per policy step

    @model_validator(mode="after")
    def _dims(self) -> PolicySpec:
        if not self.cameras:
            raise ValueError("a policy needs at least one camera")
        return self

    @property
    def state_dim(self) -> int:
        return sum(len(joints) for joints in self.arms.values())

    @property
    def step_dt(self) -> float:
        """Seconds between consecutive actions of a chunk."""
        return self.stride / self.control_rate_hz

    def check_rig(self, rig: RigSpec, source: str = "the checkpoint") -> None:
        """Refuse a rig whose cameras or follower joints differ from what the policy was trained on."""
        problems = []
        missing = [c for c in self.cameras if c not in rig.cameras]
        if missing:
            problems.append(
                f"cameras {', '.join(missing)} are not on rig '{rig.name}' "
                f"(it has: {', '.join(rig.cameras) or 'none'})"
            )
        followers = {name: arm.joint_names for name, arm in rig.arms_with_role("follower").items()}
        if list(followers) != list(self.arms):
            problems.append(
                f"{source} expects follower arms {_arms_text(self.arms)}; rig '{rig.name}' has {_arms_text(followers)}"
            )
        else:
            for name, joints in self.arms.items():
                if len(followers[name]) != len(joints):
                    problems.append(
                        f"arm '{name}': {source} expects {len(joints)} joints ({', '.join(joints)}), "
                        f"the rig has {len(followers[name])} ({', '.join(followers[name])})"
                    )
                elif followers[name] != joints:
                    problems.append(
                        f"arm '{name}': joint names differ: {source} has {', '.join(joints)}, "
                        f"the rig has {', '.join(followers[name])}"
                    )
        if problems:
            raise RobotStackError(
                f"{source} does not match rig '{rig.name}':\n  " + "\n  ".join(problems),
                hint="deploy a policy trained on this rig's cameras and joints, or pass the rig file it was trained on",
            )

    def check_same(self, other: PolicySpec, source: str) -> None:
        """Refuse resuming or fine-tuning across datasets recorded on different rigs."""
        differs = [
            f"{field}: {getattr(other, field)} vs {getattr(self, field)}"
            for field in ("cameras", "arms", "action_dim", "image_size", "crop_size", "regions", "stride")
            if getattr(self, field) != getattr(other, field)
        ]
        if differs:
            raise RobotStackError(
                f"{source} was trained for other inputs than this dataset:\n  " + "\n  ".join(differs),
                hint="train into a fresh output folder, or use the dataset and settings it was trained on",
            )


def _arms_text(arms: dict[str, list[str]]) -> str:
    if not arms:
        return "none"
    return ", ".join(f"{name} ({len(joints)} joints)" for name, joints in arms.items())


def spec_from_rig(
    rig: RigSpec,
    cameras: list[str] | None,
    image_size: tuple[int, int],
    crop_size: tuple[int, int],
    stride: int = 1,
) -> PolicySpec:
    """The spec for training on episodes recorded on `rig` (state/action = follower joints, rig order)."""
    arms = {name: arm.joint_names for name, arm in rig.arms_with_role("follower").items()}
    if not arms:
        raise RobotStackError(f"rig '{rig.name}' has no follower arm", hint="a policy drives follower arms")
    names = list(rig.cameras) if cameras is None else list(cameras)
    return PolicySpec(
        cameras=names,
        image_size=image_size,
        crop_size=crop_size,
        arms=arms,
        action_dim=sum(len(j) for j in arms.values()),
        control_rate_hz=rig.control_rate_hz,
        stride=stride,
    )
