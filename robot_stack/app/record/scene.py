"""What happens to the world between takes and at their ends.

On hardware the operator resets the scene by hand: nothing to do here, and success is not known.
On the simulated rig the scene is re-randomised for each new take (a new seed, stored with the
episode), the scripted operator (if it does the demonstrations) starts with the take, and the
simulator says whether the task succeeded.
"""

from __future__ import annotations

from collections.abc import Callable

from robot_stack.app.sim_session import SimSession
from robot_stack.app.teleop.perturbation import SteadySpans
from robot_stack.clock import MonotonicClock

SCRIPT_TAIL_S = 1.0  # recorded after the scripted operator's last waypoint: the result settles


class HandScene:
    """A real rig: a person resets the scene in the reset phase."""

    sim = False
    scripted = False

    def new_scene(self, seed: int | None) -> None:
        pass

    def start_take(self, seed: int | None) -> float | None:
        """Prepare the take; the episode length it suggests (None: no suggestion)."""
        return None

    def outcome(self) -> bool | None:
        return None

    def steady_spans(self) -> SteadySpans | None:
        """When, in clock time, the take's operator needs steady hands (None: not known)."""
        return None


class SimScene:
    sim = True

    def __init__(
        self,
        session: SimSession,
        task: str,
        scripted: bool,
        tail_s: float = SCRIPT_TAIL_S,
        now: Callable[[], float] = MonotonicClock.now,
    ):
        self.session = session
        self.task = task
        self.scripted = scripted
        self.tail_s = tail_s
        self.now = now  # the recorder's clock
        self.status: dict = {}
        self.status_t = 0.0  # when, on the recorder's clock, the simulator wrote `status`

    def new_scene(self, seed: int | None) -> None:
        """Objects at the poses of `seed`, arms home, leaders still (teleop keeps running)."""
        self.session.set_operator(False)
        self.session.reset(seed, self.task)

    def start_take(self, seed: int | None) -> float | None:
        # The same seed again: the scene is where it was, but its clock (and the operator's script)
        # restarts with the take.
        self.status = self.session.reset(seed, self.task)
        if not self.scripted:
            return None
        self.session.set_operator(True)
        asked = self.now()
        self.status = self.session.status()
        # the midpoint of the round trip: a reply held up under load shifts it by half the wait, not all
        self.status_t = (asked + self.now()) / 2
        duration = self.status.get("operator_duration")
        return None if duration is None else float(duration) + self.tail_s

    def outcome(self) -> bool | None:
        self.status = self.session.status()
        return bool(self.status.get("success"))

    def steady_spans(self) -> SteadySpans | None:
        spans = self.status.get("operator_steady_spans") if self.scripted else None
        if not spans:
            return None
        # the operator's clock restarted with the take (physics time can trail it by a few ms)
        return SteadySpans(spans, origin=self.status_t - float(self.status["operator_time"]))
