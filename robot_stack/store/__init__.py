"""The episode store (contract): demonstrations as zarr v3 episodes, written crash-safe, read lazily.

docs/episode_store.md describes the layout, the guarantees and the measured figures.
"""

from robot_stack.store.align import align_frames, frame_age
from robot_stack.store.dataset import Dataset
from robot_stack.store.episode import CameraStream, Episode, Frames
from robot_stack.store.jpeg import JpegCodec, decode_jpeg
from robot_stack.store.leftovers import Leftover
from robot_stack.store.writer import EpisodeWriter, WriterStats

__all__ = [
    "CameraStream",
    "Dataset",
    "Episode",
    "EpisodeWriter",
    "Frames",
    "JpegCodec",
    "Leftover",
    "WriterStats",
    "align_frames",
    "decode_jpeg",
    "frame_age",
]
