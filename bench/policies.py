"""Policy speed on CPU: training samples/s and single-observation inference latency for ACT, Diffusion
Policy (DDIM, 10 steps) and flow matching (5 Euler steps) at the `sim-cpu` and `paper` presets, side by
side with LeRobot 0.4.4's ACT and Diffusion Policy at matched settings, in the same run.

    python bench/policies.py --out docs/bench/policies.json     # both presets (~25 min on 2 shared cores)
    python bench/policies.py --quick                             # sim-cpu only, two timed repetitions
    python bench/policies.py --presets sim-cpu --out F.json      # one preset, full repetitions

What is timed (a fixed, small number of repetitions on fixed random batches, after one warm-up):
- training step: ours = batch to network input (random crop, uint8 → float), forward, backward,
  gradient clipping, AdamW step, and the EMA update for diffusion/flow; LeRobot = forward (its
  diffusion encoder crops inside), backward, clipping, AdamW. Data loading is not timed for either.
- inference: ours = `Policy.predict` from the rig's raw 480×640 frames (resize, crop, normalise,
  network: "end_to_end") and the network alone on prepared tensors ("network"); LeRobot =
  `predict_action_chunk` (ACT) or `reset()` + `select_action` (Diffusion Policy: its queue takes the
  observation, one chunk is sampled) on prepared tensors. Ratios compare the network alone with
  LeRobot's call.
- matched settings: LeRobot's ResNet-18 is torchvision's (width 64, all four stages, colour channels
  only; frozen BatchNorm in its ACT, GroupNorm in its Diffusion Policy); the `sim-cpu` preset uses
  width 32 (and, for ACT, three stages with pixel coordinates), so at `sim-cpu` ours is measured at
  the preset and again with LeRobot's backbone shape ("matched", every other setting the preset's)
  beside LeRobot with the same transformer / U-Net sizes, chunk, horizon, cameras, image and crop sizes. The
  `paper` preset is measured at batch 2 (a step at the published batch sizes takes minutes on 2
  cores); samples/s is per sample either way.

This machine's 2 cores are shared with other work, whose load comes and goes by the second. So the
LeRobot policy lives in a worker process (bench/_lerobot_harness.py in LeRobot's own environment,
`bash scripts/setup_lerobot.sh` → .venv-lerobot) and each of its repetitions alternates with one of
ours (ABBA order); a speedup is the median of those side-by-side ratios. Each repetition also records
process CPU time (all threads; OpenMP threads wait passively, OMP_WAIT_POLICY=PASSIVE, so waiting
for a descheduled sibling costs no CPU): the ratio of median CPU times is a second, load-insensitive
estimate. Absolute figures are the fastest repetition (min) with the median beside it. Without the
LeRobot environment the JSON says so and why.
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

# before torch starts its thread pool: a thread waiting for its sibling sleeps instead of spinning
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
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
THREADS = 2  # the machine's cores; --threads changes it
SAMPLER_STEPS = {"act": None, "diffusion": 10, "flow": 5}


def config_for(policy: str, preset: str, extra: tuple[str, ...] = ()):
    overrides = ["train.threads=2"]
    if policy == "diffusion":
        overrides.append("diffusion.inference_steps=10")
    if policy == "flow":
        overrides.append("diffusion.flow_steps=5")
    return make_config(policy, preset, overrides + list(extra))


def lerobot_backbone_overrides(config) -> tuple[str, ...]:
    """What makes our backbone torchvision's ResNet-18 shape, as LeRobot's policies use it (empty when
    the preset has that shape already)."""
    b = config.backbone
    wanted = {"width": 64, "stages": 4, "coords": False}
    return tuple(
        f"backbone.{key}={json.dumps(value)}" for key, value in wanted.items() if getattr(b, key) != value
    )


def random_batch(config, spec, batch_size: int, g: torch.Generator) -> dict:
    h, w = spec.image_size
    t, n = config.n_obs_steps, len(spec.cameras)
    return {
        "images": torch.randint(0, 256, (batch_size, t, n, 3, h, w), dtype=torch.uint8, generator=g),
        "state": torch.randn(batch_size, t, spec.state_dim, generator=g),
        "action": torch.rand(batch_size, config.horizon, spec.action_dim, generator=g) * 2 - 1,
        "action_mask": torch.ones(batch_size, config.horizon, dtype=torch.bool),
    }


def lerobot_case(config, spec, batch_size: int) -> dict:
    """LeRobot's policy at the settings of our `config` (what the harness builds)."""
    case = {
        "batch_size": batch_size,
        "cameras": spec.cameras,
        "state_dim": spec.state_dim,
        "action_dim": spec.action_dim,
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


class Ours:
    """Our policy, its optimiser (and EMA) and fixed batches; each call is one timed repetition."""

    def __init__(self, config, spec, batch_size: int, kind: str, frame_hw: tuple[int, int]):
        torch.manual_seed(0)
        self.config, self.spec, self.batch_size = config, spec, batch_size
        self.model = build_model(config, spec)
        self.ema = (
            EMA(self.model, config.diffusion.ema_power, config.diffusion.ema_max_decay)
            if uses_ema(config)
            else None
        )
        self.optimizer = make_optimizer(self.model, config.train)
        self.g = torch.Generator().manual_seed(0)
        self.raw = random_batch(config, spec, batch_size, self.g)
        self.policy = self._policy(kind)
        rng = np.random.default_rng(0)
        self.frames = {c: rng.integers(0, 256, (*frame_hw, 3), dtype=np.uint8) for c in spec.cameras}
        self.state = rng.normal(size=spec.state_dim).astype(np.float32)
        h, w = spec.image_size
        images = torch.randint(0, 256, (1, config.n_obs_steps, len(spec.cameras), 3, h, w), dtype=torch.uint8)
        self.x = center_crop(to_float(images), spec.crop_size)
        self.s = torch.randn(1, config.n_obs_steps, spec.state_dim)
        self.t = 0.0

    def _policy(self, kind: str) -> Policy:
        """The inference API on a checkpoint of these (untrained) weights, as deploy would load it."""
        rng = np.random.default_rng(0)
        normalizer = Normalizer.fit(
            self.config.data.normalization,
            [rng.normal(size=(50, self.spec.state_dim)).astype(np.float32)],
            [rng.normal(size=(50, self.spec.action_dim)).astype(np.float32)],
        )
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "ckpt"
            save_checkpoint(
                path,
                config=self.config,
                spec=self.spec,
                normalizer=normalizer,
                weights=self.model.state_dict(),
                step=0,
            )
            return Policy.load(path, steps=SAMPLER_STEPS[kind])

    @property
    def parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def train_step(self) -> None:
        self.model.train()
        batch = to_device(self.raw, self.config, torch.device("cpu"), train=True, generator=self.g)
        loss, _ = self.model(batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.train.grad_clip or 10.0)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)

    def predict(self) -> None:
        """End to end: raw 480×640 frames → resize, crop, normalise, network → chunk in robot units."""
        self.policy.reset()
        self.t += 1.0
        self.policy.predict({"images": self.frames, "state": self.state, "t": self.t})

    def network(self) -> None:
        """The network alone on prepared tensors (what LeRobot's call covers)."""
        with torch.inference_mode():
            self.policy.model.predict_chunk(
                self.x, self.s, steps=self.policy.steps, generator=self.policy._generator
            )


