"""Policy speed on CPU: training samples/s and single-observation inference latency for ACT, Diffusion
Policy (DDIM, 10 steps) and flow matching (5 Euler steps) at the `sim-cpu` and `paper` presets, side by
side with LeRobot 0.4.4's ACT and Diffusion Policy at matched settings, in the same run.

    python bench/policies.py --out docs/bench/policies.json     # both presets (~10 min on 2 cores)
    python bench/policies.py --quick                             # sim-cpu only, one timed step

What is timed (a fixed, small number of steps on fixed random batches; the median is reported):
- training step: ours = batch to network input (random crop, uint8 → float), forward, backward,
  gradient clipping, AdamW step, and the EMA update for diffusion/flow; LeRobot = forward (its
  diffusion encoder crops inside), backward, clipping, AdamW. Data loading is not timed for either.
- inference: ours = `Policy.predict` from the rig's raw 480×640 frames (resize, crop, normalise, network)
  and the network alone (`predict_chunk` on prepared tensors); LeRobot = `predict_action_chunk` (ACT)
  or `reset()` + `select_action` (Diffusion Policy: fills its observation queue, samples one chunk) on
  prepared tensors. The ratios compare the network alone with LeRobot's call.
- matched settings: LeRobot's ResNet-18 is torchvision's (width 64) and its ACT backbone uses frozen
  BatchNorm; the `sim-cpu` preset uses width 32, so the comparison row ("ours_matched") runs ours at
  width 64 with every other setting the preset's, and LeRobot with the same transformer / U-Net sizes,
  chunk, horizon, cameras, image and crop sizes. The `paper` preset is measured at batch 2 (a step of
  the published batch sizes takes minutes on 2 cores); samples/s is per sample either way.

LeRobot runs in its own environment (`bash scripts/setup_lerobot.sh` → .venv-lerobot) through
bench/_lerobot_harness.py, after our measurements, never concurrently. Without that environment the
JSON says so and why.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from policies import Policy, make_config  # noqa: E402
from policies.build import build_model, uses_ema  # noqa: E402
from policies.checkpoint import save_checkpoint  # noqa: E402
from policies.ema import EMA  # noqa: E402
from policies.images import center_crop, to_float  # noqa: E402
from policies.loading import to_device  # noqa: E402
from policies.normalize import Normalizer  # noqa: E402
from policies.optim import make_optimizer  # noqa: E402
from policies.spec import spec_from_rig  # noqa: E402
from robot_stack.rig import load_rig  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
LEROBOT_PYTHON = Path(os.environ.get("LEROBOT_VENV", REPO / ".venv-lerobot")) / "bin" / "python"
HARNESS = Path(__file__).resolve().parent / "_lerobot_harness.py"
THREADS = 2
SAMPLER_STEPS = {"act": None, "diffusion": 10, "flow": 5}


def config_for(policy: str, preset: str, extra: tuple[str, ...] = ()):
    overrides = ["train.threads=2"]
    if policy == "diffusion":
        overrides.append("diffusion.inference_steps=10")
    if policy == "flow":
        overrides.append("diffusion.flow_steps=5")
    return make_config(policy, preset, overrides + list(extra))


def random_batch(config, spec, batch_size: int, g: torch.Generator) -> dict:
    h, w = spec.image_size
    t, n = config.n_obs_steps, len(spec.cameras)
    return {
        "images": torch.randint(0, 256, (batch_size, t, n, 3, h, w), dtype=torch.uint8, generator=g),
        "state": torch.randn(batch_size, t, spec.state_dim, generator=g),
        "action": torch.rand(batch_size, config.horizon, spec.action_dim, generator=g) * 2 - 1,
        "action_mask": torch.ones(batch_size, config.horizon, dtype=torch.bool),
    }


def ours_train(config, spec, batch_size: int, warmup: int, steps: int) -> dict:
    torch.manual_seed(0)
    model = build_model(config, spec)
    ema = EMA(model, config.diffusion.ema_power, config.diffusion.ema_max_decay) if uses_ema(config) else None
    optimizer = make_optimizer(model, config.train)
    g = torch.Generator().manual_seed(0)
    raw = random_batch(config, spec, batch_size, g)
    model.train()
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        batch = to_device(raw, config, torch.device("cpu"), train=True, generator=g)
        loss, _ = model(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.train.grad_clip or 10.0)
        optimizer.step()
        if ema is not None:
            ema.update(model)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return {
        "parameters": sum(p.numel() for p in model.parameters()),
        "train": {"batch_size": batch_size, "step_s": times},
    }


def ours_inference(config, spec, policy_kind: str, warmup: int, runs: int, frame_hw: tuple[int, int]) -> dict:
    torch.manual_seed(0)
    model = build_model(config, spec)
    rng = np.random.default_rng(0)
    normalizer = Normalizer.fit(
        config.data.normalization,
        [rng.normal(size=(50, spec.state_dim)).astype(np.float32)],
        [rng.normal(size=(50, spec.action_dim)).astype(np.float32)],
    )
    with tempfile.TemporaryDirectory() as folder:
        save_checkpoint(
            Path(folder) / "ckpt",
            config=config,
            spec=spec,
            normalizer=normalizer,
            weights=model.state_dict(),
            step=0,
        )
        policy = Policy.load(Path(folder) / "ckpt", steps=SAMPLER_STEPS[policy_kind])
    frames = {c: rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8) for c in spec.cameras}
    state = rng.normal(size=spec.state_dim).astype(np.float32)
    end_to_end = []
    for i in range(warmup + runs):
        policy.reset()
        start = time.perf_counter()
        chunk = policy.predict({"images": frames, "state": state, "t": float(i)})
        if i >= warmup:
            end_to_end.append(time.perf_counter() - start)
    h, w = spec.image_size
    x = center_crop(
        to_float(
            torch.randint(0, 256, (1, config.n_obs_steps, len(spec.cameras), 3, h, w), dtype=torch.uint8)
        ),
        spec.crop_size,
    )
    s = torch.randn(1, config.n_obs_steps, spec.state_dim)
    network = []
    with torch.inference_mode():
        for i in range(warmup + runs):
            start = time.perf_counter()
            policy.model.predict_chunk(x, s, steps=policy.steps, generator=policy._generator)
            if i >= warmup:
                network.append(time.perf_counter() - start)
    return {
        "sampler_steps": policy.steps,
        "chunk_shape": list(chunk.actions.shape),
        "raw_frame_hw": list(frame_hw),
        "latency_ms": [1e3 * t for t in end_to_end],
        "network_ms": [1e3 * t for t in network],
    }


def lerobot_case(name: str, config, spec, batch_size: int, reps: dict) -> dict:
    """The plan entry for LeRobot at the settings of our `config`."""
    case = {
        "name": name,
        "cameras": spec.cameras,
        "state_dim": spec.state_dim,
        "action_dim": spec.action_dim,
        "train": {"batch_size": batch_size, "warmup": reps["warmup"], "steps": reps["train_steps"]},
        "infer": {"warmup": reps["warmup"], "runs": reps["infer_runs"]},
    }
    if config.policy == "act":
        a = config.act
        case.update(kind="act", image_hw=list(spec.crop_size))  # ACT does not crop: it sees our crop size
        case["settings"] = {
            "chunk_size": a.chunk_size,
            "hidden_dim": a.hidden_dim,
            "n_heads": a.n_heads,
            "ff_dim": a.ff_dim,
            "enc_layers": a.enc_layers,
            "dec_layers": a.dec_layers,
            "vae_enc_layers": a.vae_enc_layers,
            "latent_dim": a.latent_dim,
            "kl_weight": a.kl_weight,
            "dropout": a.dropout,
        }
    else:
        d = config.diffusion
        case.update(kind="diffusion", image_hw=list(spec.image_size))  # its encoder crops, as ours
        case["settings"] = {
            "n_obs_steps": d.n_obs_steps,
            "horizon": d.horizon,
            "n_action_steps": d.n_action_steps,
            "crop_hw": list(spec.crop_size),
            "keypoints": d.keypoints,
            "separate_encoders": not config.backbone.share,
            "down_dims": list(d.down_dims),
            "kernel_size": d.kernel_size,
            "n_groups": d.n_groups,
            "step_embed_dim": d.step_embed_dim,
            "train_steps": d.train_steps,
            "inference_steps": 10,
        }
    return case


def run_lerobot(cases: list[dict]) -> dict:
    if not LEROBOT_PYTHON.exists():
        return {
            "available": False,
            "reason": f"no LeRobot environment at {LEROBOT_PYTHON.parent.parent}; "
            "create it with `bash scripts/setup_lerobot.sh`",
        }
    with tempfile.TemporaryDirectory() as folder:
        plan, out = Path(folder) / "plan.json", Path(folder) / "out.json"
        plan.write_text(json.dumps({"threads": THREADS, "cases": cases}))
        env = {**os.environ, "OMP_NUM_THREADS": str(THREADS)}
        done = subprocess.run(
            [str(LEROBOT_PYTHON), str(HARNESS), "--plan", str(plan), "--out", str(out)],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        if done.returncode != 0 or not out.exists():
            return {
                "available": False,
                "reason": f"the LeRobot harness failed (exit {done.returncode}): {done.stderr[-2000:]}",
            }
        result = json.loads(out.read_text())
    return {"available": True, **result}


def measure_ours(config, spec, kind: str, batch: int, reps: dict, frame_hw) -> dict:
    return {
        **ours_train(config, spec, batch, reps["warmup"], reps["train_steps"]),
        "inference": ours_inference(config, spec, kind, reps["warmup"], reps["infer_runs"], frame_hw),
    }


def pooled(runs: list[dict]) -> dict:
    """Several rounds of one measurement → one, with every repetition's time kept and the summary
    figures: min (the least disturbed repetition, what the ratios use on this shared machine) and median."""
    out = {k: v for k, v in runs[0].items() if k not in ("train", "inference")}
    train = {
        "batch_size": runs[0]["train"]["batch_size"],
        "step_s": [t for r in runs for t in r["train"]["step_s"]],
    }
    train["step_s_min"], train["step_s_median"] = min(train["step_s"]), statistics.median(train["step_s"])
    train["samples_per_s"] = train["batch_size"] / train["step_s_min"]
    train["samples_per_s_at_median"] = train["batch_size"] / train["step_s_median"]
    inference = {k: v for k, v in runs[0]["inference"].items() if not k.endswith("_ms")}
    for key in ("latency_ms", "network_ms"):
        if key in runs[0]["inference"]:
            times = [t for r in runs for t in r["inference"][key]]
            inference[key] = times
            inference[f"{key}_min"], inference[f"{key}_median"] = min(times), statistics.median(times)
    return {**out, "train": train, "inference": inference}


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument(
        "--rounds", type=int, default=None, help="measure everything this often (default 2; quick 1)"
    )
    args = p.parse_args()
    torch.set_num_threads(THREADS)
    rig = load_rig(REPO / "hardware.yaml")
    first_camera = next(iter(rig.cameras.values()))
    frame_hw = (first_camera.height, first_camera.width)
    presets = ["sim-cpu"] if args.quick else ["sim-cpu", "paper"]
    reps = (
        {"warmup": 1, "train_steps": 1, "infer_runs": 1}
        if args.quick
        else {"warmup": 1, "train_steps": 3, "infer_runs": 3}
    )
    rounds = args.rounds or (1 if args.quick else 2)
    # what to measure: (preset, kind, variant) → (config, spec, batch)
    cases, plan = {}, []
    for preset in presets:
        for kind in ("act", "diffusion", "flow"):
            config = config_for(kind, preset)
            spec = spec_from_rig(
                rig, config.data.cameras, config.data.image_size, config.data.crop_size, config.data.stride
            )
            batch = 2 if (args.quick or preset == "paper") else config.train.batch_size
            cases[(preset, kind, "ours")] = (config, spec, batch)
            if kind == "flow":  # LeRobot has ACT and Diffusion Policy, not flow matching
                continue
            matched = config
            if config.backbone.width != 64:
                matched = config_for(kind, preset, ("backbone.width=64",))
                cases[(preset, kind, "ours_matched")] = (matched, spec, batch)
            plan.append(lerobot_case(f"{preset}/{kind}", matched, spec, batch, reps))
    # Rounds: all of ours, then LeRobot's, again; load from other work on this machine comes and goes,
    # so every figure gets repetitions spread over the whole run.
    ours_runs: dict[tuple, list[dict]] = {key: [] for key in cases}
    lerobot_runs: dict[str, list[dict]] = {}
    lerobot_info: dict = {}
    for round_no in range(rounds):
        for key, (config, spec, batch) in cases.items():
            print(
                f"policies: round {round_no + 1}/{rounds}, ours, {' '.join(key)}", file=sys.stderr, flush=True
            )
            ours_runs[key].append(measure_ours(config, spec, key[1], batch, reps, frame_hw))
        print(f"policies: round {round_no + 1}/{rounds}, LeRobot", file=sys.stderr, flush=True)
        lerobot = run_lerobot(plan)
        lerobot_info = {k: v for k, v in lerobot.items() if k != "cases"}
        if not lerobot["available"]:
            break
        for case in lerobot["cases"]:
            lerobot_runs.setdefault(case["name"], []).append(case)

    result = {
        "bench": "policies",
        "device": "cpu",
        "threads": THREADS,
        "repetitions": {**reps, "rounds": rounds},
        "summary_statistic": "min over all timed repetitions (median alongside)",
        "lerobot": lerobot_info,
        "presets": {},
    }
    for (preset, kind, variant), (config, spec, _batch) in cases.items():
        entry = (
            result["presets"]
            .setdefault(preset, {})
            .setdefault(
                kind,
                {
                    "settings": {
                        "cameras": spec.cameras,
                        "image_size": list(spec.image_size),
                        "crop_size": list(spec.crop_size),
                        "backbone_width": config.backbone.width,
                        "preset_batch_size": config.train.batch_size,
                        "sampler_steps": SAMPLER_STEPS[kind],
                    }
                },
            )
        )
        entry[variant] = pooled(ours_runs[(preset, kind, variant)])
        if variant == "ours_matched":
            entry[variant]["overrides"] = ["backbone.width=64"]
    for name, runs in lerobot_runs.items():
        preset, kind = name.split("/")
        entry = result["presets"][preset][kind]
        entry["lerobot"] = pooled(runs)
        ours = entry.get("ours_matched", entry["ours"])
        theirs = entry["lerobot"]
        entry["ratio"] = {
            "compared_with": "ours_matched" if "ours_matched" in entry else "ours",
            "train_samples_per_s_ours_over_lerobot": ours["train"]["samples_per_s"]
            / theirs["train"]["samples_per_s"],
            "inference_speedup_lerobot_over_ours_network": theirs["inference"]["latency_ms_min"]
            / ours["inference"]["network_ms_min"],
            "inference_speedup_lerobot_over_ours_end_to_end": theirs["inference"]["latency_ms_min"]
            / ours["inference"]["latency_ms_min"],
        }
    result["summary"] = {
        f"{preset}/{kind}": {
            "train_samples_per_s": e["ours"]["train"]["samples_per_s"],
            "inference_ms": e["ours"]["inference"]["latency_ms_min"],
            "inference_network_ms": e["ours"]["inference"]["network_ms_min"],
            **({"vs_lerobot": e["ratio"]} if "ratio" in e else {}),
        }
        for preset, kinds in result["presets"].items()
        for kind, e in kinds.items()
    }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
