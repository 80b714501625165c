"""DynamixelBus on the real dynamixel_sdk, against the Protocol 2.0 emulator on a pseudo-terminal."""

from __future__ import annotations

import errno
import time

import numpy as np
import pytest
import serial

from drivers.dynamixel.bus import DynamixelBus
from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig
from drivers.dynamixel.errors import MotorNotRespondingError, MotorRejectedError, PortError
from drivers.dynamixel.port import _port_error

JOINTS = {"waist": 1, "shoulder": 2, "elbow": 4, "wrist": 6, "gripper": 7}


@pytest.fixture
def emu():
    motors = [EmulatedMotorConfig(id=i, model="xm430-w350", return_delay_us=0) for i in JOINTS.values()]
    with DynamixelChainEmulator(motors, baud_rate=1_000_000, seed=1) as chain:
        yield chain


# The emulator shares this process (and its GIL) with the test: its replies can be a few ms late
# where real motors never are, so the tests allow more than the 3 ms default.
MARGIN_MS = 20


@pytest.fixture
def bus(emu):
    with DynamixelBus(emu.port_path, 1_000_000, arm="left_follower", timeout_margin_ms=MARGIN_MS) as b:
        for joint, motor_id in JOINTS.items():
            b.add_motor(joint, motor_id, "xm430-w350")
        yield b


def test_lifecycle_and_context_manager(emu):
    bus = DynamixelBus(emu.port_path, 1_000_000)
    assert not bus.is_ready
    with bus:
        assert bus.is_ready
    assert not bus.is_ready
    with pytest.raises(PortError, match="not open"):
        bus.ping(1)


def test_scan_reports_ids_models_and_firmware(bus):
    found = bus.scan()
    assert [m.id for m in found] == sorted(JOINTS.values())
    assert {m.model for m in found} == {"xm430-w350"}
    assert all(m.firmware == 48 for m in found)
    assert [m.id for m in bus.scan(range(0, 5))] == [1, 2, 4]


def test_ping_names_a_missing_motor_with_what_to_check(bus):
    assert bus.ping("elbow").model == "xm430-w350"
    with pytest.raises(MotorNotRespondingError) as err:
        bus.ping(9)
    assert "motor 9 did not answer" in err.value.message and "at 1 Mbps" in err.value.message
    assert "powered" in err.value.hint and "baud" in err.value.hint and "cable" in err.value.hint


def test_read_and_write_by_register_name_with_signs_and_units(bus, emu):
    assert bus.read("waist", "present_position") == 2048
    assert bus.read("waist", "present_input_voltage", units=True) == pytest.approx(12.0)
    bus.write("elbow", "homing_offset", -300)  # signed 4-byte EEPROM register
    assert bus.read("elbow", "homing_offset") == -300
    assert emu.motor(4).get("homing_offset") == -300
    bus.write("elbow", "profile_velocity", 22.9, units=True)
    assert emu.motor(4).get("profile_velocity") == 100
    with pytest.raises(KeyError, match="no register"):
        bus.read("waist", "no_such_register")
    with pytest.raises(ValueError, match="read-only"):
        bus.write("waist", "present_position", 0)
    with pytest.raises(KeyError, match="no joint"):
        bus.read("knee", "present_position")


def test_refused_write_names_motor_and_reason(bus):
    with pytest.raises(MotorRejectedError) as err:
        bus.write("waist", "operating_mode", 2)  # not a mode
    assert "motor 1 (left_follower/waist)" in err.value.message and "data range" in err.value.message
    bus.write("waist", "torque_enable", 1)
    with pytest.raises(MotorRejectedError, match="EEPROM while torque is on"):
        bus.write("waist", "return_delay_time", 0)


def test_fast_and_plain_sync_read_agree(bus, emu):
    emu.motor(4).set("present_position", -123)
    emu.motor(6).set("present_velocity", -7)
    joints = list(JOINTS)
    fast = bus.group_reader(joints, ["present_velocity", "present_position"])
    plain = bus.group_reader(joints, ["present_velocity", "present_position"], fast=False)
    assert fast.mode == "fast_sync_read" and plain.mode == "sync_read"
    before = time.monotonic()
    values, t = fast.read()
    assert before <= t <= time.monotonic()
    np.testing.assert_array_equal(values, plain.read()[0])
    assert values[2, 1] == -123 and values[3, 0] == -7 and values[0, 1] == 2048
    assert bus.sync_read(["elbow", "waist"], "present_position") == {
        "present_position": {"elbow": -123, "waist": 2048}
    }


