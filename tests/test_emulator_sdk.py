"""The real dynamixel_sdk against the emulator: every instruction on its success path."""

import pytest
from dynamixel_sdk import (
    COMM_RX_TIMEOUT,
    COMM_SUCCESS,
    GroupBulkRead,
    GroupBulkWrite,
    GroupSyncRead,
    GroupSyncWrite,
    PacketHandler,
    PortHandler,
)

from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig

BAUD = 1_000_000
MIXED = [
    EmulatedMotorConfig(1, "xm430-w350", raw_position=1000),
    EmulatedMotorConfig(2, "xl430-w250", raw_position=2000),
    EmulatedMotorConfig(3, "xl330-m288", raw_position=3000),
]


@pytest.fixture
def bus():
    with DynamixelChainEmulator(MIXED, baud_rate=BAUD) as emu:
        port = PortHandler(emu.port_path)
        assert port.openPort() and port.setBaudRate(BAUD)
        yield emu, port, PacketHandler(2.0)
        port.closePort()


def u32(value):
    return value & 0xFFFFFFFF


def test_ping_reports_each_models_number(bus):
    _, port, ph = bus
    assert [ph.ping(port, i) for i in (1, 2, 3)] == [
        (1020, COMM_SUCCESS, 0),
        (1060, COMM_SUCCESS, 0),
        (1200, COMM_SUCCESS, 0),
    ]
    assert ph.ping(port, 9)[1] == COMM_RX_TIMEOUT


def test_broadcast_ping_lists_every_motor(bus):
    _, port, ph = bus
    found, result = ph.broadcastPing(port)
    assert result == COMM_SUCCESS
    assert found == {1: [1020, 48], 2: [1060, 48], 3: [1200, 48]}


def test_read_and_write_one_two_and_four_bytes(bus):
    emu, port, ph = bus
    assert ph.write1ByteTxRx(port, 1, 65, 1) == (COMM_SUCCESS, 0)
    assert ph.read1ByteTxRx(port, 1, 65) == (1, COMM_SUCCESS, 0)
    assert ph.write2ByteTxRx(port, 2, 84, 1234) == (COMM_SUCCESS, 0)
    assert ph.read2ByteTxRx(port, 2, 84) == (1234, COMM_SUCCESS, 0)
    assert ph.write4ByteTxRx(port, 3, 104, u32(-300)) == (COMM_SUCCESS, 0)
    assert ph.read4ByteTxRx(port, 3, 104) == (u32(-300), COMM_SUCCESS, 0)
    assert emu.motor(3).get("goal_velocity") == -300
    assert ph.read2ByteTxRx(port, 1, 0) == (1020, COMM_SUCCESS, 0)


def test_models_differ_where_the_table_does(bus):
    emu, port, ph = bus
    emu.motor(1).set_raw_current(-20)
    emu.motor(2).set_raw_current(250)  # XL430: Present Load, 0.1 %
    assert ph.read2ByteTxRx(port, 1, 126)[0] == (-20) & 0xFFFF
    assert ph.read2ByteTxRx(port, 2, 126)[0] == 250
    assert ph.write2ByteTxRx(port, 1, 102, 100) == (COMM_SUCCESS, 0)  # Goal Current exists on the XM430
    assert ph.write2ByteTxRx(port, 2, 102, 100) == (COMM_SUCCESS, 7)  # and not on the XL430


def test_sync_read_and_fast_sync_read_return_present_positions(bus):
    _, port, ph = bus
    group = GroupSyncRead(port, ph, 128, 8)  # present velocity + present position
    for motor_id in (1, 2, 3):
        group.addParam(motor_id)
    assert group.txRxPacket() == COMM_SUCCESS
    slow = [group.getData(i, 132, 4) for i in (1, 2, 3)]
    assert group.fastSyncRead() == COMM_SUCCESS
    fast = [group.getData(i, 132, 4) for i in (1, 2, 3)]
    assert slow == fast == [1000, 2000, 3000]


def test_sync_write_sets_goals_on_every_motor(bus):
    emu, port, ph = bus
    writer = GroupSyncWrite(port, ph, 116, 4)
    for motor_id, goal in ((1, 1100), (2, 2200), (3, 3300)):
        writer.addParam(motor_id, list(goal.to_bytes(4, "little")))
    assert writer.txPacket() == COMM_SUCCESS
    reader = GroupSyncRead(port, ph, 116, 4)
    for motor_id in (1, 2, 3):
        reader.addParam(motor_id)
    assert reader.txRxPacket() == COMM_SUCCESS
    assert [reader.getData(i, 116, 4) for i in (1, 2, 3)] == [1100, 2200, 3300]
    assert emu.motor(2).get("goal_position") == 2200


def test_bulk_read_and_fast_bulk_read_read_different_registers(bus):
    _, port, ph = bus
    group = GroupBulkRead(port, ph)
    group.addParam(1, 132, 4)
    group.addParam(2, 0, 2)
    group.addParam(3, 7, 1)
    for read in (group.txRxPacket, group.fastBulkRead):
        assert read() == COMM_SUCCESS
        assert (group.getData(1, 132, 4), group.getData(2, 0, 2), group.getData(3, 7, 1)) == (1000, 1060, 3)


