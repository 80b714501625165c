"""Slowly varying random offsets on the follower goals while recording (noise injection, as in DART).

A policy trained on clean demonstrations has only seen the arm on the demonstrated path, so its
first small error takes it where it has no example, and the error grows. With `record --noise`, each
follower joint except the gripper is sent its leader's pose plus a smooth random offset, while the
episode stores the leader's pose as the action: the data then holds states beside the path, each
labelled with the pose the operator meant (Laskey et al., "DART", CoRL 2017). A person at the leaders
sees the follower drift and corrects; the scripted operator's targets are the plan itself.

Each offset is an Ornstein–Uhlenbeck process: standard deviation `sigma_rad`, correlation time
`time_constant_s`, bounded at 2.5 sigma so no tick's offset is far out of its distribution.

Where the operator says when the hands must be steady (the scripted operator's grasps and hand-overs:
`SteadySpans`), the offsets fade to zero over `FADE_S` before each span and back after it. Noise at
those moments does not show a way back, it drops the object: with σ = 0.015 rad throughout, 12 of 30
scripted transfer-cube takes failed, nearly all in the hand-over.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from robot_stack.errors import RobotStackError

MAX_SIGMA_RAD = 0.2  # beyond this the follower visibly fights its leader: a typo, not a choice
BOUND_SIGMAS = 2.5
FADE_S = 0.4  # ramp in and out of a steady span: close to the offsets' own correlation time


class JointNoise:
    """Offsets for the joints in `joints` (follower name → mask of the joints that get noise)."""

    def __init__(
        self,
        joints: dict[str, np.ndarray],
        sigma_rad: float,
        time_constant_s: float,
        dt: float,
        seed: int | None = None,
    ):
        if not 0 < sigma_rad <= MAX_SIGMA_RAD:
            raise RobotStackError(
                f"noise {sigma_rad} rad: expected more than 0 and at most {MAX_SIGMA_RAD} rad",
                hint="e.g. --noise 0.03 (about 2°)",
            )
        if time_constant_s <= 0:
            raise RobotStackError(f"noise time {time_constant_s} s must be positive", hint="e.g. 0.5")
        self.sigma_rad = float(sigma_rad)
        self.time_constant_s = float(time_constant_s)
        self._masks = {name: np.asarray(mask, dtype=bool) for name, mask in joints.items()}
        self._decay = float(np.exp(-dt / time_constant_s))
        self._kick = sigma_rad * float(np.sqrt(1.0 - self._decay**2))
        self.envelope: Callable[[float], float] | None = None  # time → scale in [0, 1]; None: 1
        self._rng = np.random.default_rng(seed)
        # start in the stationary distribution, so the first second is as noisy as the rest
        self._offsets = {
            name: self._bounded(self._rng.standard_normal(len(mask)) * sigma_rad * mask)
            for name, mask in self._masks.items()
        }

    def step(self, follower: str, t: float | None = None) -> np.ndarray:
        """The next tick's offsets for `follower` at time `t` (radians, zero where masked out)."""
        mask = self._masks[follower]
        previous = self._offsets[follower]
        offsets = self._bounded(
            (self._decay * previous + self._kick * self._rng.standard_normal(len(mask))) * mask
        )
        self._offsets[follower] = offsets  # the process runs on inside steady spans; only its output fades
        envelope = self.envelope  # read once: the session thread may swap it between takes
        if envelope is None or t is None:
            return offsets
        return offsets * envelope(t)

    def describe(self) -> dict:
        """What is stored with each episode recorded under this noise."""
        return {
            "sigma_rad": self.sigma_rad,
            "time_constant_s": self.time_constant_s,
            "bound_rad": BOUND_SIGMAS * self.sigma_rad,
            "joints": {name: int(mask.sum()) for name, mask in self._masks.items()},
            "action": "the leader's pose (the follower was sent it plus the offset)",
        }

    def _bounded(self, offsets: np.ndarray) -> np.ndarray:
        bound = BOUND_SIGMAS * self.sigma_rad
        return np.clip(offsets, -bound, bound)


class SteadySpans:
    """An envelope for `JointNoise`: 0 inside the spans, 1 more than `fade_s` away, linear between.

    `spans` are (start, end) in the operator's time, which began at clock time `origin`.
    """

    def __init__(self, spans: Sequence[Sequence[float]], origin: float, fade_s: float = FADE_S):
        self.spans = [(float(a), float(b)) for a, b in spans]
        self.origin = float(origin)
        self.fade_s = float(fade_s)

    def __call__(self, t: float) -> float:
        x = t - self.origin
        distance = min((max(a - x, x - b, 0.0) for a, b in self.spans), default=np.inf)
        return float(min(1.0, distance / self.fade_s))

    def describe(self) -> dict:
        return {
            "steady_spans_s": [[round(a, 3), round(b, 3)] for a, b in self.spans],
            "steady_origin_s": round(self.origin, 6),  # the operator's zero on the clock of joints/t
            "fade_s": self.fade_s,
        }
