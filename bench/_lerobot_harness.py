"""LeRobot's ACT and Diffusion Policy timed like ours: run by bench/policies.py in LeRobot's own
environment (scripts/setup_lerobot.sh), never imported by robot_stack.

    .venv-lerobot/bin/python bench/_lerobot_harness.py --plan plan.json --out result.json
    .venv-lerobot/bin/python bench/_lerobot_harness.py --check

The plan is a list of cases, each with the settings bench/policies.py matched to one of our
configurations. For each: training samples/s (forward, backward, gradient clipping, AdamW step on
fixed random batches; the data pipeline is not timed) and the latency of one chunk from a single
observation, as lists of seconds / milliseconds per timed repetition (`predict_action_chunk`; for Diffusion Policy `select_action` right after `reset()`, which
fills the observation queue and samples one chunk). Only torch and LeRobot are imported here.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def _import_lerobot():
    """torchvision's compiled operators (nms, roi_align, ...) are built against CUDA and do not load
    with the CPU torch wheel; torchvision then fails at import while registering their fake (meta)
    kernels. Its pure-Python models need none of those operators, so skip the registrations of
    operators that do not exist, then import."""
    import torch
    import torch.library

    original = torch.library.register_fake

    def register_fake(op, *args, **kwargs):
        if isinstance(op, str) and op.startswith("torchvision::"):
            name = op.split("::", 1)[1].split(".")[0]
            try:
                getattr(torch.ops.torchvision, name)
            except (AttributeError, RuntimeError):
                return lambda fn=None, *a, **k: fn if fn is not None else (lambda f: f)
        return original(op, *args, **kwargs)

    torch.library.register_fake = register_fake
    try:
        import torchvision  # noqa: F401
        from lerobot.configs.types import FeatureType, PolicyFeature
        from lerobot.policies.act.configuration_act import ACTConfig
        from lerobot.policies.act.modeling_act import ACTPolicy
        from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
        from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy
    finally:
        torch.library.register_fake = original
    return FeatureType, PolicyFeature, ACTConfig, ACTPolicy, DiffusionConfig, DiffusionPolicy


def _features(case, FeatureType, PolicyFeature):
    h, w = case["image_hw"]
    inputs = {"observation.state": PolicyFeature(type=FeatureType.STATE, shape=(case["state_dim"],))}
    for cam in case["cameras"]:
        inputs[f"observation.images.{cam}"] = PolicyFeature(type=FeatureType.VISUAL, shape=(3, h, w))
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(case["action_dim"],))}
    return inputs, outputs


def _build(case, lerobot):
    FeatureType, PolicyFeature, ACTConfig, ACTPolicy, DiffusionConfig, DiffusionPolicy = lerobot
    inputs, outputs = _features(case, FeatureType, PolicyFeature)
    s = case["settings"]
    if case["kind"] == "act":
        config = ACTConfig(
            input_features=inputs,
            output_features=outputs,
            device="cpu",
            chunk_size=s["chunk_size"],
            n_action_steps=s["chunk_size"],
            vision_backbone="resnet18",
            pretrained_backbone_weights=None,
            dim_model=s["hidden_dim"],
            n_heads=s["n_heads"],
            dim_feedforward=s["ff_dim"],
            n_encoder_layers=s["enc_layers"],
            n_decoder_layers=s["dec_layers"],
            n_vae_encoder_layers=s["vae_enc_layers"],
            latent_dim=s["latent_dim"],
            kl_weight=s["kl_weight"],
            dropout=s["dropout"],
        )
        return config, ACTPolicy(config)
    config = DiffusionConfig(
        input_features=inputs,
        output_features=outputs,
        device="cpu",
        n_obs_steps=s["n_obs_steps"],
        horizon=s["horizon"],
        n_action_steps=s["n_action_steps"],
        vision_backbone="resnet18",
        pretrained_backbone_weights=None,
        use_group_norm=True,
        crop_shape=tuple(s["crop_hw"]),
        crop_is_random=True,
        spatial_softmax_num_keypoints=s["keypoints"],
        use_separate_rgb_encoder_per_camera=s["separate_encoders"],
        down_dims=tuple(s["down_dims"]),
        kernel_size=s["kernel_size"],
        n_groups=s["n_groups"],
        diffusion_step_embed_dim=s["step_embed_dim"],
        noise_scheduler_type="DDIM",
        num_train_timesteps=s["train_steps"],
        num_inference_steps=s["inference_steps"],
    )
    return config, DiffusionPolicy(config)


def _batch(case, batch_size, torch, with_action=True):
    h, w = case["image_hw"]
    s = case["settings"]
    g = torch.Generator().manual_seed(0)
    steps = s.get("n_obs_steps", 1) if case["kind"] == "diffusion" else 1
    horizon = s["horizon"] if case["kind"] == "diffusion" else s["chunk_size"]

    def obs(*shape):
        return torch.rand(*shape, generator=g)

    lead = (batch_size, steps) if case["kind"] == "diffusion" else (batch_size,)
    batch = {"observation.state": obs(*lead, case["state_dim"]) * 2 - 1}
    for cam in case["cameras"]:
        batch[f"observation.images.{cam}"] = obs(*lead, 3, h, w)
    if with_action:
        batch["action"] = obs(batch_size, horizon, case["action_dim"]) * 2 - 1
        batch["action_is_pad"] = torch.zeros(batch_size, horizon, dtype=torch.bool)
    return batch


def run_case(case, lerobot, torch) -> dict:
    torch.manual_seed(0)
    config, policy = _build(case, lerobot)
    params = sum(p.numel() for p in policy.parameters())
    out = {"name": case["name"], "kind": case["kind"], "parameters": params}
    train = case["train"]
    if train["steps"] > 0:
        policy.train()
        optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-4, weight_decay=1e-4)
        batch = _batch(case, train["batch_size"], torch)
        times = []
        for i in range(train["warmup"] + train["steps"]):
            start = time.perf_counter()
            loss, _ = policy.forward(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 10.0)
            optimizer.step()
            if i >= train["warmup"]:
                times.append(time.perf_counter() - start)
        out["train"] = {"batch_size": train["batch_size"], "step_s": times}
    infer = case["infer"]
    if infer["runs"] > 0:
        policy.eval()
        single = _batch(case, 1, torch, with_action=False)
        if case["kind"] == "diffusion":  # select_action wants one observation; it keeps the history
            single = {k: v[:, -1] for k, v in single.items()}
        times = []
        with torch.inference_mode():
            for i in range(infer["warmup"] + infer["runs"]):
                start = time.perf_counter()
                if case["kind"] == "act":
                    chunk = policy.predict_action_chunk(dict(single))
                else:
                    policy.reset()
                    policy.select_action(dict(single))
                    chunk = None
                if i >= infer["warmup"]:
                    times.append(time.perf_counter() - start)
        out["inference"] = {
            "latency_ms": [1e3 * t for t in times],
            "chunk_shape": list(chunk.shape) if chunk is not None else None,
        }
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--plan")
    p.add_argument("--out")
    p.add_argument("--check", action="store_true", help="import LeRobot's policies and exit")
    args = p.parse_args()
    lerobot = _import_lerobot()
    import importlib.metadata as md

    import torch

    versions = {name: md.version(name) for name in ("lerobot", "torch", "torchvision", "diffusers")}
    if args.check:
        print("LeRobot policies import:", versions)
        return 0
    plan = json.loads(open(args.plan).read())
    torch.set_num_threads(plan["threads"])
    results = []
    for case in plan["cases"]:
        print(f"lerobot: {case['name']}", file=sys.stderr, flush=True)
        results.append(run_case(case, lerobot, torch))
    with open(args.out, "w") as f:
        json.dump({"versions": versions, "threads": plan["threads"], "cases": results}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
