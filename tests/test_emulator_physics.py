"""The physics side of the emulator: raw encoder frame, homing offset and reverse drive mode applied
like the firmware, the hooks a physics model binds to, the ideal servo, and byte stuffing of values."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from dynamixel_sdk import COMM_SUCCESS, GroupSyncRead, GroupSyncWrite, PacketHandler, PortHandler

from drivers.dynamixel import protocol as p
from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig
from drivers.dynamixel.emulator.transport import link_holder

BAUD = 1_000_000
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def open_bus():
    opened = []

    def _open(motors, **kwargs):
        emu = DynamixelChainEmulator(motors, baud_rate=BAUD, **kwargs).start()
        port = PortHandler(emu.port_path)
        assert port.openPort()
        opened.append((emu, port))
        return emu, port, PacketHandler(2.0)

    yield _open
    for emu, port in opened:
        port.closePort()
        emu.stop()


def s32(value):
    return value - (1 << 32) if value & 0x80000000 else value


def test_homing_offset_and_reverse_direction_are_applied_like_the_firmware(open_bus):
    plain = EmulatedMotorConfig(1, "xm430-w350", raw_position=500)
    homed = EmulatedMotorConfig(2, "xm430-w350", raw_position=500, homing_offset=1000)
    flipped = EmulatedMotorConfig(3, "xm430-w350", raw_position=500, homing_offset=1000, drive_mode=1)
    emu, port, ph = open_bus([plain, homed, flipped])
    read = lambda i: s32(ph.read4ByteTxRx(port, i, 132)[0])  # noqa: E731
    # reverse: -500 is re-read as the single-turn value 3596, then the offset is added
    assert (read(1), read(2), read(3)) == (500, 1500, 3596 + 1000)
    for m in emu.motors:
        m.set_raw_position(600)  # the shaft turns +100 ticks
    assert (read(1), read(2), read(3)) == (600, 1600, 4496)
    # A goal goes back through the same formula into the shaft's frame.
    assert ph.write1ByteTxRx(port, 3, 11, 4) == (COMM_SUCCESS, 0)  # extended: no position limits
    assert ph.write4ByteTxRx(port, 3, 116, 4496 + 250) == (COMM_SUCCESS, 0)
    assert emu.motor(3).goal_raw_position() == 600 - 250
    assert ph.write4ByteTxRx(port, 2, 116, 1600 + 250) == (COMM_SUCCESS, 0)
    assert emu.motor(2).goal_raw_position() == 600 + 250


def test_torque_on_in_position_mode_rereads_a_single_turn_and_holds_the_pose(open_bus):
    emu, port, ph = open_bus([EmulatedMotorConfig(1, "xm430-w350", raw_position=100, operating_mode=4)])
    emu.motor(1).set_raw_position(2 * 4096 + 100)
    assert ph.read4ByteTxRx(port, 1, 132)[0] == 2 * 4096 + 100  # multi-turn while in extended mode
    assert ph.write1ByteTxRx(port, 1, 11, 3) == (COMM_SUCCESS, 0)
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, 0)
    assert ph.read4ByteTxRx(port, 1, 132)[0] == 100
    assert ph.read4ByteTxRx(port, 1, 116)[0] == 100  # Goal Position = Present Position at torque-on
    assert emu.motor(1).goal_raw_position() == 2 * 4096 + 100  # the shaft is asked to stay put


def test_set_present_values_from_outside_round_trip_through_the_raw_frame(open_bus):
    emu, port, ph = open_bus([EmulatedMotorConfig(1, "xm430-w350", homing_offset=-300, drive_mode=1)])
    m = emu.motor(1)
    m.set("present_position", 1234)
    m.set("present_velocity", -7)
    assert s32(ph.read4ByteTxRx(port, 1, 132)[0]) == 1234
    assert s32(ph.read4ByteTxRx(port, 1, 128)[0]) == -7
    m.set_raw_velocity(-7)
    assert s32(ph.read4ByteTxRx(port, 1, 128)[0]) == 7  # reverse mode flips the sign


def test_write_listener_and_before_reply_hook(open_bus):
    emu, port, ph = open_bus([EmulatedMotorConfig(1, "xm430-w350"), EmulatedMotorConfig(2, "xm430-w350")])
    writes, refreshed = [], []
    emu.attach_physics(
        before_reply=lambda ids: (
            refreshed.append(list(ids)) or [emu.motor(i).set_raw_position(100 * i) for i in ids]
        ),
        on_write=lambda *event: writes.append(event),
    )
    writer = GroupSyncWrite(port, ph, 116, 4)
    writer.addParam(1, list((1500).to_bytes(4, "little")))
    writer.addParam(2, list((2500).to_bytes(4, "little")))
    assert writer.txPacket() == COMM_SUCCESS
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, 0)
    group = GroupSyncRead(port, ph, 132, 4)
    group.addParam(1)
    group.addParam(2)
    assert group.fastSyncRead() == COMM_SUCCESS
    assert (group.getData(1, 132, 4), group.getData(2, 132, 4)) == (100, 200)
    assert refreshed == [[1, 2]]
    assert writes == [(1, "goal_position", 1500), (2, "goal_position", 2500), (1, "torque_enable", 1)]
    time.sleep(0.05)
    assert emu.motor(2).raw_position == 200  # physics attached: the ideal servo no longer moves shafts


def test_ideal_servo_moves_toward_the_goal_at_profile_velocity(open_bus):
    emu, port, ph = open_bus([EmulatedMotorConfig(1, "xl330-m288", raw_position=1000)])
    assert ph.write4ByteTxRx(port, 1, 112, 100) == (COMM_SUCCESS, 0)  # 100 × 0.229 rpm ≈ 1563 ticks/s
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, 0)
    assert ph.write4ByteTxRx(port, 1, 116, 1500) == (COMM_SUCCESS, 0)
    time.sleep(0.1)
    midway = ph.read4ByteTxRx(port, 1, 132)[0]
    assert 1000 < midway < 1500
    assert ph.read1ByteTxRx(port, 1, 122)[0] == 1  # Moving
    deadline = time.monotonic() + 2.0
    while ph.read4ByteTxRx(port, 1, 132)[0] != 1500 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert ph.read4ByteTxRx(port, 1, 132)[0] == 1500
    assert ph.read1ByteTxRx(port, 1, 122)[0] == 0


def test_values_that_contain_the_header_pattern_are_byte_stuffed(open_bus):
    emu, port, ph = open_bus([EmulatedMotorConfig(1, "xm430-w350", operating_mode=4)])
    value = -131073  # 0xFFFDFFFF: little-endian FF FF FD FF
    # A correctly stuffed instruction (17 bytes) is unstuffed before it is executed.
    port.writePort(p.frame(1, p.WRITE, bytes([116, 0]) + (value & 0xFFFFFFFF).to_bytes(4, "little")))
    port.setPacketTimeout(64)
    reply, result = ph.rxPacket(port, False)
    assert (result, reply[8]) == (COMM_SUCCESS, 0)
    assert emu.stats.bytes_in == 16 + 1
    assert emu.motor(1).get("goal_position") == value
    # dynamixel_sdk 4.1.0 drops its own stuffing (addStuffing rebinds a local list), so the same write
    # through the SDK arrives unstuffed; FF FF FD FF is still unambiguous and reads right.
    assert ph.write4ByteTxRx(port, 1, 116, (value + 1) & 0xFFFFFFFF) == (COMM_SUCCESS, 0)
    assert emu.motor(1).get("goal_position") == value + 1
    # Replies are stuffed and the SDK's removeStuffing undoes it.
    emu.motor(1).set("present_position", value)
    before = emu.stats.bytes_out
    assert s32(ph.read4ByteTxRx(port, 1, 132)[0]) == value
    assert emu.stats.bytes_out - before == 15 + 1


def test_lifecycle_link_threads_and_restart(tmp_path):
    link = tmp_path / "ttyDXL_test"
    before = set(threading.enumerate())
    emu = DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350")], link_path=link, name="dxl-lifecycle")
    with pytest.raises(RuntimeError, match="start"):
        _ = emu.port_path
    with emu:
        assert emu.is_ready and link.is_symlink() and emu.port_path == str(link)
        port = PortHandler(emu.port_path)
        assert port.openPort()
        assert PacketHandler(2.0).ping(port, 1)[1] == COMM_SUCCESS
        port.closePort()
    assert not emu.is_ready and not link.exists()
    assert not [t for t in set(threading.enumerate()) - before if t.name.startswith("dxl-lifecycle")]
    (tmp_path / "occupied").write_text("not a tty")
    with pytest.raises(FileExistsError):
        DynamixelChainEmulator(
            [EmulatedMotorConfig(1, "xm430-w350")], link_path=tmp_path / "occupied"
        ).start()
    assert (tmp_path / "occupied").read_text() == "not a tty"


def test_bad_configs_are_refused():
    with pytest.raises(ValueError, match="duplicate"):
        DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350"), EmulatedMotorConfig(1, "xl430-w250")])
    with pytest.raises(ValueError, match="4500000"):
        DynamixelChainEmulator([EmulatedMotorConfig(1, "xl330-m288")], baud_rate=4_500_000)
    with pytest.raises(KeyError, match="xm999"):
        DynamixelChainEmulator([EmulatedMotorConfig(1, "xm999-w1")])


def test_a_stale_link_to_a_reused_pty_number_is_replaced(tmp_path):
    """An emulator killed with -9 leaves its link behind, and the pty number it pointed at is soon
    handed to someone else. Nobody holds the port's lock, so the next emulator takes the link over."""
    link = tmp_path / "ttyDXL_test"
    master, slave = os.openpty()  # the recycled number: a pty that exists and is open
    try:
        link.symlink_to(os.ttyname(slave))
        with DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350")], link_path=link) as emu:
            assert os.readlink(link) != os.ttyname(slave)
            assert link_holder(link) == os.getpid()
            port = PortHandler(emu.port_path)
            assert port.openPort()
            assert PacketHandler(2.0).ping(port, 1)[1] == COMM_SUCCESS
            port.closePort()
        assert link_holder(link) is None and not link.exists()
    finally:
        os.close(master)
        os.close(slave)


def test_a_port_held_by_a_live_emulator_in_another_process_is_refused(tmp_path):
    link = tmp_path / "ttyDXL_test"
    serve = (
        "import sys, time\n"
        "from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig\n"
        f"with DynamixelChainEmulator([EmulatedMotorConfig(1, 'xm430-w350')], link_path={str(link)!r}):\n"
        "    print('ready', flush=True)\n"
        "    time.sleep(60)\n"
    )
    other = subprocess.Popen([sys.executable, "-c", serve], stdout=subprocess.PIPE, cwd=REPO)
    try:
        assert other.stdout.readline().strip() == b"ready"
        assert link_holder(link) == other.pid
        with pytest.raises(FileExistsError, match=f"process {other.pid}"):
            DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350")], link_path=link).start()
        other.kill()  # -9: no clean-up, the link stays
        other.wait()
        assert link.is_symlink() and link_holder(link) is None
        with DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350")], link_path=link):
            assert link_holder(link) == os.getpid()
    finally:
        if other.poll() is None:
            other.kill()
            other.wait()
