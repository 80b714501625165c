"""`train(config, dataset, out_dir)`: the one training loop for ACT, Diffusion Policy and flow matching,
single-process or under torchrun.

Per step: AdamW with warm-up + schedule, gradient clipping, EMA update where the method deploys one.
Every `val_every` steps the held-out episodes are scored and `best/` keeps the lowest loss; `last/`
(with optimiser and RNG state) is written every `checkpoint_every` steps, so `resume=True` continues.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from policies.build import build_model, uses_ema
from policies.checkpoint import META, load_checkpoint, save_checkpoint
from policies.config import PolicyConfig
from policies.distributed import DistEnv, any_across, finish, init_distributed, mean_across
from policies.ema import EMA
from policies.episodes import EpisodeSet
from policies.loading import (
    fit_normalizer,
    make_dataset,
    spec_for,
    split_episodes,
    to_device,
    train_batches,
    val_batches,
)
from policies.normalize import Normalizer
from policies.optim import make_optimizer, set_lr
from policies.progress import TrainingLog
from robot_stack.errors import RobotStackError


@dataclass
class TrainResult:
    out_dir: Path
    step: int
    best_loss: float | None  # validation loss of best/ (training loss when no episode was held out)
    stopped: str  # "finished" or "time budget"


def train(
    config: PolicyConfig,
    dataset: EpisodeSet,
    out_dir: str | Path,
    *,
    resume: bool = False,
    show_progress: bool = True,
) -> TrainResult:
    env = init_distributed(config.train.device)
    try:
        return _Run(config, dataset, Path(out_dir), env, resume).run(show_progress)
    finally:
        finish(env)


class _Run:
    def __init__(self, config: PolicyConfig, data: EpisodeSet, out_dir: Path, env: DistEnv, resume: bool):
        self.config, self.out_dir, self.env = config, out_dir, env
        cfg = config.train
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        torch.manual_seed(cfg.seed + env.rank)
        self.spec = spec_for(config, data)
        self.trained_on = {"tasks": data.tasks(), "episodes": len(data.episodes)}
        train_ids, val_ids = split_episodes(len(data.episodes), config.data.val_fraction, cfg.seed)
        self.normalizer, state = self._start_or_resume(resume, [data.episodes[i] for i in train_ids])

        self.model = build_model(config, self.spec).to(env.device)
        self.ema = (
            EMA(self.model, config.diffusion.ema_power, config.diffusion.ema_max_decay)
            if uses_ema(config)
            else None
        )
        self.optimizer = make_optimizer(self.model, cfg)
        self.step, self.epoch, self.best = 0, 0, None
        self.aug_rng = torch.Generator().manual_seed(cfg.seed * 1000 + env.rank)
        if state is not None:
            self.model.load_state_dict(state["model"])
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.step, self.epoch, self.best = int(state["step"]), int(state["epoch"]) + 1, state["best"]
            torch.set_rng_state(state["rng"])
            self.aug_rng.set_state(state["aug_rng"])
        self.net = self.model
        if env.distributed:
            self.net = DistributedDataParallel(
                self.model, device_ids=[env.device.index] if env.device.type == "cuda" else None
            )
        self.train_set = make_dataset(
            config, self.spec, [data.episodes[i] for i in train_ids], self.normalizer
        )
        self.val_set = make_dataset(config, self.spec, [data.episodes[i] for i in val_ids], self.normalizer)
        self.split = {
            "train": [data.episodes[i].name for i in train_ids],
            "val": [data.episodes[i].name for i in val_ids],
        }

    def _start_or_resume(self, resume: bool, train_episodes) -> tuple[Normalizer, dict | None]:
        """Fresh run: statistics of the training split. Resume: the saved statistics and training state."""
        last = self.out_dir / "last"
        if not (last / META).exists():
            return fit_normalizer(self.config, train_episodes), None
        if not resume:
            raise RobotStackError(
                f"{self.out_dir} already holds a training run (step files in {last})",
                hint="resume it (--resume), or train into a new output folder",
            )
        ckpt = load_checkpoint(last)
        mine = self.config.model_dump(mode="json", exclude={"train", "preset"})
        theirs = ckpt.config.model_dump(mode="json", exclude={"train", "preset"})
        if mine != theirs:
            differs = sorted(k for k in mine if mine[k] != theirs.get(k))
            raise RobotStackError(
                f"cannot resume {last}: its {', '.join(differs)} settings differ from these",
                hint="resume with the settings it was started with (only train.* may change)",
            )
        ckpt.spec.check_same(self.spec, str(last))
        state = ckpt.train_state(self.env.device)
        if state is None:
            raise RobotStackError(
                f"{last} has no training state", hint="resume from a run folder `train` wrote"
            )
        return ckpt.normalizer, state

    def run(self, show_progress: bool) -> TrainResult:
        cfg, env = self.config.train, self.env
        if self.step >= cfg.steps:
            return TrainResult(self.out_dir, self.step, self.best, "finished")
        if env.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
        log = TrainingLog(self.out_dir, cfg.steps, self.step, show_progress) if env.is_main else None
        val = val_batches(self.val_set, self.config, env)
        stream = train_batches(self.train_set, self.config, env, self.epoch)
        if log:
            log.write(
                {
                    "kind": "start",
                    "step": self.step,
                    "split": self.split,
                    "samples": len(self.train_set),
                    "device": str(env.device),
                    "world_size": env.world_size,
                }
            )
        started = window_start = time.monotonic()
        window_loss, window_n, window_samples, interval_loss, interval_n = 0.0, 0, 0, 0.0, 0
        stopped = "finished"
        self.model.train()
        try:
            while self.step < cfg.steps:
                self.epoch, raw = next(stream)
                batch = to_device(raw, self.config, env.device, train=True, generator=self.aug_rng)
                lr = set_lr(self.optimizer, self.step, cfg)
                loss, metrics = self.net(batch)
                if not math.isfinite(loss.item()):
                    raise RobotStackError(
                        f"training diverged: the loss is {loss.item()} at step {self.step}",
                        hint="lower train.lr, or resume from last/ with a smaller rate",
                    )
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip or math.inf)
                self.optimizer.step()
                if self.ema is not None:
                    self.ema.update(self.model)
                self.step += 1
                window_loss, window_n = window_loss + loss.item(), window_n + 1
                interval_loss, interval_n = interval_loss + loss.item(), interval_n + 1
                window_samples += len(batch["state"]) * env.world_size
                if self.step % cfg.log_every == 0 and log:
                    now = time.monotonic()
                    rate = window_samples / max(now - window_start, 1e-9)
                    steps_per_s = window_n / max(now - window_start, 1e-9)
                    eta = (cfg.steps - self.step) / max(steps_per_s, 1e-9)
                    if cfg.time_budget_min is not None:  # the budget may end the run first
                        eta = min(eta, max(0.0, cfg.time_budget_min * 60 - (now - started)))
                    record = {
                        "kind": "train",
                        "step": self.step,
                        "epoch": self.epoch,  # 0-based pass over the training episodes: fit needs many
                        "loss": window_loss / window_n,
                        "lr": lr,
                        "grad_norm": float(grad_norm),
                        "samples_per_s": rate,
                        "elapsed_s": now - started,
                        "eta_s": eta,
                        **metrics,
                    }
                    log.write(record)
                    log.advance(self.step, loss=record["loss"], rate=rate)
                    window_loss, window_n, window_samples, window_start = 0.0, 0, 0, now
                elif log:
                    log.advance(self.step)
                out_of_time = cfg.time_budget_min is not None and any_across(
                    time.monotonic() - started > cfg.time_budget_min * 60, env
                )
                if self.step % cfg.val_every == 0 or self.step == cfg.steps or out_of_time:
                    self._evaluate(val, interval_loss / max(interval_n, 1), log)
                    interval_loss, interval_n = 0.0, 0
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps or out_of_time:
                    self._save_last()
                if out_of_time:
                    stopped = "time budget"
                    break
        finally:
            if log:
                log.write({"kind": "stop", "step": self.step, "reason": stopped, "best": self.best})
                log.close()
        return TrainResult(self.out_dir, self.step, self.best, stopped)

    def _evaluate(self, val: list[dict], train_loss: float, log: TrainingLog | None) -> None:
        """Score the held-out samples with the weights that would be deployed; keep best/ on improvement."""
        net = self.ema.module if self.ema is not None else self.model
        if val:
            net.eval()
            noise = torch.Generator(device=self.env.device).manual_seed(
                self.config.train.seed
            )  # same draws every time
            total, count = 0.0, 0
            with torch.no_grad():
                for raw in val:
                    batch = to_device(raw, self.config, self.env.device, train=False)
                    loss, _ = net(batch, generator=noise)
                    total, count = total + loss.item() * len(raw["state"]), count + len(raw["state"])
            self.model.train()
            score = mean_across(total / max(count, 1), count, self.env)
            key = "val_loss"
        else:
            score, key = mean_across(train_loss, 1.0, self.env), "train_loss"  # nothing held out
        improved = self.best is None or score < self.best
        if improved:
            self.best = score
            if self.env.is_main:
                save_checkpoint(
                    self.out_dir / "best",
                    config=self.config,
                    spec=self.spec,
                    normalizer=self.normalizer,
                    weights=net.state_dict(),
                    step=self.step,
                    metrics={key: score},
                    trained_on=self.trained_on,
                )
        if log:
            log.write({"kind": "val", "step": self.step, key: score, "best": improved})
            log.advance(self.step, val=score)

    def _save_last(self) -> None:
        if not self.env.is_main:
            return
        deployed = self.ema.module if self.ema is not None else self.model
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "epoch": self.epoch,
            "best": self.best,
            "rng": torch.get_rng_state(),
            "aug_rng": self.aug_rng.get_state(),
        }
        if self.ema is not None:
            state["ema"] = self.ema.state_dict()
        save_checkpoint(
            self.out_dir / "last",
            config=self.config,
            spec=self.spec,
            normalizer=self.normalizer,
            weights=deployed.state_dict(),
            step=self.step,
            metrics={"best": self.best},
            train_state=state,
            trained_on=self.trained_on,
        )
