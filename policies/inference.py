"""The inference API the deploy runtime calls: load a checkpoint, predict action chunks in robot units.

    policy = Policy.load("runs/act", device="cpu")
    policy.check_rig(rig)          # refuses a rig with other cameras or joints, naming what differs
    policy.warmup()
    chunk = policy.predict({"images": {"cam_high": frame, ...}, "state": q, "t": t_capture})
    chunk.actions[i]               # the command for time chunk.t_obs + i · chunk.dt

The policy keeps the last few observations itself (Diffusion Policy looks at `n_obs_steps` of them,
`stride` ticks apart); call `reset()` at the start of every episode.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from policies.build import build_model
from policies.checkpoint import Checkpoint, load_checkpoint
from policies.images import center_crop, prepare_frame, to_float
from robot_stack.errors import RobotStackError
from robot_stack.rig import RigSpec


@dataclass(frozen=True)
class ActionChunk:
    actions: np.ndarray  # (k, A) float32, robot units (rad; gripper 0..1), same layout as the state
    t_obs: float  # capture time of the observation it was planned from; actions[0] is for this time
    dt: float  # seconds between consecutive actions

    @property
    def times(self) -> np.ndarray:
        return self.t_obs + np.arange(len(self.actions)) * self.dt

    def resampled(self, dt: float) -> ActionChunk:
        """The same trajectory at another spacing (linear interpolation), e.g. a 10 Hz chunk for a 50 Hz loop."""
        span = (len(self.actions) - 1) * self.dt
        times = np.arange(int(np.floor(span / dt + 1e-9)) + 1) * dt
        source = np.arange(len(self.actions)) * self.dt
        actions = np.stack(
            [np.interp(times, source, self.actions[:, j]) for j in range(self.actions.shape[1])], 1
        )
        return ActionChunk(actions.astype(np.float32), self.t_obs, dt)


class Policy:
    def __init__(self, checkpoint: Checkpoint, device: str | torch.device = "cpu", steps: int | None = None):
        self.checkpoint = checkpoint
        self.config, self.spec, self.normalizer = checkpoint.config, checkpoint.spec, checkpoint.normalizer
        self.device = torch.device(device)
        self.steps = steps  # sampler steps (DDIM or Euler); None: the configured number
        self.model = build_model(self.config, self.spec).to(self.device).eval()
        try:
            self.model.load_state_dict(checkpoint.weights(self.device))
        except RuntimeError as exc:
            raise RobotStackError(
                f"{checkpoint.path}: weights do not fit the network its config describes: {exc}",
                hint="the checkpoint is damaged or was edited; use another",
            ) from None
        self._generator = torch.Generator(device=self.device).manual_seed(0)
        self._history: deque[tuple[float, torch.Tensor, torch.Tensor]] = deque(
            maxlen=8 * self.n_obs_steps * self.spec.stride
        )

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu", steps: int | None = None) -> Policy:
        """`path`: a checkpoint folder, or a training run folder (its best/ is used)."""
        return cls(load_checkpoint(path), device, steps)

    @property
    def kind(self) -> str:
        return self.config.policy

    @property
    def n_obs_steps(self) -> int:
        return self.config.n_obs_steps

    @property
    def chunk_length(self) -> int:
        return self.config.chunk_length

    @property
    def dt(self) -> float:
        return self.spec.step_dt

    @property
    def supports_prefix(self) -> bool:
        return self.kind != "act"

    def check_rig(self, rig: RigSpec) -> None:
        self.spec.check_rig(rig, source=f"policy {self.checkpoint.path}")

    def reset(self) -> None:
        """Forget the observation history (start of an episode, or after a takeover)."""
        self._history.clear()

    def warmup(self, runs: int = 2) -> float:
        """Run a few predictions on blank input so the first real one is not slow; returns seconds per call."""
        h, w = self.spec.image_size
        blank = {
            "images": {c: np.zeros((h, w, 3), np.uint8) for c in self.spec.cameras},
            "state": self.normalizer.state_stats.mean.astype(np.float32),
            "t": 0.0,
        }
        elapsed = 0.0
        for i in range(max(1, runs)):
            t0 = time.perf_counter()
            self.predict({**blank, "t": i * self.dt})
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            elapsed += time.perf_counter() - t0
        self.reset()
        return elapsed / max(1, runs)

    def observe(self, observation: Mapping) -> None:
        """Add an observation to the history without planning. Between plans, call it every tick (at
        least every `stride` ticks) so a policy with n_obs_steps > 1 sees observations `dt` apart."""
        self._history.append(self._check(observation))

    def predict(
        self,
        observation: Mapping,
        prefix: np.ndarray | None = None,
        *,
        previous: np.ndarray | None = None,
        max_guidance: float = 5.0,
    ) -> ActionChunk:
        """`observation`: images {camera: (H, W, 3) uint8 RGB}, state (J,) float32, t (capture time, s).
        `prefix` (d, A): actions already committed from t on (diffusion/flow only), kept as they are.
        `previous` (p, A), d ≤ p ≤ chunk_length: the plan being executed, from t on (diffusion/flow
        only); the new chunk is guided to stay close to it and depart gradually — real-time chunking's
        soft inpainting (policies.guidance); one backward pass per sampling step on top."""
        t, images, state = self._check(observation)
        self._history.append((t, images, state))
        steps = self._pick_history(t)
        images_b = torch.stack([s[1] for s in steps])[None]  # (1, T, N, 3, h, w)
        state_b = torch.stack([s[2] for s in steps])[None]
        known = self._prefix(prefix)
        plan = self._prefix(previous, "previous", min_length=0 if known is None else known.shape[1])
        # guidance differentiates through the network: no inference_mode (its tensors refuse autograd)
        with torch.inference_mode() if plan is None else torch.no_grad():
            x = center_crop(to_float(images_b), self.spec.crop_size)
            normalised = self.model.predict_chunk(
                x,
                state_b,
                prefix=known,
                steps=self.steps,
                generator=self._generator,
                **({} if plan is None else {"previous": plan, "max_guidance": max_guidance}),
            )
        actions = np.array(
            self.normalizer.unnormalize_action(normalised[0].float().cpu().numpy()), np.float32
        )
        if prefix is not None:
            # the committed actions come back exactly as given: normalise → unnormalise can move
            # them by a rounding step, and they have already been sent to the arms
            actions[: len(prefix)] = np.asarray(prefix, np.float32)
        return ActionChunk(np.ascontiguousarray(actions), t, self.dt)

    def _check(self, observation: Mapping) -> tuple[float, torch.Tensor, torch.Tensor]:
        missing = [k for k in ("images", "state", "t") if k not in observation]
        if missing:
            raise RobotStackError(f"observation lacks {', '.join(missing)}", hint="pass images, state and t")
        frames = observation["images"]
        absent = [c for c in self.spec.cameras if c not in frames]
        if absent:
            raise RobotStackError(
                f"observation has no image from camera {', '.join(absent)} "
                f"(policy cameras: {', '.join(self.spec.cameras)})",
                hint="deliver a frame from every camera the policy was trained with",
            )
        prepared = []
        for camera in self.spec.cameras:
            frame = np.asarray(frames[camera])
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise RobotStackError(
                    f"camera '{camera}': image is {frame.dtype} {frame.shape}, expected uint8 (H, W, 3)",
                    hint="pass RGB frames as captured",
                )
            resized = prepare_frame(frame, self.spec.image_size, self.spec.regions.get(camera))
            prepared.append(torch.from_numpy(resized).permute(2, 0, 1))
        state = np.asarray(observation["state"], dtype=np.float32)
        if state.shape != (self.spec.state_dim,):
            raise RobotStackError(
                f"state has shape {state.shape}, the policy expects ({self.spec.state_dim},) — "
                f"joints of {', '.join(self.spec.arms)} in that order",
                hint="check the rig with policy.check_rig(rig)",
            )
        if not np.isfinite(state).all():
            raise RobotStackError("state contains NaN or inf", hint="check the follower arm readings")
        normalised = torch.from_numpy(np.asarray(self.normalizer.state(state), dtype=np.float32))
        return float(observation["t"]), torch.stack(prepared).to(self.device), normalised.to(self.device)

    def _pick_history(self, t: float) -> list[tuple[float, torch.Tensor, torch.Tensor]]:
        """For each of the n_obs steps (oldest first), the latest observation at or before its time;
        the oldest one held where the history is shorter (as at the start of an episode)."""
        tolerance = 0.5 / self.spec.control_rate_hz
        history = list(self._history)
        picks = []
        for k in range(self.n_obs_steps - 1, -1, -1):
            target = t - k * self.dt + tolerance
            earlier = [h for h in history if h[0] <= target]
            picks.append(earlier[-1] if earlier else history[0])
        return picks

    def _prefix(
        self, prefix: np.ndarray | None, what: str = "prefix", min_length: int = 0
    ) -> torch.Tensor | None:
        if prefix is None:
            return None
        if not self.supports_prefix:
            raise RobotStackError(
                f"ACT cannot take a {what} of committed actions",
                hint="use temporal ensembling with ACT; prefix inpainting needs a diffusion or flow policy",
            )
        prefix = np.asarray(prefix, dtype=np.float32)
        if (
            prefix.ndim != 2
            or prefix.shape[1] != self.spec.action_dim
            or not min_length <= len(prefix) <= self.chunk_length
        ):
            raise RobotStackError(
                f"{what} has shape {prefix.shape}, expected (d, {self.spec.action_dim}) "
                f"with {min_length} ≤ d ≤ {self.chunk_length}",
                hint="pass the committed actions from t_obs on",
            )
        if not np.isfinite(prefix).all():
            raise RobotStackError(f"{what} contains NaN or inf", hint="pass the actions actually committed")
        return torch.from_numpy(self.normalizer.action(prefix)).to(self.device)[None]
