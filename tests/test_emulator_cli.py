"""`robot-stack emulate` in its own process, the way the sim rig and a person run it."""

import signal
import subprocess
import sys
import time

import pytest
from dynamixel_sdk import COMM_SUCCESS, PacketHandler, PortHandler

from robot_stack.app.cli import main


def wait_for(path, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not path.is_symlink():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_emulate_serves_a_rig_arm_until_terminated(tmp_path, repo_root):
    link = tmp_path / "ttyDXL_left_follower"
    cmd = [
        sys.executable,
        "-m",
        "robot_stack.app.cli",
        "--rig",
        str(repo_root / "hardware.yaml"),
        "emulate",
        "--arm",
        "left_follower",
        "--port",
        str(link),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=repo_root)
    try:
        wait_for(link)
        port = PortHandler(str(link))
        assert port.openPort()
        found, result = PacketHandler(2.0).broadcastPing(port)
        port.closePort()
        assert result == COMM_SUCCESS and sorted(found) == list(range(1, 10))  # 7 joints + 2 shadows
        assert found[1][0] == 1120  # xm540-w270
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, out
    assert "stopped: 1 packets in, 9 replies out" in out
    assert not link.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["emulate", "--port", "/tmp/x", "--motors", "1:xm999-w1"], "unknown model 'xm999-w1'"),
        (["emulate", "--port", "/tmp/x", "--motors", "1:xm430-w350,1:xl430-w250"], "appears twice"),
        (["emulate", "--motors", "1:xm430-w350"], "--port is required"),
        (["emulate", "--port", "/tmp/x", "--motors", "1:xm430-w350", "--baud", "12345"], "12345"),
        (["emulate", "--arm", "nope"], "no arm 'nope'"),
    ],
)
def test_emulate_refuses_bad_arguments_with_a_message(argv, message, repo_root, capsys):
    assert main(["--rig", str(repo_root / "hardware.yaml"), *argv]) == 1
    assert message in capsys.readouterr().err.replace("\n", "")


def test_emulate_will_not_replace_a_real_file(tmp_path, capsys):
    target = tmp_path / "ttyUSB0"
    target.write_text("a device")
    assert main(["emulate", "--port", str(target), "--motors", "1:xm430-w350"]) == 1
    assert "not a symlink" in capsys.readouterr().err
    assert target.read_text() == "a device"
