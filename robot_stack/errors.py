"""The one exception type a user sees: what went wrong, where, and what to do about it."""

from __future__ import annotations


class RobotStackError(Exception):
    """An error meant for a person at the rig, not a developer.

    `message` says what is wrong and names the file, field, device, port or motor involved;
    `hint` says what to do. The CLI prints both without a traceback.
    """

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  fix: {self.hint}"
