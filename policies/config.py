"""Policy and training configuration: one pydantic tree, stored as JSON in every checkpoint.

A `PolicyConfig` names the method (`act`, `diffusion`, `flow`) and carries only the section that method
uses, so a checkpoint's config says exactly what was trained. Presets live in `policies.presets`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PolicyKind = Literal["act", "diffusion", "flow"]
Region = tuple[float, float, float, float]  # (top, left, height, width) as fractions of a frame


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BackboneConfig(Section):
    """ResNet-18 trained from scratch (no pretrained weights ship with the stack)."""

    width: int = Field(default=64, ge=4)  # channels of the first stage; 64 is the published ResNet-18
    # group: GroupNorm (Diffusion Policy's choice when training from scratch; batch-size independent).
    # batch: plain BatchNorm. frozen_batch: fixed affine, only meaningful with weights loaded from elsewhere.
    norm: Literal["group", "batch", "frozen_batch"] = "group"
    share: bool = True  # one backbone for all cameras, or one per camera
    stages: int = Field(
        default=4, ge=2, le=4
    )  # residual stages used: 4 is the full network (32× smaller map), 3 → 16×
    coords: bool = False  # append pixel x, y to the colour channels (CoordConv): features that know where


class DataConfig(Section):
    image_size: tuple[int, int] = (96, 128)  # (H, W) frames are resized to before cropping
    crop_ratio: float = Field(
        default=1.0, gt=0.1, le=1.0
    )  # random crop at training, centre crop at inference
    color_jitter: float = Field(
        default=0.0, ge=0.0, le=0.5
    )  # max relative brightness/contrast/saturation change
    cameras: list[str] | None = None  # a subset of the dataset's cameras, in this order; None: all of them
    # camera → (top, left, height, width), fractions of its frame cut out before resizing: a wide view's
    # pixels spent where the task happens (cameras not named keep their whole frame)
    regions: dict[str, Region] = {}
    stride: int = Field(default=1, ge=1)  # control ticks per policy step (chunk dt = stride / control rate)
    # std of Gaussian noise added to the normalised joint state at training: a policy that may not trust
    # the state exactly has to read the cameras too, and a closed loop's small drifts stay in its data
    state_noise: float = Field(default=0.0, ge=0.0, le=1.0)
    # drop the still ticks before each episode's first movement (see policies.dataset)
    trim_idle_start: bool = False
    normalization: Literal["minmax", "meanstd"] = "meanstd"
    val_fraction: float = Field(default=0.1, ge=0.0, lt=1.0)  # fraction of episodes held out
    cache_frames: bool = True  # keep resized frames in memory after first decode

    @field_validator("regions")
    @classmethod
    def _regions_inside_frame(cls, regions: dict[str, Region]) -> dict[str, Region]:
        for camera, (top, left, height, width) in regions.items():
            if min(top, left) < 0 or min(height, width) <= 0 or top + height > 1 or left + width > 1:
                raise ValueError(
                    f"regions.{camera} = {(top, left, height, width)}: (top, left, height, width) must be "
                    "fractions of the frame with the region inside it"
                )
        return regions

    @property
    def crop_size(self) -> tuple[int, int]:
        h, w = self.image_size
        return max(8, round(h * self.crop_ratio)), max(8, round(w * self.crop_ratio))


class ACTConfig(Section):
    chunk_size: int = Field(default=100, ge=1)
    hidden_dim: int = Field(default=512, ge=8)
    n_heads: int = Field(default=8, ge=1)
    ff_dim: int = Field(default=3200, ge=8)
    enc_layers: int = Field(default=4, ge=1)
    dec_layers: int = Field(default=7, ge=1)
    vae_enc_layers: int = Field(default=4, ge=1)
    latent_dim: int = Field(default=32, ge=1)
    kl_weight: float = Field(default=10.0, ge=0.0)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide(self) -> ACTConfig:
        if self.hidden_dim % self.n_heads:
            raise ValueError(
                f"act.hidden_dim {self.hidden_dim} must be a multiple of act.n_heads {self.n_heads}"
            )
        return self


class DiffusionConfig(Section):
    n_obs_steps: int = Field(default=2, ge=1)
    horizon: int = Field(default=16, ge=2)
    n_action_steps: int = Field(default=8, ge=1)
    down_dims: tuple[int, ...] = (256, 512, 1024)
    kernel_size: int = Field(default=5, ge=1)
    n_groups: int = Field(default=8, ge=1)
    step_embed_dim: int = Field(default=128, ge=4)
    keypoints: int = Field(default=32, ge=1)  # spatial-softmax keypoints per camera
    train_steps: int = Field(default=100, ge=2)  # DDPM noise levels
    inference_steps: int = Field(default=10, ge=1)  # DDIM steps
    clip_sample: float | None = (
        1.0  # clamp predicted clean actions (min-max normalised data lives in [-1, 1])
    )
    flow_steps: int = Field(default=10, ge=1)  # Euler steps for the flow-matching sampler
    ema_power: float = Field(default=0.75, gt=0.0)
    ema_max_decay: float = Field(default=0.9999, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _shapes(self) -> DiffusionConfig:
        levels = len(self.down_dims)
        if levels < 1:
            raise ValueError("diffusion.down_dims needs at least one width")
        if self.horizon % (2 ** (levels - 1)):
            raise ValueError(
                f"diffusion.horizon {self.horizon} must be divisible by {2 ** (levels - 1)} "
                f"(the U-Net halves it {levels - 1} times)"
            )
        if self.n_obs_steps - 1 + self.n_action_steps > self.horizon:
            raise ValueError(
                f"diffusion.n_obs_steps - 1 + n_action_steps = {self.n_obs_steps - 1 + self.n_action_steps} "
                f"exceeds diffusion.horizon {self.horizon}"
            )
        if any(d % self.n_groups for d in self.down_dims):
            raise ValueError(
                f"every diffusion.down_dims entry must be a multiple of n_groups {self.n_groups}"
            )
        if self.inference_steps > self.train_steps:
            raise ValueError("diffusion.inference_steps cannot exceed diffusion.train_steps")
        return self


class TrainConfig(Section):
    steps: int = Field(default=100_000, ge=1)
    batch_size: int = Field(default=8, ge=1)
    lr: float = Field(default=1e-5, gt=0.0)
    backbone_lr: float | None = None  # None: same as lr
    weight_decay: float = Field(default=1e-4, ge=0.0)
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = Field(default=500, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    grad_clip: float | None = 10.0
    log_every: int = Field(default=50, ge=1)
    val_every: int = Field(default=1000, ge=1)
    val_batches: int = Field(default=8, ge=1)
    checkpoint_every: int = Field(default=1000, ge=1)
    seed: int = 0
    num_workers: int = Field(default=0, ge=0)
    device: str = "auto"  # auto: cuda when available (or the local rank's GPU under torchrun), else cpu
    threads: int | None = None  # torch CPU threads; None leaves torch's default
    time_budget_min: float | None = Field(default=None, gt=0.0)  # stop (and checkpoint) after this long

    def budget_overrides(self, minutes: float) -> list[str]:
        """Overrides for a `minutes` time budget, with the steps scaled from this budget's so the
        learning-rate schedule still runs its course instead of being cut off at a high rate."""
        steps = self.steps
        if self.time_budget_min:
            steps = max(1, round(steps * minutes / self.time_budget_min))
        return [f"train.time_budget_min={minutes}", f"train.steps={steps}"]


class PolicyConfig(Section):
    policy: PolicyKind
    preset: str = "custom"
    backbone: BackboneConfig = BackboneConfig()
    data: DataConfig = DataConfig()
    act: ACTConfig | None = None
    diffusion: DiffusionConfig | None = None
    train: TrainConfig = TrainConfig()

    @model_validator(mode="after")
    def _one_method(self) -> PolicyConfig:
        if self.policy == "act":
            if self.act is None:
                raise ValueError("policy 'act' needs an act section")
            if self.diffusion is not None:
                raise ValueError("policy 'act' takes no diffusion section")
        else:
            if self.diffusion is None:
                raise ValueError(f"policy '{self.policy}' needs a diffusion section")
            if self.act is not None:
                raise ValueError(f"policy '{self.policy}' takes no act section")
        return self

    @property
    def n_obs_steps(self) -> int:
        return 1 if self.act is not None else self.diffusion.n_obs_steps

    @property
    def horizon(self) -> int:
        """Action steps per training sample (from the first observation step)."""
        return self.act.chunk_size if self.act is not None else self.diffusion.horizon

    @property
    def chunk_length(self) -> int:
        """Actions a prediction hands to the executor, starting at the observation's tick."""
        return self.act.chunk_size if self.act is not None else self.diffusion.n_action_steps
