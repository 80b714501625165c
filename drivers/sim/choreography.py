"""Both arms' scripts advanced phase by phase, with a person's timing.

A phase is what one would say aloud ("reach for the cube", "close the hand"): each arm gets at most one
move, the arms start a little apart, every move takes a bit more or less than nominal, and now and
then the operator hesitates — before a phase, or stopping short of a target before finishing the move.
The next phase starts when both arms are done, as a person waits for one hand before using the other.

A phase can be marked steady: a moment where the hands must be exactly where the plan puts them
(fingers closing on an object, one hand passing it to the other). Recording with injected noise
(`record --noise`) lets the noise fade out over those spans, so a take is not lost to a random push
at the one moment no correction can save it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drivers.sim.trajectory import ArmScript, Pose


@dataclass(frozen=True)
class Move:
    pose: Pose | None  # None: the arm stays where it is (e.g. only the gripper moves)
    duration: float  # nominal seconds
    grip: float | None = None  # gripper fraction to reach by the end of the move
    line: bool = False  # straight Cartesian line (fine moves) instead of a joint-space swing


@dataclass(frozen=True)
class HumanStyle:
    """How one operator moves in one episode; drawn from the episode's seed."""

    tempo: float  # >1 slower than nominal
    duration_jitter: float  # sigma of the lognormal factor on every move's duration
    max_reaction_s: float  # the second arm of a phase starts up to this much later
    hesitation_p: float  # chance per phase of a pause, or of stopping short of the target
    tremor_rad: float  # amplitude of physiological tremor per joint

    @classmethod
    def steady(cls) -> HumanStyle:
        """Nominal timing, both arms together, no pause and no tremor: a machine's demonstration."""
        return cls(tempo=1.0, duration_jitter=0.0, max_reaction_s=0.0, hesitation_p=0.0, tremor_rad=0.0)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> HumanStyle:
        return cls(
            tempo=float(rng.uniform(0.9, 1.15)),
            duration_jitter=0.08,
            max_reaction_s=0.15,
            hesitation_p=float(rng.uniform(0.03, 0.12)),
            tremor_rad=float(rng.uniform(0.0005, 0.0015)),
        )


class Choreography:
    def __init__(self, scripts: dict[str, ArmScript], rng: np.random.Generator, style: HumanStyle):
        self.scripts = scripts
        self.rng = rng
        self.style = style
        self.t = 0.0
        self.hesitations = 0
        self.steady_spans: list[tuple[float, float]] = []  # (start, end) of the phases marked steady

    def pause(self, seconds: float) -> None:
        self.t += seconds

    def phase(self, moves: dict[str, Move], settle: float = 0.1, steady: bool = False) -> None:
        rng, style = self.rng, self.style
        start = phase_start = self.t
        if rng.random() < style.hesitation_p:
            start += rng.uniform(0.2, 0.5)
            self.hesitations += 1
        end = start
        first = rng.choice(sorted(moves)) if len(moves) > 1 else None
        for side, move in sorted(moves.items()):
            script = self.scripts[side]
            delay = 0.0 if side == first or first is None else rng.uniform(0.0, style.max_reaction_s)
            script.hold_until(start + delay)
            duration = move.duration * style.tempo * rng.lognormal(0.0, style.duration_jitter)
            if move.line and move.pose is not None and rng.random() < style.hesitation_p:
                # stop about a centimetre or two short, look, then finish the move
                self.hesitations += 1
                short = script.pose.interpolate(move.pose, rng.uniform(0.6, 0.8))
                script.move(short, duration * 0.75, move.grip, line=True)
                script.hold_until(script.end_time + rng.uniform(0.15, 0.4))
                script.move(move.pose, duration * 0.4, move.grip, line=True)
            else:
                script.move(move.pose, duration, move.grip, move.line)
            end = max(end, script.end_time)
        self.t = end + settle * style.tempo
        if steady:
            # consecutive steady phases make one span, a hesitation between them included
            if self.steady_spans and self.steady_spans[-1][1] >= phase_start:
                start = self.steady_spans.pop()[0]
            self.steady_spans.append((start, self.t))

    def finish(self, hold_s: float) -> float:
        """Hold everything still for `hold_s` more seconds; return the episode length."""
        self.t += hold_s
        for script in self.scripts.values():
            script.hold_until(self.t)
        return self.t
