"""LeRobot's ACT and Diffusion Policy, timed one repetition at a time on request: a worker that
bench/policies.py runs in LeRobot's own environment (scripts/setup_lerobot.sh) and drives over stdin /
stdout, alternating its repetitions with ours so both see the same load on a shared machine.
Never imported by robot_stack; only torch and LeRobot are imported here.

    .venv-lerobot/bin/python bench/_lerobot_harness.py --check       # import both policies, print versions

A case carries the settings bench/policies.py matched to one of our configurations. `train`: one
step — forward, backward, gradient clipping, AdamW — on a fixed random batch (no data pipeline).
`infer`: one chunk from a single observation — `predict_action_chunk` (ACT), or `reset()` +
`select_action` (Diffusion Policy: its queue takes the observation and one chunk is sampled).
Each reply gives wall and process CPU seconds.
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


class Runner:
    """One LeRobot policy, its optimiser and fixed batches; each call is one timed repetition."""

    def __init__(self, case, lerobot, torch):
        self.torch, self.kind = torch, case["kind"]
        torch.manual_seed(0)
        _, self.policy = _build(case, lerobot)
        self.optimizer = torch.optim.AdamW(self.policy.parameters(), lr=1e-4, weight_decay=1e-4)
        self.batch = _batch(case, case["batch_size"], torch)
        single = _batch(case, 1, torch, with_action=False)
        if self.kind == "diffusion":  # select_action takes one observation and keeps the history itself
            single = {k: v[:, -1] for k, v in single.items()}
        self.single = single

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.policy.parameters())

    def train_step(self) -> None:
        self.policy.train()
        loss, _ = self.policy.forward(self.batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.torch.nn.utils.clip_grad_norm_(self.policy.parameters(), 10.0)
        self.optimizer.step()

    def infer(self) -> None:
        self.policy.eval()
        with self.torch.inference_mode():
            if self.kind == "act":
                self.policy.predict_action_chunk(dict(self.single))
            else:  # after reset() the queue is empty: one observation in, one chunk sampled
                self.policy.reset()
                self.policy.select_action(dict(self.single))


def timed(fn) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


def serve(lerobot, torch) -> None:
    """JSON lines on stdin → JSON lines on stdout:
    {"op": "build", "case": {...}} → {"parameters": N};  {"op": "train"} / {"op": "infer"} → {"wall_s", "cpu_s"}"""
    runner = None
    for line in sys.stdin:
        request = json.loads(line)
        op = request["op"]
        if op == "build":
            runner = None
            runner = Runner(request["case"], lerobot, torch)
            reply = {"parameters": runner.parameters}
        elif op == "train":
            reply = timed(runner.train_step)
        elif op == "infer":
            reply = timed(runner.infer)
        elif op == "quit":
            return
        else:
            reply = {"error": f"unknown op {op}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--check", action="store_true", help="import LeRobot's policies, print versions and exit")
    args = p.parse_args()
    lerobot = _import_lerobot()
    import importlib.metadata as md

    import torch

    torch.set_num_threads(args.threads)
    versions = {name: md.version(name) for name in ("lerobot", "torch", "torchvision", "diffusers")}
    print(json.dumps({"versions": versions}), flush=True)
    if args.check:
        return 0
    serve(lerobot, torch)
    return 0


if __name__ == "__main__":
    sys.exit(main())
