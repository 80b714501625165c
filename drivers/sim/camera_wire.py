"""How a rendered frame travels from the simulator to a SimCamera: a ZMQ multipart message
[camera name, JSON header, raw RGB bytes]. No pickle; the receiver checks sizes before use."""

from __future__ import annotations

import json

import numpy as np

DEFAULT_CAMERA_ENDPOINT = "ipc:///tmp/robot_stack/sim-cameras.sock"


def encode_frame(
    camera: str, image: np.ndarray, t_host: float, t_device: float, sequence: int
) -> list[bytes]:
    header = {"t_host": t_host, "t_device": t_device, "sequence": sequence, "shape": list(image.shape)}
    return [camera.encode(), json.dumps(header).encode(), np.ascontiguousarray(image).tobytes()]


def decode_frame(parts: list[bytes], width: int, height: int) -> tuple[np.ndarray, dict]:
    """The image and header of one message; ValueError when it is not a well-formed frame of this size."""
    if len(parts) != 3:
        raise ValueError(f"a frame message has 3 parts, got {len(parts)}")
    header = json.loads(parts[1])
    if not isinstance(header, dict) or header.get("shape") != [height, width, 3]:
        raise ValueError(
            f"frame shape {header.get('shape') if isinstance(header, dict) else '?'} "
            f"is not the configured {height}x{width}x3"
        )
    if len(parts[2]) != height * width * 3:
        raise ValueError(f"frame has {len(parts[2])} bytes, expected {height * width * 3}")
    for key in ("t_host", "t_device", "sequence"):
        if not isinstance(header.get(key), int | float):
            raise ValueError(f"frame header lacks a numeric {key!r}")
    return np.frombuffer(parts[2], dtype=np.uint8).reshape(height, width, 3), header
