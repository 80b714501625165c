"""Frames ⇄ JPEG files, through OpenCV (libjpeg-turbo).

Chosen by measurement (bench/store.py, docs/episode_store.md): on camera-like frames JPEG at quality
85 with full-resolution chroma (4:4:4) and optimised Huffman tables keeps PSNR ≥ 40 dB at about
20 GB per hour of four 480×640 cameras at 30 fps, encodes at several hundred frames per second per
core and decodes as fast. JPEG XL and AVIF are 30–40 % smaller but encode 5–10× slower, which four
cameras on a two-core robot PC cannot afford. 4:2:0 chroma smears coloured edges (−3 dB on
saturated objects) for only 25 % fewer bytes.

Each stored frame is a complete, standard JPEG file, so any decoder (OpenCV, Pillow, a browser)
reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from robot_stack.errors import RobotStackError

DEFAULT_QUALITY = 85
_SAMPLING = {"4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, "4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420}
_READ_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV ≥ 4.10 decodes straight to RGB


@dataclass(frozen=True)
class JpegCodec:
    quality: int = DEFAULT_QUALITY
    subsampling: str = "4:4:4"

    def __post_init__(self):
        if not 1 <= self.quality <= 100:
            raise RobotStackError(
                f"JPEG quality {self.quality} is out of range", hint="use 1..100 (85 is the default)"
            )
        if self.subsampling not in _SAMPLING:
            raise RobotStackError(
                f"unknown chroma subsampling '{self.subsampling}'", hint=f"use one of: {', '.join(_SAMPLING)}"
            )

    def encode(self, rgb: np.ndarray) -> bytes:
        """(H, W, 3) uint8 RGB → the bytes of a JPEG file. Releases the GIL while it works."""
        # OpenCV's encoders take BGR. A strided view (a driver's rgb[..., ::-1]) is made contiguous
        # here, in the encoder thread, rather than trusting every OpenCV build to accept it
        bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
        params = [
            cv2.IMWRITE_JPEG_QUALITY, self.quality,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING[self.subsampling],
            cv2.IMWRITE_JPEG_OPTIMIZE, 1,
        ]  # fmt: skip
        ok, buf = cv2.imencode(".jpg", bgr, params)
        if not ok:
            raise RobotStackError(
                "OpenCV could not encode a frame as JPEG", hint="check the frame is (H, W, 3) uint8"
            )
        return buf.tobytes()

    def attrs(self) -> dict:
        """What a reader needs to know about the stored frames, kept in the camera group's attrs."""
        return {"codec": "jpeg", "quality": self.quality, "subsampling": self.subsampling, "color": "RGB"}


def decode_jpeg(data) -> np.ndarray:
    """The bytes of a JPEG file (bytes or a uint8 array) → (H, W, 3) uint8 RGB."""
    buf = np.frombuffer(data, np.uint8) if isinstance(data, bytes | bytearray | memoryview) else data
    if _READ_RGB is not None:
        img = cv2.imdecode(buf, _READ_RGB)
    else:
        img = cv2.imdecode(buf, cv2.IMREAD_COLOR)
        img = None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img is None:
        raise RobotStackError(
            "a stored frame is not a readable JPEG file", hint="the dataset may be damaged; run an audit"
        )
    return img