def test_fast_sync_read_undoes_byte_stuffing(bus, emu):
    # velocity -1 is FF FF FF FF; a position whose low byte is FD makes FF FF FD inside the reply,
    # which the motor stuffs with an extra FD.
    emu.motor(2).set("present_velocity", -1)
    emu.motor(2).set("present_position", 0x0FD)
    for fast in (True, False):
        values, _ = bus.group_reader(list(JOINTS), ["present_velocity", "present_position"], fast=fast).read()
        assert list(values[1]) == [-1, 0x0FD]


def test_old_firmware_falls_back_to_plain_sync_read(emu):
    emu.motor(2).set("firmware_version", 41)
    with DynamixelBus(emu.port_path, 1_000_000, timeout_margin_ms=MARGIN_MS) as bus:
        for motor_id in JOINTS.values():
            bus.ping(motor_id)  # learns models and firmware
        reader = bus.group_reader(list(JOINTS.values()), ["present_position"])
        assert reader.mode == "sync_read"
        assert list(reader.read()[0][:, 0]) == [2048] * len(JOINTS)


def test_mixed_models_on_one_chain(tmp_path):
    models = {1: "xm430-w350", 2: "xl430-w250", 3: "xl330-m288", 4: "xm540-w270"}
    motors = [EmulatedMotorConfig(id=i, model=m, return_delay_us=0) for i, m in models.items()]
    with (
        DynamixelChainEmulator(motors) as chain,
        DynamixelBus(chain.port_path, timeout_margin_ms=MARGIN_MS) as bus,
    ):
        chain.motor(2).set("present_load", -55)  # XL430 reports load where the others report current
        chain.motor(1).set("present_current", 40)
        for motor_id, model in models.items():
            bus.add_motor(f"j{motor_id}", motor_id, model)
        reader = bus.group_reader(
            ["j1", "j2", "j3", "j4"], ["present_current", "present_velocity", "present_position"]
        )
        assert reader.mode == "fast_sync_read"
        values, _ = reader.read()
        assert list(values[:, 0]) == [40, -55, 0, 0] and list(values[:, 2]) == [2048] * 4
        # Different registers from different motors: one Bulk Read.
        got = bus.bulk_read(
            {"j1": "present_temperature", "j2": "present_load", "j3": "present_position", "j4": "id"}
        )
        assert got == {"j1": 30, "j2": -55, "j3": 2048, "j4": 4}


def test_sync_write_moves_all_joints_in_one_instruction(bus, emu):
    joints = list(JOINTS)
    for joint in joints:
        bus.write(joint, "torque_enable", 1)
    writer = bus.group_writer(joints, "goal_position")
    writer.write([1000, 1100, 50, 3000, 2048])
    # Sync Write has no reply; a read behind it on the same line sees its effect.
    goals = bus.sync_read(joints, "goal_position")["goal_position"]
    assert list(goals.values()) == [1000, 1100, 50, 3000, 2048]
    bus.sync_write("goal_position", {"gripper": 2100})
    assert bus.read("gripper", "goal_position") == 2100 == emu.motor(7).get("goal_position")
    with pytest.raises(ValueError, match="left_follower/elbow"):
        writer.write([1000, 1100, float("nan"), 3000, 2048])
    with pytest.raises(ValueError, match="expected 5 values"):
        writer.write([1, 2])


def test_reboot_clears_hardware_error(bus, emu):
    bus.write("elbow", "torque_enable", 1)
    emu.faults.raise_hardware_error(4, "overload")
    assert bus.read("elbow", "hardware_error_status") == 0x20
    bus.reboot("elbow")
    assert bus.read("elbow", "hardware_error_status") == 0
    assert bus.read("elbow", "torque_enable") == 0


