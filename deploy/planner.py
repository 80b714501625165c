"""The planning thread: latest observation → policy → action chunk stamped with the observation's
capture time (DESIGN.md §6).

    policy = Policy.load("runs/act"); policy.warmup()
    with Planner(policy, PlannerLink("inproc://plan", state_dim=14, cameras=["cam_high"])) as planner:
        ...                      # the executor's ExecutorLink connects to inproc://plan
        planner.stats()          # planned, dropped, latency percentiles, …

Each loop takes the newest observation waiting on the link (older ones are skipped: keep-latest),
runs `policy.predict`, and answers the executor that sent it with a `ChunkMessage` whose t0 is the
observation's capture time, so the executor places every action in time whatever the latency. The
planner survives anything an observation does: undecodable ones are counted by the link, ones the
policy refuses (missing camera, wrong state size) are counted in `dropped["policy_refused"]`, an
unexpected policy exception in `dropped["policy_error"]` (with `last_error`); the executor is told
with an `observation_dropped` event each time, and its watchdog covers a planner that keeps failing.

Modes (`mode`, matching the executor's ensembler):
- ``ensemble`` / ``latest``: plan from the observation alone.
- ``rtc``: real-time chunking. The planner keeps a shadow of the plan the executor runs (its own
  chunks, newest first — what an executor in ``rtc`` mode executes) and passes the policy
  `prefix` = the actions that will have executed before the new chunk arrives (`expected_delay`)
  and, with `rtc_guidance`, `previous` = the rest of the current plan for soft guidance
  (policies.guidance). Needs a policy with `supports_prefix` (diffusion or flow).

`added_latency_s` holds each chunk back that long before sending, as a slower policy or network
would (benchmarks of latency robustness); `stop()` interrupts it.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np

from deploy.ensemble import MODES, TemporalEnsembler
from deploy.transport import ObservationRequest, PlannerLink
from robot_stack.errors import RobotStackError
from robot_stack.wire import ChunkMessage, Event, Observation


class PolicyLike(Protocol):
    """What the planner needs of a policy (policies.Policy has it)."""

    @property
    def dt(self) -> float: ...

    @property
    def chunk_length(self) -> int: ...

    @property
    def supports_prefix(self) -> bool: ...

    def predict(self, observation: Mapping, prefix: np.ndarray | None = None, **kwargs: Any) -> Any:
        """→ an object with `actions` (k, A) float32 and `dt`."""
        ...

    def reset(self) -> None: ...


class Planner:
    """Runs `policy` on the observations arriving on `link`, in a thread.

    `mode`: ensemble | latest | rtc. `policy_id`: a name stamped on every chunk. `tick_dt`: the
    executor's period (the rtc shadow plan's coverage tolerance). `rtc_margin_s`: added to the
    measured compute time when estimating how long a new chunk takes to reach the executor (transport,
    the executor's tick). `latency_window`: how many recent latencies the percentiles cover.

    `start()` opens the link if it is not open yet (and `stop()` then closes it); use as a context
    manager. `plan(observation)` is one planning step without sockets (tests, lockstep evaluation).
    """

    def __init__(
        self,
        policy: PolicyLike,
        link: PlannerLink,
        *,
        mode: str = "ensemble",
        policy_id: str = "",
        added_latency_s: float = 0.0,
        tick_dt: float = 0.02,
        rtc_margin_s: float = 0.02,
        rtc_guidance: bool = True,
        latency_window: int = 200,
        poll_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ):
        if mode not in MODES:
            raise RobotStackError(f"planner mode {mode!r} is not one of {', '.join(MODES)}")
        if mode == "rtc" and not policy.supports_prefix:
            raise RobotStackError(
                "real-time chunking (mode rtc) needs a diffusion or flow policy; this one takes no prefix",
                hint="use mode ensemble or latest with ACT",
            )
        if added_latency_s < 0:
            raise RobotStackError(f"added latency {added_latency_s} s is negative", hint="use 0 or more")
        self.policy, self.link, self.mode, self.policy_id = policy, link, mode, policy_id
        self.added_latency_s, self.rtc_margin_s, self.poll_s, self.clock = (
            added_latency_s,
            rtc_margin_s,
            poll_s,
            clock,
        )
        self.rtc_guidance = rtc_guidance and _accepts(policy.predict, "previous")
        self.shadow = TemporalEnsembler("rtc", tick_dt=tick_dt)
        self._latencies: deque[float] = deque(maxlen=latency_window)  # receive → send, s
        self._compute: deque[float] = deque(maxlen=latency_window)  # predict alone, s
        self._episode: int | None = None
        self._seq = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._opened_link = False
        self._lock = threading.Lock()
        self.planned = 0
        self.dropped: dict[str, int] = {}
        self.nonfinite_chunks = 0
        self.last_error: str | None = None
        self.last_prefix_length = 0

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> Planner:
        if self._thread is not None:
            return self
        if self.link.channel.socket is None:
            self.link.open()
            self._opened_link = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="planner", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop the thread (interrupting an added-latency wait) and close the link if start opened it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
            if self._thread.is_alive():
                raise RobotStackError(
                    f"the planner did not stop within {timeout_s} s (a policy call is still running)",
                    hint="a very slow policy delays shutdown; the process can exit anyway",
                )
            self._thread = None
        if self._opened_link:
            self.link.close()
            self._opened_link = False

    def __enter__(self) -> Planner:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def is_running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            request = self.link.recv_latest(self.poll_s)
            if request is not None:
                self._serve(request)

    # --- planning ------------------------------------------------------------------------------

    def _serve(self, request: ObservationRequest) -> None:
        t_received = self.clock()
        observation = request.observation
        try:
            chunk = self.plan(observation)
        except ObservationDropped as exc:
            self.link.send_event(
                request.peer,
                Event(self.clock(), "observation_dropped", "warning", exc.detail, observation.seq),
            )
            return
        if self.added_latency_s > 0 and self._stop.wait(self.added_latency_s):
            return
        chunk = _with_compute(chunk, self.clock() - t_received)
        with self._lock:  # counted before it leaves: whoever receives it may ask for the stats at once
            self._latencies.append(chunk.compute_s)
        self.link.send_chunk(request.peer, chunk)

    def plan(self, observation: Observation) -> ChunkMessage:
        """One planning step: the chunk for `observation` (t0 = its capture time; `compute_s` the policy
        call alone). Raises `ObservationDropped` (counted in `dropped`) when the policy refuses the
        observation or fails. A new `episode` number resets the policy's history and the rtc plan."""
        if observation.episode != self._episode:
            self.policy.reset()
            self.shadow.clear()
            self._episode = observation.episode
        kwargs: dict[str, Any] = {}
        if self.mode == "rtc":
            kwargs = self._rtc_inputs(observation)
        t_start = self.clock()
        try:
            result = self.policy.predict(observation.as_policy_input(), **kwargs)
        except RobotStackError as exc:
            raise self._drop("policy_refused", exc.message) from None
        except Exception as exc:  # a broken policy must not kill the planner; the watchdog covers it
            self.last_error = f"{type(exc).__name__}: {exc}"
            raise self._drop("policy_error", self.last_error) from None
        compute = self.clock() - t_start
        actions = np.ascontiguousarray(result.actions, dtype=np.float32)
        if not np.isfinite(actions).all():
            self.nonfinite_chunks += 1  # sent anyway: the executor's safety layer rejects and logs it
        self._seq += 1
        chunk = ChunkMessage(
            actions,
            t0=observation.t,
            dt=float(result.dt),
            seq=self._seq,
            obs_seq=observation.seq,
            episode=observation.episode,
            policy=self.policy_id,
            compute_s=compute,
        )
        if self.mode == "rtc" and np.isfinite(actions).all():
            self.shadow.add(actions, observation.t, chunk.dt, chunk.seq)
        with self._lock:
            self._compute.append(compute)
            self.planned += 1
        return chunk

    def expected_delay(self, observation: Observation | None = None) -> float:
        """How long after its capture a new chunk starts executing: the 90th percentile of recent
        planning latency (compute + added latency) plus `rtc_margin_s`, or the executor's own
        measurement carried by the observation (`delay_s`) when that is larger."""
        with self._lock:
            latencies, compute = list(self._latencies), list(self._compute)
        if latencies:  # measured receive → send, added latency included
            own = float(np.percentile(latencies, 90))
        else:
            own = (float(np.percentile(compute, 90)) if compute else 0.0) + self.added_latency_s
        own += self.rtc_margin_s
        reported = observation.delay_s if observation is not None and observation.delay_s is not None else 0.0
        return max(own, reported)

    def _rtc_inputs(self, observation: Observation) -> dict[str, Any]:
        self.shadow.prune(observation.t)
        dt, length = float(self.policy.dt), int(self.policy.chunk_length)
        prefix = self.shadow.committed(
            observation.t, self.expected_delay(observation), dt, max_steps=length - 1
        )
        self.last_prefix_length = len(prefix)
        kwargs: dict[str, Any] = {}
        if len(prefix):
            kwargs["prefix"] = prefix
        if self.rtc_guidance:
            previous = self.shadow.plan(observation.t, length, dt)
            if len(previous) > len(prefix):
                kwargs["previous"] = previous
        return kwargs

    def _drop(self, reason: str, detail: str) -> ObservationDropped:
        with self._lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + 1
        return ObservationDropped(detail)

    # --- reporting -----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters and latency percentiles (ms) over the last `latency_window` chunks: `latency_ms`
        is receive → send (compute + added latency), `compute_ms` the policy call alone."""
        with self._lock:
            latencies, compute = list(self._latencies), list(self._compute)
            dropped = dict(self.dropped)
            planned = self.planned
        return {
            "mode": self.mode,
            "planned": planned,
            "dropped": dropped,
            "nonfinite_chunks": self.nonfinite_chunks,
            "last_error": self.last_error,
            "latency_ms": _percentiles(latencies),
            "compute_ms": _percentiles(compute),
            "rtc_prefix": self.last_prefix_length,
            "link": self.link.stats(),
        }


class ObservationDropped(Exception):
    """`Planner.plan` could not plan from an observation (`detail` says why); counted in `dropped`."""

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


def _with_compute(chunk: ChunkMessage, seconds: float) -> ChunkMessage:
    return ChunkMessage(
        chunk.actions, chunk.t0, chunk.dt, chunk.seq, chunk.obs_seq, chunk.episode, chunk.policy, seconds
    )


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ms = np.asarray(values) * 1000
    return {
        "p50": float(np.percentile(ms, 50)),
        "p90": float(np.percentile(ms, 90)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "last": float(ms[-1]),
        "n": len(values),
    }


def _accepts(function: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False
