"""Camera failures a person at the rig has to hear about, by camera name."""

from __future__ import annotations

from robot_stack.errors import RobotStackError


class CameraStalled(RobotStackError):
    """A camera stopped delivering frames. Raised by `latest()` and `check()`, passed to `on_stall`.

    The last frame is never repeated in its place: a recording either has real frames or knows it
    has none.
    """

    def __init__(
        self, name: str, seconds: float, frames: int, reason: str | None = None, hint: str | None = None
    ):
        self.name = name
        self.seconds = seconds
        self.frames = frames
        self.reason = reason
        what = f"camera '{name}' stalled: no frame for {seconds:.2f} s (after {frames} frames)"
        if reason:
            what += f"; {reason}"
        super().__init__(
            what,
            hint=hint
            or "check its cable and USB port (a loose connector or a saturated USB controller stops "
            "frames first), then restart; the episode in progress has a gap in this camera",
        )
