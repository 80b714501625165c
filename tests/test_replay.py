"""`robot-stack replay` on the simulated rig: a scripted take recorded with `robot-stack record`,
replayed in its own scene, succeeds again and reports its tracking error; what cannot be replayed is
refused with a clear message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from record_support import calibrated_rig

from robot_stack.app.cli import main as cli
from robot_stack.app.replay.trajectory import RecordedTrajectory
from robot_stack.errors import RobotStackError
from robot_stack.rig import load_rig


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> tuple[Path, Path]:
    """A calibrated sim rig and one whole scripted transfer-cube take recorded through `record`."""
    folder = tmp_path_factory.mktemp("replay")
    rig_path = calibrated_rig(folder)
    dataset = folder / "demos.zarr"
    status = cli(
        ["--rig", str(rig_path), "record", "--dataset", str(dataset), "--episodes", "1", "--seed", "4"]
        + ["--reset-seconds", "0.3", "--ramp-in", "0.5"]
    )
    assert status == 0
    return rig_path, dataset


def test_a_recorded_sim_take_succeeds_on_replay_and_tracks_its_recording(recorded, tmp_path, capsys):
    import zarr

    rig_path, dataset = recorded
    attrs = zarr.open_group(dataset / "episodes" / "000000", mode="r").attrs.asdict()
    assert attrs["seed"] == 4 and attrs["success"] is True  # the scripted take itself worked
    capsys.readouterr()

    out_json = tmp_path / "replay.json"
    status = cli(
        ["--rig", str(rig_path), "replay", "--dataset", str(dataset), "--episode", "0"]
        + ["--json", str(out_json)]
    )
    out = capsys.readouterr().out
    assert status == 0, out
    result = json.loads(out_json.read_text())
    assert result["completed"] and result["seed"] == 4 and result["task"] == "transfer_cube"
    assert result["success"] is True, out  # the recorded scene, put back, and the recorded actions
    assert "task succeeded on replay: yes (when recorded: yes)" in out
    tracking = result["tracking"]
    # every replayed tick of the episode was compared with the recording
    assert tracking["ticks"] >= 0.95 * result["recorded_s"] * 50
    assert 0 < tracking["joints"]["rms"] < np.radians(3)
    assert tracking["grippers"]["rms"] < 0.1
    assert "tracking vs the recorded observations: joints RMS" in out


def test_replay_refuses_what_it_cannot_replay(recorded, capsys):
    rig_path, dataset = recorded
    assert cli(["--rig", str(rig_path), "replay", "--dataset", str(dataset), "--episode", "7"]) != 0
    err = capsys.readouterr().err
    assert "has no episode 7" in err and "dataset list" in err


def test_a_rig_whose_joints_differ_from_the_recording_is_refused(recorded):
    from robot_stack.store import Dataset

    rig_path, dataset = recorded
    rig = load_rig(rig_path)
    data = rig.model_dump(mode="json", exclude_none=True)
    data["pairs"] = data["pairs"][::-1]  # right arm first: the recorded columns would go to the wrong arm
    other = type(rig).model_validate(data)
    with Dataset.open(dataset) as ds, pytest.raises(RobotStackError, match="recorded with joints"):
        RecordedTrajectory.from_episode(ds.episode(0), other)


def test_the_trajectory_interpolates_between_recorded_ticks_and_holds_its_ends(recorded):
    from robot_stack.store import Dataset

    rig_path, dataset = recorded
    with Dataset.open(dataset) as ds:
        trajectory = RecordedTrajectory.from_episode(ds.episode(0), load_rig(rig_path))
    t, action = trajectory.t, trajectory.action
    assert t[0] == 0 and trajectory.duration_s == t[-1]
    middle = (t[10] + t[11]) / 2
    goal, observed = trajectory.at(middle)
    np.testing.assert_allclose(goal, (action[10] + action[11]) / 2, atol=1e-9)
    np.testing.assert_allclose(trajectory.at(-1.0)[0], action[0])
    np.testing.assert_allclose(trajectory.at(t[-1] + 5)[1], trajectory.observation[-1])
    assert sum(s.stop - s.start for s in trajectory.columns.values()) == action.shape[1]


def test_a_negative_ramp_in_is_refused_before_anything_moves(recorded, capsys):
    rig_path, dataset = recorded
    argv = ["--rig", str(rig_path), "replay", "--dataset", str(dataset), "--episode", "0", "--ramp-in", "-1"]
    assert cli(argv) != 0
    assert "--ramp-in -1 is negative" in capsys.readouterr().err


def test_timestamps_that_do_not_increase_and_non_finite_values_are_refused(recorded):
    from types import SimpleNamespace

    rig_path, _ = recorded
    rig = load_rig(rig_path)
    names = rig.follower_joint_names()
    good = np.zeros((5, len(names)), np.float32)

    def episode(t, action):
        return SimpleNamespace(index=3, joint_names=names, t=np.asarray(t), action=action, observation=good)

    with pytest.raises(RobotStackError, match="timestamps that do not increase"):
        RecordedTrajectory.from_episode(episode([0, 0.02, 0.04, 0.03, 0.08], good), rig)
    bad = good.copy()
    bad[2, 1] = np.nan
    with pytest.raises(RobotStackError, match="non-finite action"):
        RecordedTrajectory.from_episode(episode([0, 0.02, 0.04, 0.06, 0.08], bad), rig)
    with pytest.raises(RobotStackError, match="nothing to replay"):
        RecordedTrajectory.from_episode(episode([0.0], good[:1]), rig)
