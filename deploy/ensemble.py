"""Temporal ensembling of action chunks, indexed by time (DESIGN.md §6). Numpy only.

A chunk planned from an observation captured at robot time t0, with spacing dt, says: action i is
the command for time t0 + i·dt — whatever the planner's latency, and whatever the executor's rate.
Between two of its actions a chunk is linearly interpolated, so a 10 Hz diffusion chunk is resampled
onto the 50 Hz execution ticks on the fly (`ActionChunk.resampled` does the same, ahead of time).
A chunk *covers* t when t0 ≤ t ≤ t0 + (k−1)·dt + tol, tol = half an execution tick: nothing is
planned for before the observation it came from, and the last action holds for half a tick so a
tick landing just past it is not left without a command.

Modes (what `sample(t)` returns for an execution tick at time t):

- ``ensemble``: a weighted mean over every chunk covering t. Chunks are ranked by how many execution
  ticks after the oldest covering chunk they were captured, r_c = (t0_c − t0_oldest) / tick_dt, and
  weighted w_c ∝ exp(−m·r_c) — the ACT/ALOHA convention (w_i = exp(−m·i), i = 0 for the oldest
  action), generalised to chunks that do not arrive every tick. With m > 0 older chunks weigh more
  (smooth, slow to react), m = 0 is a plain mean, m < 0 favours newer chunks. m = 0.01 is ACT's.
  Since r_c = (age_oldest − age_c)/tick_dt, where age_c = t − t0_c, this is exp(+m·age_c/tick_dt)
  up to normalisation: the "age" weighting of DESIGN.md §6, with ACT's sign.
  With `fade_s` > 0 each weight is also scaled by the chunk's presence: 0 → 1 over `fade_s` after it
  arrived, 1 → 0 over the last `fade_s` it covers (smoothstep both). Planning every tick, a new
  chunk is one of ~k and moves the blend by ~1/k of its disagreement; planning every 19 ticks (a
  300 ms planner), each arrival and each expiry is one of two or three chunks entering or leaving
  at once, and the blend steps by a third of the chunks' disagreement in one tick. The fade spreads
  that step over `fade_s`.
- ``latest``: the newest covering chunk (largest t0) alone. Its stale prefix — the actions for times
  that passed while it was being planned and delivered — is skipped by construction, since only the
  time t is looked up. With `execute_s` > 0 a chunk, once taken, is followed for that long (or until
  it runs out) before a newer one replaces it: receding-horizon execution, as ACT without ensembling
  runs its whole chunk and Diffusion Policy its n_action_steps, instead of a switch at every arrival.
- ``rtc`` (real-time chunking, Black et al. 2025): executes like ``latest``. The planner conditions
  each new chunk on what this plan will execute while the next inference runs (`committed`) and on
  the rest of the current plan (`plan`), so a switch of chunks is smooth. The planner keeps its own
  ensembler in ``rtc`` mode fed with the chunks it sent, which is the plan the executor runs.

Chunks with NaN/inf, a wrong shape, a non-positive dt or a non-finite t0 are refused at `add` time
with `ChunkRejected` (the executor logs it as a safety event); nothing already held changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from robot_stack.motion import smoothstep

MODES = ("ensemble", "latest", "rtc")


class ChunkRejected(ValueError):
    """A chunk `TemporalEnsembler.add` refused; `reason`: nonfinite, shape, dt, t0."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class PlannedChunk:
    """A chunk as held by the ensembler: `actions[i]` (read-only float32) is for time t0 + i·dt."""

    actions: np.ndarray
    t0: float
    dt: float
    seq: int = 0
    arrived: float = -math.inf  # when the executor got it (its fade-in starts there)

    @property
    def t_end(self) -> float:
        """The time of the last action."""
        return self.t0 + (len(self.actions) - 1) * self.dt

    def covers(self, t: float, tol: float = 0.0) -> bool:
        """t0 ≤ t ≤ t_end + tol (a nanosecond of slack before t0 for float round-off)."""
        return self.t0 - 1e-9 <= t <= self.t_end + tol

    def at(self, t: float) -> np.ndarray:
        """The action for time t: linear interpolation between neighbours, clamped at both ends."""
        x = (t - self.t0) / self.dt
        last = len(self.actions) - 1
        if x <= 0:
            return self.actions[0].copy()
        if x >= last:
            return self.actions[last].copy()
        i = int(x)
        frac = np.float32(x - i)
        return (1 - frac) * self.actions[i] + frac * self.actions[i + 1]


