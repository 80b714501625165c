"""`robot-stack motors ...` against an emulated chain: what a person assembling an arm runs."""

from __future__ import annotations

import pytest

from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig
from robot_stack.app.cli import main

RIG = """\
name: bench-arm
backend: hardware
arms:
  left_follower:
    role: follower
    side: left
    port: {port}
    baud_rate: 1000000
    gripper: gripper
    motors:
      waist: {{id: 1, model: xm430-w350}}
      elbow: {{id: 4, model: xm430-w350}}
      gripper: {{id: 9, model: xl330-m288}}
"""


@pytest.fixture
def chain():
    motors = [
        EmulatedMotorConfig(id=1, model="xm430-w350"),
        EmulatedMotorConfig(id=4, model="xm430-w350"),
        EmulatedMotorConfig(id=2, model="xl330-m288", baud_rate=57600),  # new, still at the factory baud
    ]
    with DynamixelChainEmulator(motors, baud_rate=1_000_000) as emu:
        yield emu


@pytest.fixture
def rig(tmp_path, chain):
    path = tmp_path / "rig.yaml"
    path.write_text(RIG.format(port=chain.port_path))
    return path


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["motors", "--help"])
    out = capsys.readouterr().out
    assert "robot-stack motors scan --port /dev/ttyUSB0 --all-bauds" in out and "set-id" in out


def test_scan_finds_ids_models_and_firmware(capsys, chain):
    code, out = run(capsys, "motors", "scan", "--port", chain.port_path)
    assert code == 0 and "xm430-w350" in out and "48" in out
    assert "xl330" not in out  # it talks at 57.6 kbps
    code, out = run(capsys, "motors", "scan", "--port", chain.port_path, "--all-bauds", "--ids", "0-5")
    assert code == 0 and "57.6 kbps" in out and "xl330-m288" in out and "1 Mbps" in out


def test_assembling_a_new_motor_with_the_rig_file(capsys, chain, rig):
    # The rig wants the gripper at id 9, 1 Mbps; the new motor is id 2 at 57.6 kbps.
    code, out = run(capsys, "--rig", str(rig), "motors", "scan", "--arm", "left_follower")
    assert code == 1 and "waist" in out and "gripper (id 9)" in out  # marked as not found
    code, out = run(
        capsys, "--rig", str(rig), "motors", "set-id", "--arm", "left_follower", "--baud", "57600",
        "--id", "2", "--new-id", "9", "--yes",
    )  # fmt: skip
    assert code == 0 and "now id 9" in out
    code, out = run(
        capsys, "--rig", str(rig), "motors", "set-baud", "--arm", "left_follower", "--baud", "57600",
        "--id", "9", "--new-baud", "1000000", "--yes",
    )  # fmt: skip
    assert code == 0 and "1 Mbps" in out
    code, out = run(capsys, "--rig", str(rig), "motors", "scan", "--arm", "left_follower")
    assert code == 0 and "not found" not in out and "gripper" in out


def test_set_id_refuses_a_taken_id(capsys, chain):
    code, out = run(
        capsys, "motors", "set-id", "--port", chain.port_path, "--id", "1", "--new-id", "4", "--yes"
    )
    assert code == 1 and "id 4 is already used" in out
    assert chain.motor(1).get("id") == 1


def test_confirmation_declined_changes_nothing(capsys, chain, monkeypatch):
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("n\n"))
    code, out = run(capsys, "motors", "set-id", "--port", chain.port_path, "--id", "4", "--new-id", "6")
    assert code == 1 and "nothing changed" in out
    assert chain.motor(4).get("id") == 4


def test_read_shows_registers_with_units(capsys, chain):
    chain.faults.raise_hardware_error(4, "overload")
    code, out = run(capsys, "motors", "read", "--port", chain.port_path, "--id", "4")
    assert code == 0
    assert "present_input_voltage" in out and "12 V" in out and "overload" in out and "EEPROM" in out


def test_reboot_clears_an_overload(capsys, chain):
    chain.faults.raise_hardware_error(4, "overload")
    code, out = run(capsys, "motors", "reboot", "--port", chain.port_path, "--id", "4")
    assert code == 0 and "was: overload" in out
    assert chain.motor(4).get("hardware_error_status") == 0


def test_errors_are_one_clear_line_not_a_traceback(capsys, chain):
    code, out = run(capsys, "motors", "read", "--port", "/dev/ttyDXL_missing", "--id", "1")
    assert code == 1 and "/dev/ttyDXL_missing does not exist" in out and "Traceback" not in out
    code, out = run(capsys, "motors", "read", "--port", chain.port_path, "--id", "7")
    assert code == 1 and "motor 7 did not answer" in out and "fix:" in out


def test_udev_rules_for_the_rig_arms(capsys, rig, tmp_path):
    code, out = run(
        capsys, "--rig", str(rig), "motors", "udev", "--arm", "left_follower", "--serial", "FT6S4DSP"
    )
    assert code == 0
    assert 'ATTRS{serial}=="FT6S4DSP"' in out and 'ATTR{device/latency_timer}="1"' in out
    assert 'SYMLINK+="ttyDXL_left_follower"' in out  # the rig's port is a pty: use the arm's name
    out_file = tmp_path / "99-dxl.rules"
    code, out = run(
        capsys, "--rig", str(rig), "motors", "udev", "--serial", "left_follower=FT1", "--out", str(out_file)
    )
    assert code == 0 and "udevadm" in out and 'ATTRS{serial}=="FT1"' in out_file.read_text()
    code, out = run(capsys, "--rig", str(rig), "motors", "udev")
    assert code == 1 and "no FTDI serial known for left_follower" in out
