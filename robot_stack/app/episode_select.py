"""Episode lists on the command line: `3`, `0-5`, `1,4,7-9`."""

from __future__ import annotations

from robot_stack.errors import RobotStackError


def parse_selection(text: str) -> list[int]:
    """'1,4,7-9' → [1, 4, 7, 8, 9] (sorted, unique)."""
    out: set[int] = set()
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                if a > b or a < 0:
                    raise ValueError
                out.update(range(a, b + 1))
            else:
                k = int(part)
                if k < 0:
                    raise ValueError
                out.add(k)
        except ValueError:
            raise RobotStackError(
                f"'{part}' is not an episode number or range", hint="write episodes like 3, 0-5 or 1,4,7-9"
            ) from None
    if not out:
        raise RobotStackError("no episodes given", hint="write episodes like 3, 0-5 or 1,4,7-9")
    return sorted(out)
