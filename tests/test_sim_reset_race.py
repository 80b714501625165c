"""A reset of the running simulated rig restarts the scene's time at zero, even when the physics thread
was in the middle of a step computed from the time before the reset (it must not run the new scene
ahead, which would then stand still until the wall clock caught up — seen as deploy episodes after
the first one failing with the arms frozen)."""

import time

from drivers.sim.rig import SimRig


def test_a_reset_while_physics_steps_restarts_scene_time(sim_rig_spec):
    with SimRig(sim_rig_spec, realtime=True, operator=False) as sim:
        time.sleep(1.0)
        original = sim.scene.reset

        def slow_reset(seed=None):
            with sim.scene.lock:  # the physics thread, mid-step, waits here with its target
                time.sleep(0.1)
                original(seed)

        sim.scene.reset = slow_reset
        sim.reset(3)
        time.sleep(0.3)
        assert abs(sim.sim_time() - sim.scene.time) < 0.1, (sim.sim_time(), sim.scene.time)
