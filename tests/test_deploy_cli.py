"""`robot-stack deploy` as a process on the simulated rig: `ctl` reaches it from another process, and
SIGTERM parks the followers and exits 0. `ctl` without a daemon says so without a traceback."""

import os
import signal
import subprocess
import sys

from deploy_support import REPO, sim_bench, tiny_checkpoint, wait_until, write_rig

from robot_stack.app.cli import main as cli


def test_sigterm_parks_and_exits_cleanly(tmp_path, capsys):
    rig_path, rig = write_rig(tmp_path)
    with sim_bench(rig, rig_path):
        pass  # calibrated: files beside the rig file, offsets in the simulated motors' EEPROM
    checkpoint = tiny_checkpoint()
    command = [sys.executable, "-m", "robot_stack.app.cli", "--rig", str(rig_path), "deploy"]
    command += ["--checkpoint", str(checkpoint), "--quiet", "--seconds", "60", "--seed", "3"]
    env = {**os.environ, "MUJOCO_GL": "egl", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:

        def driving():
            capsys.readouterr()
            if cli(["--rig", str(rig_path), "ctl", "status", "--json", "--timeout", "1"]) != 0:
                return False
            return '"phase": "running"' in capsys.readouterr().out

        assert wait_until(driving, 60, poll_s=0.5), "the daemon never reached 'running'"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    assert "park: parking over 1 s" in output and "parked" in output
    assert "deploy done (stopped)" in output and "Traceback" not in output


def test_ctl_without_a_daemon_says_so(tmp_path, capsys):
    rig_path, _ = write_rig(tmp_path)
    assert cli(["--rig", str(rig_path), "ctl", "status", "--timeout", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "no reply to 'status'" in err and "is `robot-stack deploy` running" in err
