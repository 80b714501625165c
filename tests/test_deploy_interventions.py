"""HG-DAgger on the simulated rig, driven through `robot-stack ctl`: the leaders follow the followers
while the policy drives; on takeover they go limp and drive the followers, on release the policy
resumes from the current pose — no goal ever steps further than the step limit — and the run is
recorded as an episode with the intervention flagged per tick and tagged."""

import time

import numpy as np
from deploy_support import CommandLog, assert_within_limits, running, sim_bench, wait_until, write_rig

from deploy.scripted_policy import ScriptedReplayPolicy
from robot_stack.app.cli import main as cli
from robot_stack.store import Dataset


def test_takeover_and_release_are_bumpless_and_recorded_as_an_intervention(tmp_path, capsys):
    rig_path, rig = write_rig(tmp_path)
    dataset = tmp_path / "dagger.zarr"
    logs = {}

    def ctl(*action):
        return cli(["--rig", str(rig_path), "ctl", *action])

    with sim_bench(rig, rig_path) as bench:
        policy = ScriptedReplayPolicy(rig, "transfer_cube", 1, time_origin=float("inf"))
        settings = bench.settings(autostart=False, record_to=dataset, task="transfer_cube")
        with running(bench, settings, policy, lambda d: logs.setdefault("log", CommandLog(d))) as daemon:
            executor = daemon.executor
            bench.sim.reset(1)
            policy.restart(1, time.monotonic() + rig.deploy.safety.ramp_in_s + 0.1)
            assert ctl("start") == 0
            time.sleep(2.5)  # the policy reaches for the cube
            # the leaders, torque on, follow their followers
            leader, follower = (
                daemon.arms.read_values("left_leader"),
                daemon.arms.read_values("left_follower"),
            )
            assert np.abs(leader[:6] - follower[:6]).max() < 0.1
            assert ctl("status") == 0 and "running" in capsys.readouterr().out

            taken = time.monotonic()
            assert ctl("takeover") == 0
            assert wait_until(lambda: executor.leaders.settled and executor.phase == "takeover", 2)
            # the operator's hand moves the limp leader: the follower goes along, within its limits
            moved = daemon.arms.read_values("left_leader")
            moved[0] += 0.3
            bench.sim.pose_arm("left_leader", moved)
            assert wait_until(lambda: abs(daemon.arms.read_values("left_follower")[0] - moved[0]) < 0.05, 3)
            released = time.monotonic()
            assert ctl("release") == 0
            bench.sim.pose_arm("left_leader", None)
            assert wait_until(lambda: executor.phase == "running", 3)
            time.sleep(1.0)
            assert ctl("stop") == 0
            assert executor.wait_for(("parked",), 5)
            assert ctl("watch", "--seconds", "0.5") == 0
            assert ctl("release") == 1  # nothing to release
            assert ctl("estop") == 0  # parked already: the torque policy, then the daemon ends
            assert wait_until(lambda: executor.ended, 5) and executor.phase == "stopped"
            assert daemon.join(5).phase == "stopped"
        assert_within_limits(logs["log"], rig, daemon)
    out, err = capsys.readouterr()
    assert "watched" in out and "not taken over" in err

    # bumpless: around each handover the goals move no more than a few limit-sized steps
    log = logs["log"]
    for t in (taken, released):
        goals = log.values("left_follower", since=t - 0.1, until=t + 0.1)
        assert np.abs(goals - goals[0])[:, :6].max() < 5 * rig.deploy.safety.max_step_rad

    with Dataset.open(dataset) as data:
        assert data.indices() == [0]
        episode = data.episode(0)
        flags = episode.extras["intervention"][:]
        assert episode.tags == ["deploy", "intervention"]
        assert episode.attrs["task"] == "transfer_cube" and episode.attrs["operator"] == "policy"
        (first, last), *more = episode.attrs["extra"]["interventions"]
        assert not more and flags[first : last + 1].all() and flags.sum() == last - first + 1
        assert 0 < first and last < len(flags) - 1
        t = episode.t[:]
        assert taken <= t[first] < released <= t[last + 1]  # flagged from the takeover to the release
        assert episode.observation.shape == (len(flags), 14) and episode.action.shape == (len(flags), 14)
        assert episode.camera("cam_high").t.shape[0] > 10
