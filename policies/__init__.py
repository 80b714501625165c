"""ACT, Diffusion Policy and flow matching: configs, dataset view, training, checkpoints, inference.

The public surface (what the CLI and the deploy runtime use):

    make_config(policy, preset, overrides) -> PolicyConfig
    train(config, dataset: EpisodeSet, out_dir, resume=False) -> TrainResult
    Policy.load(path, device) -> Policy;  policy.predict(observation, prefix=None) -> ActionChunk
"""

from policies.config import PolicyConfig
from policies.episodes import Episode, EpisodeSet, MemoryEpisode
from policies.inference import ActionChunk, Policy
from policies.presets import make_config
from policies.spec import PolicySpec
from policies.trainer import TrainResult, train

__all__ = [
    "ActionChunk",
    "Episode",
    "EpisodeSet",
    "MemoryEpisode",
    "Policy",
    "PolicyConfig",
    "PolicySpec",
    "TrainResult",
    "make_config",
    "train",
]
