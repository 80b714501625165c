import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

os.environ.setdefault("MUJOCO_GL", "egl")


@pytest.fixture
def repo_root() -> Path:
    return REPO
