"""A policy trained here, from a scripted demonstration recorded here, deployed through the runtime
(planner thread, ZMQ, temporal ensembling, safety, the Dynamixel driver on the emulated bus) in real
time, completes the task.

The policy is a small ACT trained on one demonstration of one scene until it has learnt it by heart,
then deployed on that same scene: a test of the runtime with a real trained network in the loop, not
of how well a policy generalises (bench/success.py measures that on held-out scenes).
"""

import torch
from deploy_support import running, sim_bench, wait_until, write_rig

from policies import make_config, train
from policies.store_view import open_store
from robot_stack.app.scripted_demos import record_scripted_demos

SEED = 2
# Sized to memorise one demonstration in a few minutes of two CPU cores. A chunk must span the
# demonstration's still moments (the receiver's grip settling before the giver lets go, the scripted
# operator's hesitations, up to ~0.6 s): with 0.4 s chunks the observation there is a fixed point that
# never says "now open", and the handover stalls; with 1 s chunks it completes.
MEMORISE = [
    "act.chunk_size=50",
    "act.hidden_dim=64",
    "act.ff_dim=256",
    "train.batch_size=16",
    "train.steps=5000",
    "train.log_every=500",
    "train.val_every=100000",
    "train.checkpoint_every=100000",
    "train.threads=2",
    "data.val_fraction=0",
]


def test_a_trained_checkpoint_deployed_in_real_time_completes_the_task(tmp_path):
    (tmp_path / "rig").mkdir()
    _, rig = write_rig(tmp_path / "rig")
    demos = record_scripted_demos(rig, tmp_path / "demo.zarr", "transfer_cube", [SEED])
    assert [d.kept for d in demos] == [True]

    threads = torch.get_num_threads()
    try:
        result = train(
            make_config("act", "test", MEMORISE),
            open_store(tmp_path / "demo.zarr"),
            tmp_path / "act",
            show_progress=False,
        )
    finally:
        torch.set_num_threads(threads)
    assert result.best_loss < 0.15, result  # memorised (0.07 when measured)

    with sim_bench(rig, seed=SEED) as bench:
        settings = bench.settings(checkpoint=tmp_path / "act", autostart=False, mode="ensemble", m=0.01)
        with running(bench, settings) as daemon:
            bench.sim.reset(SEED)
            assert daemon.executor.submit("start")[0]
            done = wait_until(bench.sim.success, 25.0, poll_s=0.1)  # the demonstration took ~9 s
            status = daemon.executor.status()
            assert done, (bench.sim.scene.task_status(), status)
    assert status["chunks"]["accepted"] > 100 and status["depth"] > 1  # chunks overlapped and blended
