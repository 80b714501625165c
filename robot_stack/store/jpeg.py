"""Frames ⇄ JPEG files: Pillow (libjpeg-turbo) encodes with our quantisation tables, OpenCV decodes.

Chosen by measurement (bench/store.py, docs/episode_store.md). The default quantises every DCT
coefficient of every channel with the same step, 9 (`step`). libjpeg's own tables — what a quality
setting scales — are shaped for a person looking at a photo: coarse at high frequencies and in
chroma. The targets here are PSNR against the raw frame, which counts an error at any frequency and
in any colour alike, and a policy's network, which reads edges and texture rather than looking.
For mean squared error a uniform quantiser is the better spend of bits: against libjpeg quality 85
(4:4:4), the flat step 9 is about 8 % smaller on camera-like frames, with and without sensor noise,
at 0.6–1.2 dB more PSNR, and on the simulator's renders 5 % larger at 4.4 dB more. Still 4:4:4: chroma subsampling smears the edges of
coloured objects. `quality` selects libjpeg's tables instead (through OpenCV), as before.

Encoding goes into an in-memory file: Pillow runs its encoder without the interpreter lock only when
it writes to a file descriptor, and the encoder threads share the process with the 50 Hz loop.
Each stored frame is a complete baseline JPEG file (the tables travel in it), so any decoder reads it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image

from robot_stack.errors import RobotStackError

DEFAULT_STEP = 9
_SAMPLING = {"4:4:4": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, "4:2:0": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420}
_PIL_SAMPLING = {"4:4:4": 0, "4:2:0": 2}
_READ_RGB = getattr(cv2, "IMREAD_COLOR_RGB", None)  # OpenCV ≥ 4.10 decodes straight to RGB
_MAX_STEP = 255  # a baseline JPEG's 8-bit tables


@dataclass(frozen=True, kw_only=True)
class JpegCodec:
    step: int = DEFAULT_STEP  # the quantisation step of every coefficient (flat tables)
    quality: int | None = None  # 1..100: libjpeg's tables at this quality instead of flat ones
    subsampling: str = "4:4:4"

    def __post_init__(self):
        if self.quality is not None and not 1 <= self.quality <= 100:
            raise RobotStackError(
                f"JPEG quality {self.quality} is out of range",
                hint="use 1..100, or leave it unset for flat tables",
            )
        if self.quality is not None and self.step != DEFAULT_STEP:
            raise RobotStackError(
                "a JPEG quality and a quantisation step were both given",
                hint="quality picks libjpeg's tables, step the flat ones: give one",
            )
        if not 1 <= self.step <= _MAX_STEP:
            raise RobotStackError(
                f"JPEG quantisation step {self.step} is out of range",
                hint=f"use 1..{_MAX_STEP} (9 is the default)",
            )
        if self.subsampling not in _SAMPLING:
            raise RobotStackError(
                f"unknown chroma subsampling '{self.subsampling}'", hint=f"use one of: {', '.join(_SAMPLING)}"
            )

    def encode(self, rgb: np.ndarray) -> bytes:
        """(H, W, 3) uint8 RGB → the bytes of a JPEG file. Releases the interpreter lock while it works."""
        # a strided view (a driver's rgb[..., ::-1]) is made contiguous here, in the encoder thread
        rgb = np.ascontiguousarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise RobotStackError(
                f"cannot encode a frame of shape {rgb.shape} and type {rgb.dtype} as JPEG",
                hint="frames are (H, W, 3) uint8 RGB",
            )
        if self.quality is not None:
            return self._encode_libjpeg_tables(rgb)
        table = [self.step] * 64
        with _memory_file() as fh:
            Image.fromarray(rgb).save(
                fh, "JPEG", qtables=[table, table], subsampling=_PIL_SAMPLING[self.subsampling], optimize=True
            )
            fh.seek(0)
            return fh.read()

    def _encode_libjpeg_tables(self, rgb: np.ndarray) -> bytes:
        params = [
            cv2.IMWRITE_JPEG_QUALITY, self.quality,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR, _SAMPLING[self.subsampling],
            cv2.IMWRITE_JPEG_OPTIMIZE, 1,
        ]  # fmt: skip
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
        if not ok:
            raise RobotStackError(
                "OpenCV could not encode a frame as JPEG", hint="check the frame is (H, W, 3) uint8"
            )
        return buf.tobytes()

    def attrs(self) -> dict:
        """What a reader needs to know about the stored frames, kept in the camera group's attrs."""
        tables = {"quality": self.quality} if self.quality is not None else {"quantization_step": self.step}
        return {"codec": "jpeg", **tables, "subsampling": self.subsampling, "color": "RGB"}

    def settings(self) -> dict:
        """The constructor's arguments, to rebuild the codec in another process."""
        return asdict(self)


def _memory_file():
    try:
        fd = os.memfd_create("jpeg-frame", os.MFD_CLOEXEC)
    except (AttributeError, OSError):  # not Linux, or a sandbox without memfd: a real temporary file
        return tempfile.TemporaryFile()
    try:
        return os.fdopen(fd, "w+b")
    except BaseException:
        os.close(fd)
        raise


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
