import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture
def repo_root() -> Path:
    return REPO


@pytest.fixture
def sim_rig_spec(tmp_path):
    """The default sim rig with its ports in this test's own folder."""
    from drivers.sim.rig import rig_with_ports_in
    from robot_stack.rig import load_rig

    return rig_with_ports_in(load_rig(REPO / "hardware.yaml"), tmp_path)