def test_bulk_write_writes_different_registers(bus):
    emu, port, ph = bus
    writer = GroupBulkWrite(port, ph)
    writer.addParam(1, 65, 1, [1])
    writer.addParam(2, 112, 4, list((77).to_bytes(4, "little")))
    assert writer.txPacket() == COMM_SUCCESS
    assert ph.read1ByteTxRx(port, 1, 65)[0] == 1
    assert emu.motor(2).get("profile_velocity") == 77


def test_reg_write_waits_for_action(bus):
    emu, port, ph = bus
    assert ph.regWriteTxRx(port, 1, 112, 4, list((55).to_bytes(4, "little"))) == (COMM_SUCCESS, 0)
    assert ph.read1ByteTxRx(port, 1, 69)[0] == 1  # Registered Instruction
    assert emu.motor(1).get("profile_velocity") == 0
    assert ph.action(port, 254) == COMM_SUCCESS
    assert ph.read4ByteTxRx(port, 1, 112)[0] == 55
    assert ph.read1ByteTxRx(port, 1, 69)[0] == 0


def test_broadcast_write_is_applied_without_replies(bus):
    emu, port, ph = bus
    assert ph.write1ByteTxRx(port, 254, 65, 1) == (COMM_SUCCESS, 0)
    assert [ph.read1ByteTxRx(port, i, 65)[0] for i in (1, 2, 3)] == [1, 1, 1]
    assert emu.stats.replies_out == 3


def test_reboot_resets_ram_and_clears_hardware_errors(bus):
    emu, port, ph = bus
    ph.write1ByteTxRx(port, 1, 65, 1)
    ph.write1ByteTxRx(port, 1, 64, 1)
    emu.faults.raise_hardware_error(1, "overheating")
    assert ph.reboot(port, 1) == (COMM_SUCCESS, 0x80)  # the reply still carries the alert
    assert ph.read1ByteTxRx(port, 1, 70) == (0, COMM_SUCCESS, 0)
    assert ph.read1ByteTxRx(port, 1, 64)[0] == 0 and ph.read1ByteTxRx(port, 1, 65)[0] == 0


def test_factory_reset_options():
    motors = [EmulatedMotorConfig(i, "xm430-w350", homing_offset=300) for i in (5, 6, 7)]
    with DynamixelChainEmulator(motors, baud_rate=BAUD) as emu:
        port = PortHandler(emu.port_path)
        assert port.openPort()
        ph = PacketHandler(2.0)
        assert ph.factoryReset(port, 5, 0x02) == (COMM_SUCCESS, 0)  # keeps ID and baud rate
        assert ph.ping(port, 5)[1] == COMM_SUCCESS
        assert ph.read4ByteTxRx(port, 5, 20)[0] == 0
        assert ph.factoryReset(port, 6, 0x01) == (COMM_SUCCESS, 0)  # keeps ID, baud back to 57600
        assert ph.ping(port, 6)[1] == COMM_RX_TIMEOUT
        assert ph.factoryReset(port, 7, 0xFF) == (COMM_SUCCESS, 0)  # everything: ID 1, 57600
        assert port.setBaudRate(57_600)
        assert ph.ping(port, 6)[:2] == (1020, COMM_SUCCESS)
        assert ph.ping(port, 1)[:2] == (1020, COMM_SUCCESS)
        assert emu.motor(1).get("return_delay_time") == 250


def test_id_and_baud_changes_apply_after_the_reply(bus):
    _, port, ph = bus
    assert ph.write1ByteTxRx(port, 1, 7, 10) == (COMM_SUCCESS, 0)  # answered as ID 1
    assert ph.ping(port, 1)[1] == COMM_RX_TIMEOUT
    assert ph.ping(port, 10)[:2] == (1020, COMM_SUCCESS)
    assert ph.write1ByteTxRx(port, 10, 8, 4) == (COMM_SUCCESS, 0)  # 2 Mbps, answered at 1 Mbps
    assert ph.ping(port, 10)[1] == COMM_RX_TIMEOUT
    assert port.setBaudRate(2_000_000)
    assert ph.ping(port, 10)[:2] == (1020, COMM_SUCCESS)
    assert ph.ping(port, 2)[1] == COMM_RX_TIMEOUT  # the others stayed at 1 Mbps


def test_clear_multi_turn_brings_present_position_back_into_one_turn(bus):
    emu, port, ph = bus
    assert ph.write1ByteTxRx(port, 1, 11, 4) == (COMM_SUCCESS, 0)  # extended position mode
    emu.motor(1).set_raw_position(1000 + 3 * 4096)
    assert ph.read4ByteTxRx(port, 1, 132)[0] == 1000 + 3 * 4096
    assert ph.clearMultiTurn(port, 1) == (COMM_SUCCESS, 0)
    assert ph.read4ByteTxRx(port, 1, 132)[0] == 1000
