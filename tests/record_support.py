"""A small calibrated sim rig for the recording and replay tests (a helper module, not a test file).

The default sim rig with its ports in a test folder, two small cameras (so the renders leave the two
cores to the loop) and short ramp-in and park times; its arms are calibrated once, the calibration
files beside the rig file and the motors' EEPROM beside their ports.
"""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def write_rig(folder: Path, **camera_changes) -> Path:
    from drivers.sim.rig import rig_with_ports_in
    from robot_stack.rig import load_rig

    rig = rig_with_ports_in(load_rig(REPO / "hardware.yaml"), folder)
    data = rig.model_dump(mode="json", exclude_none=True)
    data["cameras"] = {
        name: {**data["cameras"][name], "width": 128, "height": 96, "fps": 15, **camera_changes}
        for name in ("cam_high", "cam_left_wrist")
    }
    data["deploy"]["safety"].update(ramp_in_s=0.5, park_s=0.5)
    path = folder / "rig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def calibrated_rig(folder: Path) -> Path:
    from calibration.files import calibration_path, load_rig_calibration, save_calibration
    from calibration.guides import AutoGuide
    from calibration.procedure import calibrate_arm
    from drivers.dynamixel.arm import DynamixelArm
    from drivers.sim.rig import SimRig
    from robot_stack.rig import load_rig

    path = write_rig(folder)
    rig = load_rig(path)
    with SimRig(rig, realtime=True, operator=False, seed=1) as sim:
        for name in rig.arms:
            with DynamixelArm.from_rig(rig, name, torque=False) as arm:
                save_calibration(
                    calibrate_arm(arm, AutoGuide(sim), rig.name), calibration_path(rig, path, name)
                )
    # what the workflows will load: every arm's file, beside the rig file (raises naming a missing one)
    assert set(load_rig_calibration(rig, path)) == set(rig.arms)
    return path