def timed(fn) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return {"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}


class LeRobotWorker:
    """bench/_lerobot_harness.py running in LeRobot's environment, one request per repetition."""

    def __init__(self, threads: int):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
        self.process = subprocess.Popen(
            [str(LEROBOT_PYTHON), str(HARNESS), "--threads", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.versions = self._read()["versions"]

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the LeRobot harness stopped (exit {self.process.wait()})")
        return json.loads(line)

    def call(self, op: str, **fields) -> dict:
        self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
        self.process.stdin.flush()
        reply = self._read()
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)


def summary(reps: list[dict], per: int = 1) -> dict:
    """min and median wall time, median CPU time (whole process, all threads) over repetitions."""
    wall = [r["wall_s"] for r in reps]
    cpu = [r["cpu_s"] for r in reps]
    return {
        "wall_s": wall,
        "cpu_s": cpu,
        "wall_s_min": min(wall),
        "wall_s_median": statistics.median(wall),
        "cpu_s_median": statistics.median(cpu),
    }


def train_figures(reps: list[dict], batch_size: int) -> dict:
    out = summary(reps)
    out["batch_size"] = batch_size
    out["samples_per_s"] = batch_size / out["wall_s_min"]
    out["samples_per_s_median"] = batch_size / out["wall_s_median"]
    out["cpu_s_per_sample"] = out["cpu_s_median"] / batch_size
    return out


def latency_figures(reps: list[dict]) -> dict:
    out = summary(reps)
    out["latency_ms_min"] = 1e3 * out["wall_s_min"]
    out["latency_ms_median"] = 1e3 * out["wall_s_median"]
    out["cpu_ms_median"] = 1e3 * out["cpu_s_median"]
    return out


def paired_ratio(theirs: list[dict], ours: list[dict]) -> dict:
    """How many times faster ours is (their time / our time): the median over repetitions taken side
    by side, and the ratio of median CPU times (less sensitive to other work on the machine)."""
    return {
        "wall_paired_median": statistics.median(
            t["wall_s"] / o["wall_s"] for t, o in zip(theirs, ours, strict=True)
        ),
        "cpu_median": statistics.median(t["cpu_s"] for t in theirs)
        / statistics.median(o["cpu_s"] for o in ours),
    }


def measure(ours: Ours, worker: LeRobotWorker | None, reps: dict) -> dict:
    """Warm-up, then repetitions alternating ours and LeRobot's (ABBA order, so neither always goes
    first after the other)."""
    out: dict = {"ours": {"parameters": ours.parameters}}
    pairs = {"train": ([], []), "network": ([], []), "predict": ([], [])}
    for _ in range(reps["warmup"]):
        ours.train_step()
        ours.predict()
        ours.network()
        if worker is not None:
            worker.call("train")
            worker.call("infer")
    for i in range(reps["train_steps"]):
        first_ours = i % 2 == 0
        if first_ours:
            pairs["train"][0].append(timed(ours.train_step))
        if worker is not None:
            pairs["train"][1].append(worker.call("train"))
        if not first_ours:
            pairs["train"][0].append(timed(ours.train_step))
    for i in range(reps["infer_runs"]):
        first_ours = i % 2 == 0
        if first_ours:
            pairs["network"][0].append(timed(ours.network))
        if worker is not None:
            pairs["network"][1].append(worker.call("infer"))
        if not first_ours:
            pairs["network"][0].append(timed(ours.network))
        pairs["predict"][0].append(timed(ours.predict))
    out["ours"]["train"] = train_figures(pairs["train"][0], ours.batch_size)
    out["ours"]["inference"] = {
        "sampler_steps": ours.policy.steps,
        "end_to_end": latency_figures(pairs["predict"][0]),
        "network": latency_figures(pairs["network"][0]),
    }
    if worker is not None:
        out["lerobot"] = {
            "train": train_figures(pairs["train"][1], ours.batch_size),
            "inference": latency_figures(pairs["network"][1]),
        }
        out["speedup_ours_vs_lerobot"] = {
            "train": paired_ratio(pairs["train"][1], pairs["train"][0]),
            "inference_network": paired_ratio(pairs["network"][1], pairs["network"][0]),
        }
    return out


def main() -> None:
    p = _common.parser(__doc__)
    p.add_argument(
        "--threads", type=int, default=THREADS, help=f"torch threads, both sides (default {THREADS})"
    )
    p.add_argument(
        "--presets",
        nargs="*",
        choices=("sim-cpu", "paper"),
        default=None,
        help="default: both (quick: sim-cpu)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rig = load_rig(REPO / "hardware.yaml")
    first_camera = next(iter(rig.cameras.values()))
    frame_hw = (first_camera.height, first_camera.width)
    presets = args.presets or (["sim-cpu"] if args.quick else ["sim-cpu", "paper"])
    reps = (
        {"warmup": 1, "train_steps": 2, "infer_runs": 2}
        if args.quick
        else {"warmup": 1, "train_steps": 6, "infer_runs": 6}
    )
    worker, lerobot = None, {"available": False}
    if not LEROBOT_PYTHON.exists():
        lerobot["reason"] = (
            f"no LeRobot environment at {LEROBOT_PYTHON.parent.parent}; create it with `bash scripts/setup_lerobot.sh`"
        )
    else:
        try:
            worker = LeRobotWorker(args.threads)
            lerobot = {"available": True, "versions": worker.versions}
        except (OSError, RuntimeError, ValueError) as exc:
            lerobot["reason"] = f"the LeRobot harness did not start: {exc}"
    result = {
        "bench": "policies",
        "device": "cpu",
        "threads": args.threads,
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
        "repetitions": reps,
        "load_average_at_start": os.getloadavg(),
        "lerobot": lerobot,
        "presets": {},
    }
    try:
        for preset in presets:
            for kind in ("act", "diffusion", "flow"):
                config = config_for(kind, preset)
                spec = spec_from_rig(
                    rig,
                    config.data.cameras,
                    config.data.image_size,
                    config.data.crop_size,
                    config.data.stride,
                )
                batch = 2 if (args.quick or preset == "paper") else config.train.batch_size
                entry = result["presets"].setdefault(preset, {})[kind] = {
                    "settings": {
                        "cameras": spec.cameras,
                        "image_size": list(spec.image_size),
                        "crop_size": list(spec.crop_size),
                        "backbone_width": config.backbone.width,
                        "batch_size_measured": batch,
                        "preset_batch_size": config.train.batch_size,
                        "sampler_steps": SAMPLER_STEPS[kind],
                    }
                }
                # LeRobot has ACT and Diffusion Policy (not flow matching), with torchvision's ResNet-18:
                # where the preset's backbone differs, ours is measured as the preset and again with
                # that backbone beside LeRobot
                compare = worker is not None and kind != "flow"
                print(f"policies: {preset} {kind}", file=sys.stderr, flush=True)
                backbone = lerobot_backbone_overrides(config)
                if compare and backbone:
                    entry.update(measure(Ours(config, spec, batch, kind, frame_hw), None, reps))
                    matched = config_for(kind, preset, backbone)
                    print(
                        f"policies: {preset} {kind}, {' '.join(backbone)}, with LeRobot",
                        file=sys.stderr,
                        flush=True,
                    )
                    worker.call("build", case=lerobot_case(matched, spec, batch))
                    figures = measure(Ours(matched, spec, batch, kind, frame_hw), worker, reps)
                    entry["matched"] = {"overrides": list(backbone), **figures}
                else:
                    if compare:
                        worker.call("build", case=lerobot_case(config, spec, batch))
                    entry.update(
                        measure(Ours(config, spec, batch, kind, frame_hw), worker if compare else None, reps)
                    )
    finally:
        if worker is not None:
            worker.close()
    result["load_average_at_end"] = os.getloadavg()
    result["summary"] = {
        f"{preset}/{kind}": {
            "train_samples_per_s": e["ours"]["train"]["samples_per_s"],
            "inference_ms": e["ours"]["inference"]["end_to_end"]["latency_ms_min"],
            "inference_network_ms": e["ours"]["inference"]["network"]["latency_ms_min"],
            **(
                {"speedup_vs_lerobot_matched": (e.get("matched") or e)["speedup_ours_vs_lerobot"]}
                if "speedup_ours_vs_lerobot" in (e.get("matched") or e)
                else {}
            ),
        }
        for preset, kinds in result["presets"].items()
        for kind, e in kinds.items()
    }
    _common.write(result, args.out)


if __name__ == "__main__":
    main()
