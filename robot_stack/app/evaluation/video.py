"""Rollout videos: the policy's cameras side by side, one video per episode.

MP4 through OpenCV's VideoWriter (mp4v) where the build can encode it; otherwise a folder of JPEG
frames, so a missing codec never costs an evaluation.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

MAX_TILE_HEIGHT = 240


class RolloutVideo:
    def __init__(self, path: Path, fps: float):
        self.path = Path(path)  # .mp4; the JPEG fallback uses the same name without the suffix
        self.fps = fps
        self._writer: cv2.VideoWriter | None = None
        self._jpeg_dir: Path | None = None
        self.frames = 0

    @property
    def written(self) -> Path:
        return self._jpeg_dir if self._jpeg_dir is not None else self.path

    def add(self, frames: list[np.ndarray], caption: str = "") -> None:
        image = tile(frames)
        if caption:
            scale = max(0.25, image.shape[0] / 600)
            origin = (4, int(6 + 28 * scale))
            cv2.putText(
                image, caption, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA
            )
        bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
        if self._writer is None and self._jpeg_dir is None:
            self._open(bgr.shape[1], bgr.shape[0])
        if self._writer is not None:
            self._writer.write(bgr)
        else:
            cv2.imwrite(str(self._jpeg_dir / f"{self.frames:05d}.jpg"), bgr)
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
        if writer.isOpened():
            self._writer = writer
        else:
            writer.release()
            self._jpeg_dir = self.path.with_suffix("")
            self._jpeg_dir.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None


def tile(frames: list[np.ndarray]) -> np.ndarray:
    """Frames side by side, each scaled to one height (at most MAX_TILE_HEIGHT); width kept even."""
    height = min(MAX_TILE_HEIGHT, min(f.shape[0] for f in frames))
    scaled = [
        f if f.shape[0] == height else cv2.resize(f, (round(f.shape[1] * height / f.shape[0]), height))
        for f in frames
    ]
    image = np.ascontiguousarray(np.concatenate(scaled, axis=1))
    h, w = image.shape[:2]
    return image[: h - h % 2, : w - w % 2].copy()  # encoders want even sizes