def test_overload_is_a_named_event_once_per_fault(bus, emu):
    seen = []
    bus.on_hardware_error.append(seen.append)
    reader = bus.group_reader(list(JOINTS), ["present_position"])
    reader.read()
    emu.faults.raise_hardware_error(4, "overload")
    for _ in range(3):
        values, _ = reader.read()  # the data still arrives
    assert values[2, 0] == 2048
    assert len(seen) == 1
    event = seen[0]
    assert (event.motor_id, event.joint, event.errors) == (4, "left_follower/elbow", ("overload",))
    assert "motor 4 (left_follower/elbow)" in str(event) and "overload" in str(event)
    assert "reboot" in event.hint
    assert bus.drain_hardware_events() == [event]
    # A shut-down motor refuses torque; the message says why and what to do.
    with pytest.raises(MotorRejectedError) as err:
        bus.write("elbow", "torque_enable", 1)
    assert "hardware error" in err.value.hint and "motors reboot" in err.value.hint


def test_silent_motor_is_reported_by_name(bus, emu):
    reader = bus.group_reader(list(JOINTS), ["present_position"])
    reader.read()
    emu.faults.silent_ids.add(4)
    with pytest.raises(MotorNotRespondingError) as err:
        reader.read()
    assert err.value.motor_ids == [4] and err.value.joints == ["left_follower/elbow"]
    assert f"motor 4 (left_follower/elbow) did not answer on {emu.port_path} at 1 Mbps" in err.value.message
    assert bus.error_counts[4] >= bus.retries + 1
    assert bus.stats.failures == 1


def test_retry_budget_absorbs_two_percent_corrupted_and_lost_packets(bus, emu):
    fast = bus.group_reader(list(JOINTS), ["present_velocity", "present_position"])
    plain = bus.group_reader(list(JOINTS), ["present_position"], fast=False)
    emu.faults.corrupt_rate = 0.02
    for _ in range(1000):
        assert fast.read()[0][0, 1] == 2048
    for _ in range(300):
        assert plain.read()[0][0, 0] == 2048
    for _ in range(200):
        assert bus.read("waist", "present_position") == 2048
    emu.faults.corrupt_rate = 0.0
    emu.faults.drop_rate = 0.02
    for _ in range(300):
        assert fast.read()[0][4, 1] == 2048
    assert emu.faults.corrupted > 10 and emu.faults.dropped > 0
    assert bus.stats.failures == 0 and bus.stats.retries >= emu.faults.corrupted // 2
    assert sum(bus.error_counts.values()) + bus.stats.unattributed_errors >= bus.stats.retries
    assert fast.mode == "fast_sync_read"  # corruption is not a reason to give up on fast sync read


def test_missing_port_is_a_clear_error():
    with pytest.raises(PortError) as err:
        DynamixelBus("/dev/ttyDXL_nonexistent_arm").open()
    assert err.value.reason == "missing"
    assert "/dev/ttyDXL_nonexistent_arm does not exist" in err.value.message
    assert "udev" in err.value.hint


def test_busy_port_names_the_holder(emu):
    with DynamixelBus(emu.port_path):
        with pytest.raises(PortError) as err:
            DynamixelBus(emu.port_path).open()
    assert err.value.reason == "busy"
    assert "in use by" in err.value.message and "this process" in err.value.message
    with DynamixelBus(emu.port_path, timeout_margin_ms=MARGIN_MS) as again:  # released on close
        assert again.ping(1).id == 1


def test_permission_denied_points_at_dialout():
    exc = serial.SerialException(
        errno.EACCES, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied"
    )
    err = _port_error("/dev/ttyUSB0", exc)
    assert err.reason == "permission" and "/dev/ttyUSB0" in err.message and "dialout" in err.hint


def test_unsupported_baud_rate_is_refused_before_opening(emu):
    with pytest.raises(PortError, match="4500000"):
        DynamixelBus(emu.port_path, 4_500_000).open()


def test_a_dead_chain_points_at_power_and_adapter_cable(bus, emu):
    reader = bus.group_reader(list(JOINTS), ["present_position"])
    emu.faults.silent_ids.update(JOINTS.values())
    with pytest.raises(MotorNotRespondingError) as err:
        reader.read()
    assert err.value.message.startswith(f"no motor answered on {emu.port_path} at 1 Mbps")
    assert "power supply" in err.value.hint and sorted(err.value.motor_ids) == sorted(JOINTS.values())