@dataclass(frozen=True)
class Blend:
    """The command for one tick and how it was made.

    `depth`: how many chunks contributed; `newest_age_s` / `oldest_age_s`: t − t0 of the newest and
    oldest contributing chunk (how stale the freshest information is, and how far back the blend
    reaches); `weights`: the normalised weights, oldest chunk first (a single 1.0 in latest/rtc).
    """

    t: float
    action: np.ndarray
    depth: int
    newest_age_s: float
    oldest_age_s: float
    newest_seq: int
    weights: tuple[float, ...]


class TemporalEnsembler:
    """Holds recent chunks and answers "what is the command for time t".

    `mode`: ensemble | latest | rtc (see the module docstring); `m`: the ensembling weight rate, per
    execution tick; `tick_dt`: the execution period (s) — it sets the coverage tolerance (half a tick)
    and the unit of the ensemble rank; `action_dim`: the joint count (taken from the first chunk
    when None); `max_chunks`: the oldest chunks (by t0) beyond this many are dropped; `execute_s`
    (latest mode): how long a chunk, once taken, runs before a newer one may replace it.

    Not thread-safe: one thread (the executor's) adds and samples; guard it with a lock otherwise.
    """

    def __init__(
        self,
        mode: str = "ensemble",
        m: float = 0.01,
        tick_dt: float = 0.02,
        action_dim: int | None = None,
        max_chunks: int = 128,
        execute_s: float = 0.0,
        fade_s: float = 0.0,
    ):
        if mode not in MODES:
            raise ValueError(f"ensembling mode {mode!r} is not one of {', '.join(MODES)}")
        if not (math.isfinite(m) and math.isfinite(tick_dt) and tick_dt > 0 and max_chunks >= 1):
            raise ValueError("m must be finite, tick_dt positive and max_chunks at least 1")
        if not (math.isfinite(execute_s) and execute_s >= 0):
            raise ValueError(f"execute_s must be a time of 0 s or more, not {execute_s!r}")
        if execute_s > 0 and mode != "latest":
            raise ValueError(f"execute_s applies to the latest mode, not {mode}")
        if not (math.isfinite(fade_s) and fade_s >= 0):
            raise ValueError(f"fade_s must be a time of 0 s or more, not {fade_s!r}")
        if fade_s > 0 and mode != "ensemble":
            raise ValueError(f"fade_s applies to the ensemble mode, not {mode}")
        self.fade_s = float(fade_s)
        self.execute_s = float(execute_s)
        self._running: PlannedChunk | None = None  # latest mode: the chunk being executed, and since when
        self._running_since = 0.0
        self.mode, self.m, self.tick_dt = mode, float(m), float(tick_dt)
        self.action_dim = action_dim
        self.max_chunks = max_chunks
        self.tolerance = 0.5 * self.tick_dt
        self._chunks: list[PlannedChunk] = []  # sorted by t0, oldest first
        self.added = 0
        self.rejected: dict[str, int] = {}
        self.pruned = 0

    # --- adding -------------------------------------------------------------------------------

    def add(
        self, actions: Any, t0: float, dt: float, seq: int = 0, arrived: float | None = None
    ) -> PlannedChunk:
        """Hold a chunk: `actions` (k, A) for times t0 + i·dt, which reached the executor at `arrived`
        (None: at t0). Raises `ChunkRejected` (and counts it in `rejected`) when it is not usable;
        the chunks already held are untouched then."""
        try:
            chunk = self._validated(actions, t0, dt, seq, t0 if arrived is None else arrived)
        except ChunkRejected as exc:
            self.rejected[exc.reason] = self.rejected.get(exc.reason, 0) + 1
            raise
        if self.action_dim is None:
            self.action_dim = chunk.actions.shape[1]
        index = len(self._chunks)
        while index > 0 and self._chunks[index - 1].t0 > chunk.t0:
            index -= 1
        self._chunks.insert(index, chunk)
        if len(self._chunks) > self.max_chunks:
            del self._chunks[: len(self._chunks) - self.max_chunks]
            self.pruned += 1
        self.added += 1
        return chunk

    def add_chunk(self, chunk: Any, seq: int | None = None, arrived: float | None = None) -> PlannedChunk:
        """Add anything with `actions`, `dt` and `t0` (wire `ChunkMessage`) or `t_obs` (`ActionChunk`)."""
        t0 = getattr(chunk, "t0", None)
        if t0 is None:
            t0 = chunk.t_obs
        seq = getattr(chunk, "seq", 0) if seq is None else seq
        return self.add(chunk.actions, t0, chunk.dt, seq, arrived)

    def _validated(self, actions: Any, t0: float, dt: float, seq: int, arrived: float) -> PlannedChunk:
        try:
            array = np.array(actions, dtype=np.float32)  # a private copy: the sender may reuse its buffer
        except (TypeError, ValueError):
            raise ChunkRejected("shape", "chunk actions are not a numeric array") from None
        if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] < 1:
            raise ChunkRejected("shape", f"chunk actions have shape {array.shape}, expected (k ≥ 1, A)")
        if self.action_dim is not None and array.shape[1] != self.action_dim:
            raise ChunkRejected("shape", f"chunk has {array.shape[1]} joints, the plan has {self.action_dim}")
        if not np.isfinite(array).all():
            rows = np.flatnonzero(~np.isfinite(array).all(axis=1))
            raise ChunkRejected("nonfinite", f"chunk holds NaN or inf (actions {rows[:5].tolist()})")
        if not (isinstance(dt, int | float) and math.isfinite(dt) and dt > 0):
            raise ChunkRejected("dt", f"chunk dt {dt!r} is not a positive number")
        if not (isinstance(t0, int | float) and math.isfinite(t0)):
            raise ChunkRejected("t0", f"chunk t0 {t0!r} is not a finite time")
        if not (isinstance(arrived, int | float) and not math.isnan(arrived)):
            raise ChunkRejected("t0", f"chunk arrival time {arrived!r} is not a time")
        array.flags.writeable = False
        return PlannedChunk(array, float(t0), float(dt), int(seq), float(arrived))

    # --- reading -------------------------------------------------------------------------------

    def sample(self, t: float) -> Blend | None:
        """The command for time t and how it was made; None when no chunk covers t (the executor
        holds then, and its watchdog counts). Does not drop anything: call `prune` once per tick."""
        covering = [c for c in self._chunks if c.covers(t, self.tolerance)]
        if not covering:
            return None
        if self.mode != "ensemble" or len(covering) == 1:
            chunk = self._executed(t, covering)
            age = t - chunk.t0
            return Blend(t, chunk.at(t), 1, age, age, chunk.seq, (1.0,))
        ranks = np.array([(c.t0 - covering[0].t0) / self.tick_dt for c in covering])
        exponents = -self.m * ranks
        weights = np.exp(exponents - exponents.max())
        if self.fade_s > 0:
            faded = weights * [self._presence(c, t) for c in covering]
            # every chunk at the very start or end of its fade: their plain weights, not nothing
            weights = faded if faded.sum() > 1e-12 else weights
        weights /= weights.sum()
        # every chunk's interpolated action at t as one weighted sum of its two neighbouring rows
        lower, upper, fractions = [], [], []
        for chunk in covering:
            x, last = (t - chunk.t0) / chunk.dt, len(chunk.actions) - 1
            i = 0 if x <= 0 else min(int(x), last)
            fraction = 0.0 if i == last or x <= 0 else x - i
            lower.append(chunk.actions[i])
            upper.append(chunk.actions[min(i + 1, last)])
            fractions.append(fraction)
        f = np.asarray(fractions)
        action = (weights * (1 - f)) @ np.stack(lower) + (weights * f) @ np.stack(upper)
        return Blend(
            t,
            action.astype(np.float32),
            len(covering),
            t - covering[-1].t0,
            t - covering[0].t0,
            covering[-1].seq,
            tuple(float(w) for w in weights),
        )

    def _presence(self, chunk: PlannedChunk, t: float) -> float:
        """0 → 1 over `fade_s` from the chunk's arrival, 1 → 0 over the last `fade_s` it covers."""
        fade_in = smoothstep((t - chunk.arrived) / self.fade_s)
        fade_out = smoothstep((chunk.t_end + self.tolerance - t) / self.fade_s)
        return fade_in * fade_out

    def action_at(self, t: float) -> np.ndarray | None:
        """The (A,) float32 command for time t, or None when nothing covers t."""
        blend = self.sample(t)
        return None if blend is None else blend.action

    def depth_at(self, t: float) -> int:
        """How many chunks would contribute at time t (1 at most outside `ensemble`)."""
        n = sum(c.covers(t, self.tolerance) for c in self._chunks)
        return n if self.mode == "ensemble" else min(n, 1)

    def plan(self, t_start: float, n: int, dt: float) -> np.ndarray:
        """What this ensembler will command at t_start + i·dt for i < n: (n', A) float32 with n' ≤ n,
        cut at the first time nothing covers (so (0, A) when t_start itself is not covered)."""
        rows = []
        for i in range(max(0, n)):
            action = self.action_at(t_start + i * dt)
            if action is None:
                break
            rows.append(action)
        width = self.action_dim or 0
        return np.array(rows, np.float32) if rows else np.zeros((0, width), np.float32)

    def committed(self, t_obs: float, delay_s: float, dt: float, max_steps: int | None = None) -> np.ndarray:
        """Real-time chunking: the actions this plan commits for the chunk the planner is about to make
        from an observation captured at `t_obs` — those for t_obs + i·dt, i < ceil(delay_s / dt), that
        will have run (or be running) before the new chunk arrives `delay_s` after the capture.
        Capped at `max_steps` (a policy can only keep a prefix shorter than its chunk)."""
        steps = max(0, math.ceil(delay_s / dt - 1e-9))
        if max_steps is not None:
            steps = min(steps, max_steps)
        return self.plan(t_obs, steps, dt)

    # --- housekeeping --------------------------------------------------------------------------

    def prune(self, t: float) -> int:
        """Drop chunks that ended before t (minus the tolerance); returns how many. In latest/rtc
        modes, also chunks that the newest chunk covering t has superseded."""
        keep = [c for c in self._chunks if c.t_end + self.tolerance >= t]
        if self.mode != "ensemble":
            covering = [c for c in keep if c.covers(t, self.tolerance)]
            if covering:
                current = self._executed(t, covering)
                if current is not self._running:
                    self._running, self._running_since = current, t
                keep = [c for c in keep if c.t0 >= current.t0]
        dropped = len(self._chunks) - len(keep)
        self._chunks = keep
        return dropped

    def clear(self) -> None:
        """Forget every chunk (after a takeover or an e-stop); counters stay."""
        self._chunks.clear()
        self._running = None

    def _executed(self, t: float, covering: list[PlannedChunk]) -> PlannedChunk:
        """latest/rtc: the chunk that commands t — the running one while its `execute_s` lasts, else
        the newest covering t. Reads state only; `prune` (once a tick) moves it on."""
        running = self._running
        if (
            running is not None
            and t - self._running_since < self.execute_s - 1e-9
            and any(c is running for c in covering)
        ):
            return running
        return covering[-1]

    @property
    def chunks(self) -> tuple[PlannedChunk, ...]:
        """The held chunks, oldest t0 first."""
        return tuple(self._chunks)

    @property
    def newest(self) -> PlannedChunk | None:
        return self._chunks[-1] if self._chunks else None

    @property
    def horizon_end(self) -> float | None:
        """The last time any held chunk covers (the plan runs out after it), None when empty."""
        return max((c.t_end for c in self._chunks), default=None)

    def stats(self) -> dict[str, Any]:
        """Counters for telemetry: chunks held, added, rejected by reason."""
        return {
            "mode": self.mode,
            "held": len(self._chunks),
            "added": self.added,
            "rejected": dict(self.rejected),
        }
