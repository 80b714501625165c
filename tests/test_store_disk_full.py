"""A full disk for real: a 2 MB tmpfs. The episode in progress fails loudly; everything before it stays."""

import hashlib
import subprocess
from pathlib import Path

import pytest

from robot_stack.errors import RobotStackError
from robot_stack.store import Dataset
from robot_stack.store.synthetic import feed_synthetic, synthetic_rig

RIG = synthetic_rig()


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_disk_full_fails_the_episode_loudly_and_keeps_the_rest(small_disk):
    path = small_disk / "demos.zarr"
    with Dataset.create(path, RIG) as ds:
        writer = ds.begin_episode("small")
        feed_synthetic(writer, 0.3, RIG, keep_frames=False)
        assert writer.finish() == 0
        before = digest(path / "episodes")

        writer = ds.begin_episode("too big")
        start = 100.0
        with pytest.raises(RobotStackError) as err:
            while start < 130:  # noisy frames: ~20 KB each, 2 MB fills within a few seconds of footage
                feed_synthetic(writer, 0.5, RIG, start=start, keep_frames=False, noise_sigma=40.0)
                start += 0.5
        message = err.value.message
        assert "disk full" in message and str(path) in message and " free" in message
        assert "earlier episodes are intact" in message and "--resume" in err.value.hint
        assert writer.stats().state == "failed"
        with pytest.raises(RobotStackError, match="disk full"):
            writer.finish()
        assert digest(path / "episodes") == before
        assert [p.name for p in (path / ".staging").iterdir()] == ["zarr.json"]  # no partial left behind

        writer = ds.begin_episode("after freeing space")  # the failed episode's space came back
        feed_synthetic(writer, 0.2, RIG, keep_frames=False)
        assert writer.finish() == 1

    reopened = Dataset.open(path)
    assert reopened.indices() == [0, 1] and reopened.leftovers == []
    assert reopened.episode(0).camera("cam_high").frames[0].shape == (96, 128, 3)
