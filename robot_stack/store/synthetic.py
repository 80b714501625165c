"""Camera-like synthetic frames and joint streams, for tests and benches of anything that stores them.

The frames are built to stress an image codec the way a lab camera does: a wood-grain table, a wall
with a soft light gradient, printed boxes with text and sharp edges, two grey arms that move with
time, and optional sensor noise. Pure noise or flat colour would make any codec look either hopeless
or perfect; this sits where real footage does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from robot_stack.rig import parse_rig


class SyntheticCamera:
    """Frames of one fixed scene seen by one camera; `frame(t)` moves the arms with time `t` (s)."""

    def __init__(self, height: int = 480, width: int = 640, seed: int = 0, noise_sigma: float = 0.0):
        self.height, self.width = height, width
        self.noise_sigma = noise_sigma
        self._rng = np.random.default_rng(seed)
        self._background = _background(height, width, self._rng)
        self._phase = self._rng.uniform(0, 2 * np.pi, size=4)
        # a few precomputed noise fields, cycled: drawing fresh noise costs more than the whole frame
        self._noise = [
            # rounded, not truncated: truncation towards zero would leave σ = 2 noise at about 1.7
            np.clip(np.rint(self._rng.normal(0.0, noise_sigma, size=(height, width, 3))), -127, 127).astype(
                np.int16
            )
            for _ in range(3 if noise_sigma > 0 else 0)
        ]
        self._count = 0

    def frame(self, t: float = 0.0) -> np.ndarray:
        """(height, width, 3) uint8 RGB."""
        img = self._background.copy()
        h, w = self.height, self.width
        for side, (x0, phase) in enumerate(((0.0, self._phase[0]), (1.0, self._phase[1]))):
            base = (int(x0 * w), int(0.62 * h))
            a1 = 0.35 * np.sin(1.3 * t + phase) + (-0.35 if side == 0 else np.pi + 0.35)
            a2 = a1 + 0.6 * np.sin(0.9 * t + self._phase[2 + side]) * (1 if side == 0 else -1)
            elbow = (base[0] + int(0.28 * w * np.cos(a1)), base[1] - int(0.28 * h * np.sin(a1)))
            hand = (elbow[0] + int(0.22 * w * np.cos(a2)), elbow[1] + int(0.12 * h * np.sin(a2)))
            for p, q, thick in ((base, elbow, 0.06), (elbow, hand, 0.045)):
                cv2.line(img, p, q, (70, 70, 74), int(thick * h) + 4, cv2.LINE_AA)
                cv2.line(img, p, q, (170, 172, 176), int(thick * h), cv2.LINE_AA)
                cv2.line(img, p, q, (215, 218, 222), max(2, int(thick * h) // 4), cv2.LINE_AA)
            cv2.circle(img, elbow, int(0.04 * h), (40, 40, 44), -1, cv2.LINE_AA)
            cv2.circle(img, hand, int(0.025 * h), (25, 25, 28), -1, cv2.LINE_AA)
        if self._noise:
            self._count += 1
            noise = self._noise[self._count % len(self._noise)]
            img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        return img


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    horizon = int(0.38 * h)
    # wall: warm light falling off from a lamp at the top left
    light = 1.0 - 0.45 * np.hypot((xx - 0.2 * w) / w, (yy + 0.3 * h) / h)
    img = np.empty((h, w, 3), np.float32)
    img[...] = np.array([200, 196, 186], np.float32) * light[..., None]
    # table: wood grain (warped stripes) in perspective, darker towards the camera
    depth = np.maximum(yy - horizon, 1.0) / (h - horizon)
    warp = 6.0 * np.sin(yy / 17.0) + 3.0 * np.sin(xx / 41.0 + yy / 29.0)
    u = (xx - w / 2) / (0.3 + depth)
    grain = 0.5 + 0.5 * np.sin((u + warp) / 3.1) * np.sin((u + 2 * warp) / 11.0)
    wood = np.stack([150 + 50 * grain, 95 + 35 * grain, 55 + 20 * grain], axis=-1) * (
        1.1 - 0.3 * depth[..., None]
    )
    table = yy >= horizon
    img[table] = wood[table]
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.line(img, (0, horizon), (w, horizon), (60, 45, 30), max(2, h // 160), cv2.LINE_AA)
    # printed boxes: solid faces, shaded sides, labels with text and a checker patch
    for _ in range(4):
        bw, bh = int(rng.uniform(0.08, 0.16) * w), int(rng.uniform(0.08, 0.14) * h)
        x, y = int(rng.uniform(0.15, 0.75) * w), int(rng.uniform(0.45, 0.85) * h)
        colour = tuple(int(c) for c in rng.integers(30, 230, size=3))
        dark = tuple(int(c * 0.6) for c in colour)
        side = np.array(
            [
                [x + bw, y],
                [x + bw + bw // 4, y - bh // 4],
                [x + bw + bw // 4, y + bh - bh // 4],
                [x + bw, y + bh],
            ]
        )
        top = np.array([[x, y], [x + bw // 4, y - bh // 4], [x + bw + bw // 4, y - bh // 4], [x + bw, y]])
        cv2.fillConvexPoly(img, side, dark, cv2.LINE_AA)
        cv2.fillConvexPoly(img, top, tuple(min(255, int(c * 1.2)) for c in colour), cv2.LINE_AA)
        cv2.rectangle(img, (x, y), (x + bw, y + bh), colour, -1, cv2.LINE_AA)
        cv2.putText(
            img,
            "ROBOT",
            (x + 3, y + bh // 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            bw / 160,
            (250, 250, 250),
            1,
            cv2.LINE_AA,
        )
        cell = max(2, bw // 16)
        for i in range(4):
            for j in range(4):
                if (i + j) % 2 == 0:
                    p = (x + 3 + i * cell, y + bh - 4 - (j + 1) * cell)
                    cv2.rectangle(img, p, (p[0] + cell, p[1] + cell), (15, 15, 15), -1)
    return cv2.GaussianBlur(img, (3, 3), 0.6)  # a real lens never draws a perfect step


JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate", "gripper")


def synthetic_rig(
    cameras=("cam_high", "cam_wrist"),
    height: int = 96,
    width: int = 128,
    fps: int = 30,
    control_hz: float = 50.0,
    name: str = "synthetic",
):
    """A valid one-pair rig with small simulated cameras: enough to record episodes without hardware."""

    def arm(role: str, model: str) -> dict:
        motors = {joint: {"id": i + 1, "model": model} for i, joint in enumerate(JOINTS)}
        return {
            "role": role,
            "side": "center",
            "port": f"/tmp/robot_stack/synthetic_{role}",
            "gripper": "gripper",
            "motors": motors,
        }

    data = {
        "name": name,
        "backend": "sim",
        "control_rate_hz": control_hz,
        "arms": {"leader": arm("leader", "xl430-w250"), "follower": arm("follower", "xm430-w350")},
        "pairs": [{"leader": "leader", "follower": "follower"}],
        "cameras": {
            c: {"driver": "sim", "device": "top", "width": width, "height": height, "fps": fps}
            for c in cameras
        },
    }
    return parse_rig(json.dumps(data), Path(f"<{name} rig>"))


@dataclass
class Fed:
    """What feed_synthetic handed to the writer, to compare with what comes back."""

    tick_t: np.ndarray
    observation: np.ndarray
    action: np.ndarray
    frame_t: dict[str, np.ndarray]
    frames: dict[str, list[np.ndarray]]


def feed_synthetic(
    writer,
    seconds: float,
    rig,
    *,
    seed: int = 0,
    jitter_s: float = 0.002,
    start: float = 100.0,
    drop: dict[str, set[int]] | None = None,
    keep_frames: bool = True,
    noise_sigma: float = 0.0,
) -> Fed:
    """Feed `seconds` of ticks and frames at the rig's native rates, in capture-time order, with jitter.

    `drop[camera]` lists frame numbers the camera 'loses' (never delivered), as a real USB camera does.
    """
    rng = np.random.default_rng(seed)
    drop = drop or {}
    n = int(seconds * rig.control_rate_hz)
    tick_t = start + np.arange(n) / rig.control_rate_hz + rng.uniform(0, jitter_s, n)
    phase = np.linspace(0, 2 * np.pi, len(JOINTS), endpoint=False)
    wave = np.sin(0.7 * (tick_t[:, None] - start) + phase).astype(np.float32)
    observation, action = wave, (wave + 0.01).astype(np.float32)
    events = [(t, 0, "tick", i) for i, t in enumerate(tick_t)]
    cams = {}
    for c, (name, spec) in enumerate(rig.cameras.items()):
        m = int(seconds * spec.fps)
        t = start + 0.004 * (c + 1) + np.arange(m) / spec.fps + rng.uniform(0, jitter_s, m)
        keep = np.array([i not in drop.get(name, ()) for i in range(m)], bool)
        cams[name] = (
            SyntheticCamera(spec.height, spec.width, seed=seed + c, noise_sigma=noise_sigma),
            t[keep],
        )
        events += [(ti, 1, name, i) for i, ti in enumerate(t[keep])]
    frames: dict[str, list[np.ndarray]] = {name: [] for name in cams}
    for t, _, what, i in sorted(events):
        if what == "tick":
            writer.add_tick(t, observation[i], action[i], intervention=bool(i % 50 == 0))
        else:
            img = cams[what][0].frame(t - start)
            if keep_frames:
                frames[what].append(img)
            writer.add_frame(what, t, img)
    return Fed(tick_t, observation, action, {k: v[1] for k, v in cams.items()}, frames)
