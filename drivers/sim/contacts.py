"""Which geoms touch which, read from MuJoCo's contact list: the raw material of every success check."""

from __future__ import annotations

import mujoco
import numpy as np


def body_geoms(model: mujoco.MjModel, body_name: str, subtree: bool = False) -> frozenset[int]:
    """Geoms of a body (and, with `subtree`, of every body below it)."""
    root = model.body(body_name).id
    bodies = {root}
    if subtree:
        for b in range(model.nbody):
            parent = b
            while parent not in (0, root):
                parent = model.body_parentid[parent]
            if parent == root:
                bodies.add(b)
    return frozenset(int(g) for g in np.flatnonzero(np.isin(model.geom_bodyid, list(bodies))))


def geom_ids(model: mujoco.MjModel, *names: str) -> frozenset[int]:
    return frozenset(model.geom(n).id for n in names)


class ContactSet:
    """The geom pairs in contact right now (penetrating or within `margin` metres)."""

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, margin: float = 1e-3):
        n = data.ncon
        close = data.contact.dist[:n] <= margin
        g1 = data.contact.geom1[:n][close]
        g2 = data.contact.geom2[:n][close]
        self._pairs = {(int(a), int(b)) for a, b in zip(g1, g2, strict=True)}
        self._pairs |= {(b, a) for a, b in self._pairs}

    def touching(self, a: frozenset[int], b: frozenset[int]) -> bool:
        return any(pa in a and pb in b for pa, pb in self._pairs)
