"""kill -9 in the middle of an episode: earlier episodes intact, the store opens, the leftover is reported and cleaned."""

import hashlib
import signal
import subprocess
import sys
from pathlib import Path

from process_support import assert_exits

from robot_stack.store import Dataset
from robot_stack.store.synthetic import feed_synthetic

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys
from robot_stack.store import Dataset
from robot_stack.store.synthetic import feed_synthetic, synthetic_rig

rig = synthetic_rig()
ds = Dataset.create(sys.argv[1], rig)
for k in range(2):
    writer = ds.begin_episode("stack_blocks", operator="crash-test")
    feed_synthetic(writer, 0.3, rig, seed=k, keep_frames=False)
    print("committed", writer.finish(), flush=True)
writer = ds.begin_episode("doomed", operator="crash-test")
print("writer process", ds.writer_pid, flush=True)
start = 100.0
while True:  # record until killed
    feed_synthetic(writer, 0.2, rig, start=start, keep_frames=False, noise_sigma=4.0)
    start += 0.2
    if start > 100.5:
        print("writing", flush=True)
"""


def digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_kill_9_mid_episode_loses_only_that_episode(tmp_path):
    path = tmp_path / "demos.zarr"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    try:
        lines = []
        while not lines or lines[-1] != "writing":
            line = child.stdout.readline().strip()
            assert line, f"child exited early with {child.wait()} after {lines}"
            lines.append(line)
            if line == "committed 1":
                before = digest(path / "episodes")
            if line.startswith("writer process"):
                writer_pid = int(line.split()[-1])
        partials = [p for p in (path / ".staging").iterdir() if p.name.startswith("partial-")]
        assert len(partials) == 1  # the doomed episode is on disk, invisible
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert lines[:2] == ["committed 0", "committed 1"]
    assert_exits(writer_pid, 10.0, "the writer process of a killed recorder")
    assert digest(path / "episodes") == before

    ds = Dataset.open(path)
    assert ds.indices() == [0, 1]
    [left] = ds.leftovers
    assert left.kind == "partial" and left.task == "doomed" and left.removed and left.bytes > 0
    assert "unfinished episode (task 'doomed'" in str(left) and "deleted" in str(left)
    assert not any(p.name.startswith("partial-") for p in (path / ".staging").iterdir())
    for k in (0, 1):
        ep = ds.episode(k)
        assert len(ep) == 15 and ep.camera("cam_high").frames[0].shape == (96, 128, 3)
    assert Dataset.open(path).leftovers == []
    with Dataset.resume(path, ds.rig) as again:  # and recording goes on after the crash
        writer = again.begin_episode("after the crash")
        feed_synthetic(writer, 0.1, again.rig, keep_frames=False)
        assert writer.finish() == 2
