"""Named starting points (`test`, `sim-cpu`, `paper`) and `--set key=value` overrides.

- `test`: trains in seconds on tiny images; for tests and smoke runs, not for a robot.
- `sim-cpu`: sized for a 2-core CPU and about an hour of training on the simulated rig (one camera,
  reduced resolution and widths). Measured on transfer_cube (docs/policies.md, "Success rates"):
  ACT reaches 32–72 % in its hour; Diffusion Policy 0 % (it has not fitted its data in an hour).
  On insertion ACT reaches 8–18 % (best and last checkpoint of one run).
- `paper`: the published recipes (ACT: Zhao et al. 2023; Diffusion Policy CNN: Chi et al. 2023),
  trained from scratch because no pretrained backbone ships with the stack.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ValidationError

from policies.config import (
    ACTConfig,
    BackboneConfig,
    DataConfig,
    DiffusionConfig,
    PolicyConfig,
    PolicyKind,
    TrainConfig,
)
from robot_stack.errors import RobotStackError

PRESETS = ("test", "sim-cpu", "paper")
POLICIES: tuple[PolicyKind, ...] = ("act", "diffusion", "flow")

# Diffusion Policy ran its real-robot policy at 10 Hz; on a 50 Hz rig that is every 5th tick, which also
# makes a 16-step horizon cover 1.6 s rather than 0.32 s.
_DP_STRIDE = 5

# The middle of the top camera's view (top, left, height, width), where the cube lies and the hands
# meet: twice the pixels per centimetre of the whole frame at the same cost (the 4 cm cube: 2 → 4
# pixels across at 96×128). Both methods' `sim-cpu` presets read it.
_TOP_CAMERA_MIDDLE = (0.25, 0.25, 0.5, 0.5)

_TEST_TRAIN = TrainConfig(
    steps=30,
    batch_size=4,
    lr=1e-3,
    weight_decay=1e-4,
    warmup_steps=2,
    log_every=1,
    val_every=10,
    val_batches=2,
    checkpoint_every=10,
    threads=1,
    grad_clip=10.0,
)


def _act(preset: str) -> PolicyConfig:
    if preset == "test":
        return PolicyConfig(
            policy="act",
            preset=preset,
            backbone=BackboneConfig(width=8, norm="group", share=True),
            data=DataConfig(image_size=(48, 64), crop_ratio=0.9, color_jitter=0.1, normalization="meanstd"),
            act=ACTConfig(
                chunk_size=8,
                hidden_dim=32,
                n_heads=4,
                ff_dim=64,
                enc_layers=2,
                dec_layers=3,
                vae_enc_layers=1,
                latent_dim=4,
                kl_weight=10.0,
                dropout=0.0,
            ),
            train=_TEST_TRAIN,
        )
    if preset == "sim-cpu":
        # Measured on transfer_cube (docs/policies.md, "Success rates"). One top camera, as ACT's
        # simulated tasks used, its middle quarter at 96×128; a 16× feature grid with pixel coordinates,
        # so a 4-pixel cube can be located; no random crop (shifting a fixed camera's view moves the
        # table under the cube).
        # The transformer is slimmed where a CPU step paid for it (the 100-query decoder, the CVAE over
        # 100 actions at width 256, dropout's masks): ≈ 4× the samples per second of chunk 100 at width 256.
        return PolicyConfig(
            policy="act",
            preset=preset,
            backbone=BackboneConfig(width=32, norm="group", share=True, stages=3, coords=True),
            data=DataConfig(
                image_size=(96, 128),
                crop_ratio=1.0,
                color_jitter=0.0,
                cameras=["cam_high"],
                regions={"cam_high": _TOP_CAMERA_MIDDLE},
                # the policy must read the cameras, not identify the demonstration by its joint path
                state_noise=0.2,
                trim_idle_start=True,
                normalization="meanstd",
            ),
            act=ACTConfig(
                chunk_size=50,
                hidden_dim=128,
                n_heads=4,
                ff_dim=512,
                enc_layers=4,
                dec_layers=4,
                vae_enc_layers=1,
                latent_dim=32,
                kl_weight=10.0,
                dropout=0.0,
            ),
            # A higher rate than the paper's 1e-5: an hour on a CPU is ≈ 14 k steps, not 100 k.
            train=TrainConfig(
                steps=13500,
                batch_size=16,
                lr=1e-4,
                backbone_lr=1e-4,
                weight_decay=1e-4,
                warmup_steps=200,
                schedule="cosine",
                log_every=20,
                val_every=500,
                checkpoint_every=500,
                threads=2,
                time_budget_min=60.0,
            ),
        )
    return PolicyConfig(
        policy="act",
        preset=preset,
        backbone=BackboneConfig(width=64, norm="group", share=True),
        data=DataConfig(image_size=(480, 640), crop_ratio=1.0, normalization="meanstd"),
        act=ACTConfig(
            chunk_size=100,
            hidden_dim=512,
            n_heads=8,
            ff_dim=3200,
            enc_layers=4,
            dec_layers=7,
            vae_enc_layers=4,
            latent_dim=32,
            kl_weight=10.0,
            dropout=0.1,
        ),
        train=TrainConfig(
            steps=100_000,
            batch_size=8,
            lr=1e-5,
            backbone_lr=1e-5,
            weight_decay=1e-4,
            warmup_steps=0,
            schedule="constant",
            log_every=100,
            val_every=2000,
            checkpoint_every=2000,
        ),
    )


def _diffusion(policy: PolicyKind, preset: str) -> PolicyConfig:
    if preset == "test":
        return PolicyConfig(
            policy=policy,
            preset=preset,
            backbone=BackboneConfig(width=8, norm="group", share=False),
            data=DataConfig(image_size=(48, 64), crop_ratio=0.9, color_jitter=0.1, normalization="minmax"),
            diffusion=DiffusionConfig(
                n_obs_steps=2,
                horizon=8,
                n_action_steps=4,
                down_dims=(16, 32),
                kernel_size=3,
                n_groups=4,
                step_embed_dim=16,
                keypoints=4,
                train_steps=20,
                inference_steps=4,
                flow_steps=4,
            ),
            train=_TEST_TRAIN,
        )
    if preset == "sim-cpu":
        # The image and state settings ACT's runs measured on transfer_cube (see `_act`): the middle
        # quarter of the top camera, no random crop, the idle start trimmed, noisy state; three stages,
        # so the spatial softmax places its keypoints on a 6×8 grid rather than 3×4.
        return PolicyConfig(
            policy=policy,
            preset=preset,
            backbone=BackboneConfig(width=32, norm="group", share=True, stages=3),
            data=DataConfig(
                image_size=(96, 128),
                crop_ratio=1.0,
                color_jitter=0.0,
                cameras=["cam_high"],
                regions={"cam_high": _TOP_CAMERA_MIDDLE},
                state_noise=0.1,  # min-max units are about twice ACT's standard deviations
                trim_idle_start=True,
                stride=_DP_STRIDE,
                normalization="minmax",
            ),
            diffusion=DiffusionConfig(
                n_obs_steps=2,
                horizon=16,
                n_action_steps=8,
                down_dims=(128, 256, 512),
                kernel_size=5,
                n_groups=8,
                step_embed_dim=64,
                keypoints=32,
                train_steps=100,
                inference_steps=10,
                flow_steps=10,
            ),
            train=TrainConfig(
                steps=7000,
                batch_size=32,
                lr=1e-4,
                weight_decay=1e-6,
                betas=(0.95, 0.999),
                warmup_steps=200,
                schedule="cosine",
                log_every=20,
                val_every=500,
                checkpoint_every=500,
                threads=2,
                time_budget_min=60.0,
            ),
        )
    return PolicyConfig(
        policy=policy,
        preset=preset,
        backbone=BackboneConfig(width=64, norm="group", share=False),
        data=DataConfig(image_size=(240, 320), crop_ratio=0.9, stride=_DP_STRIDE, normalization="minmax"),
        diffusion=DiffusionConfig(
            n_obs_steps=2,
            horizon=16,
            n_action_steps=8,
            down_dims=(256, 512, 1024),
            kernel_size=5,
            n_groups=8,
            step_embed_dim=128,
            keypoints=32,
            train_steps=100,
            inference_steps=10,
            flow_steps=10,
        ),
        train=TrainConfig(
            steps=200_000,
            batch_size=64,
            lr=1e-4,
            weight_decay=1e-6,
            betas=(0.95, 0.999),
            warmup_steps=500,
            schedule="cosine",
            log_every=100,
            val_every=2000,
            checkpoint_every=2000,
        ),
    )


def make_config(
    policy: str, preset: str = "sim-cpu", overrides: list[str] | tuple[str, ...] = ()
) -> PolicyConfig:
    """The preset for `policy`, with `key=value` overrides applied (e.g. `act.hidden_dim=256`)."""
    if policy not in POLICIES:
        raise RobotStackError(f"unknown policy '{policy}'", hint=f"use one of: {', '.join(POLICIES)}")
    if preset not in PRESETS:
        raise RobotStackError(f"unknown preset '{preset}'", hint=f"use one of: {', '.join(PRESETS)}")
    config = _act(preset) if policy == "act" else _diffusion(policy, preset)
    return apply_overrides(config, overrides)


def apply_overrides(config: PolicyConfig, overrides: list[str] | tuple[str, ...]) -> PolicyConfig:
    if not overrides:
        return config
    data = config.model_dump(mode="json")
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise RobotStackError(f"override '{item}' is not key=value", hint="e.g. --set train.lr=1e-4")
        _set_path(config, data, key, _parse_value(raw.strip()))
    try:
        return PolicyConfig.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{'.'.join(str(p) for p in err['loc']) or '(config)'}: {err['msg']}" for err in exc.errors()
        ]
        raise RobotStackError(
            "the overrides make an invalid configuration:\n  " + "\n  ".join(lines),
            hint="fix the --set values named above",
        ) from None


def _parse_value(raw: str) -> Any:
    if raw.lower() in ("none", "null"):
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw  # a bare word such as `group` or `cosine`


def _set_path(config: PolicyConfig, data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    if parts[0] == "policy":
        raise RobotStackError("the method cannot be changed with --set", hint="choose it with --policy")
    model: BaseModel | None = config
    node = data
    for depth, part in enumerate(parts):
        fields = type(model).model_fields
        if part not in fields:
            where = ".".join(parts[:depth]) or "the top level"
            raise RobotStackError(
                f"unknown setting '{key}': {where} has no '{part}'",
                hint=f"settings there: {', '.join(sorted(fields))}",
            )
        if depth == len(parts) - 1:
            node[part] = value
            return
        child = getattr(model, part)
        if child is None:
            raise RobotStackError(
                f"setting '{key}' does not apply to policy '{config.policy}'",
                hint="settings under act.* are for --policy act, under diffusion.* for diffusion and flow",
            )
        if not isinstance(child, BaseModel):
            raise RobotStackError(
                f"'{'.'.join(parts[: depth + 1])}' is a value, not a section",
                hint=f"use --set {'.'.join(parts[: depth + 1])}=VALUE",
            )
        model, node = child, node[part]
