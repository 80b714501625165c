"""Error paths through the real dynamixel_sdk: status error bytes, the alert bit, and injected faults."""

import time

import pytest
from dynamixel_sdk import (
    COMM_RX_CORRUPT,
    COMM_RX_TIMEOUT,
    COMM_SUCCESS,
    GroupSyncRead,
    PacketHandler,
    PortHandler,
)

from drivers.dynamixel import protocol as p
from drivers.dynamixel.control_table import decode_hardware_error
from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig

BAUD = 1_000_000
RESULT_FAIL, INSTRUCTION, CRC, RANGE, LENGTH, LIMIT, ACCESS, ALERT = 1, 2, 3, 4, 5, 6, 7, 0x80


@pytest.fixture
def bus():
    motors = [
        EmulatedMotorConfig(1, "xm430-w350"),
        EmulatedMotorConfig(2, "xl430-w250"),
        EmulatedMotorConfig(3, "xm430-w350"),
    ]
    with DynamixelChainEmulator(motors, baud_rate=BAUD, seed=7) as emu:
        port = PortHandler(emu.port_path)
        assert port.openPort()
        yield emu, port, PacketHandler(2.0)
        port.closePort()


def raw_exchange(port, ph, packet: bytes):
    """Send hand-made bytes and read one status packet the way the SDK does."""
    port.clearPort()
    port.writePort(packet)
    port.setPacketTimeout(64)
    return ph.rxPacket(port, False)


def test_bad_crc_gets_a_crc_error_from_the_addressed_motor(bus):
    emu, port, ph = bus
    packet = bytearray(p.frame(1, p.WRITE, bytes([65, 0, 1])))
    packet[-1] ^= 0x5A
    reply, result = raw_exchange(port, ph, bytes(packet))
    assert result == COMM_SUCCESS and reply[4] == 1 and reply[8] == CRC
    assert emu.motor(1).get("led") == 0  # not executed
    assert emu.stats.bad_crc_in == 1


def test_unknown_instruction_and_action_without_reg_write(bus):
    _, port, ph = bus
    assert raw_exchange(port, ph, p.frame(2, 0x7F))[0][8] == INSTRUCTION
    assert raw_exchange(port, ph, p.frame(2, p.ACTION))[0][8] == INSTRUCTION


def test_reads_outside_the_table_are_access_errors(bus):
    _, port, ph = bus
    assert ph.readTxRx(port, 1, 200, 4)[1:] == (COMM_SUCCESS, ACCESS)
    assert ph.readTxRx(port, 1, 146, 4)[1:] == (COMM_SUCCESS, ACCESS)  # runs past the end
    data, result, error = ph.readTxRx(port, 1, 0, 147)  # the whole table, gaps included
    assert (result, error, len(data)) == (COMM_SUCCESS, 0, 147)


def test_write_rules(bus):
    emu, port, ph = bus
    assert ph.write4ByteTxRx(port, 1, 132, 5) == (COMM_SUCCESS, ACCESS)  # Present Position is read-only
    assert ph.write2ByteTxRx(port, 1, 0, 5) == (COMM_SUCCESS, ACCESS)  # Model Number too
    assert ph.write2ByteTxRx(port, 1, 116, 5) == (COMM_SUCCESS, LENGTH)  # half of Goal Position
    assert ph.write1ByteTxRx(port, 1, 14, 5) == (COMM_SUCCESS, ACCESS)  # reserved address
    assert ph.write1ByteTxRx(port, 1, 11, 7) == (COMM_SUCCESS, RANGE)  # no operating mode 7
    assert ph.write1ByteTxRx(port, 2, 11, 0) == (COMM_SUCCESS, RANGE)  # XL430: no current mode
    assert ph.write4ByteTxRx(port, 1, 116, 5000) == (COMM_SUCCESS, LIMIT)  # beyond Max Position Limit
    assert ph.write4ByteTxRx(port, 1, 104, 900) == (COMM_SUCCESS, LIMIT)  # beyond Velocity Limit
    assert emu.motor(1).get("goal_position") != 5000 and emu.motor(1).get("operating_mode") == 3
    assert ph.write1ByteTxRx(port, 1, 11, 4) == (COMM_SUCCESS, 0)  # extended position: no limits
    assert ph.write4ByteTxRx(port, 1, 116, 5000) == (COMM_SUCCESS, 0)


def test_eeprom_is_locked_while_torque_is_on(bus):
    emu, port, ph = bus
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, 0)
    assert ph.write1ByteTxRx(port, 1, 11, 1) == (COMM_SUCCESS, ACCESS)
    assert ph.write4ByteTxRx(port, 1, 20, 100) == (COMM_SUCCESS, ACCESS)
    assert ph.write1ByteTxRx(port, 1, 65, 1) == (COMM_SUCCESS, 0)  # RAM is fine
    assert ph.write1ByteTxRx(port, 1, 64, 0) == (COMM_SUCCESS, 0)
    assert ph.write1ByteTxRx(port, 1, 11, 1) == (COMM_SUCCESS, 0)
    assert emu.motor(1).get("operating_mode") == 1


def test_hardware_error_sets_the_alert_bit_and_shuts_down(bus):
    emu, port, ph = bus
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, 0)
    emu.faults.raise_hardware_error(1, "overload")
    assert ph.ping(port, 1) == (1020, COMM_SUCCESS, ALERT)
    status, result, error = ph.read1ByteTxRx(port, 1, 70)
    assert decode_hardware_error(status) == ["overload"] and error == ALERT
    assert ph.read1ByteTxRx(port, 1, 64)[0] == 0  # Shutdown selects overload: torque dropped
    assert ph.write1ByteTxRx(port, 1, 64, 1) == (COMM_SUCCESS, ALERT | RESULT_FAIL)
    assert ph.ping(port, 2) == (1060, COMM_SUCCESS, 0)  # the neighbours are fine
    with pytest.raises(ValueError, match="overlaod"):
        emu.faults.raise_hardware_error(1, "overlaod")


def test_silent_motor_times_out_and_breaks_group_reads(bus):
    emu, port, ph = bus
    emu.faults.silent_ids.add(2)
    assert ph.ping(port, 2)[1] == COMM_RX_TIMEOUT
    assert ph.write1ByteTxRx(port, 2, 65, 1)[0] == COMM_RX_TIMEOUT
    assert emu.motor(2).get("led") == 0  # absent from the bus: it did not execute either
    group = GroupSyncRead(port, ph, 132, 4)
    for motor_id in (1, 2, 3):
        group.addParam(motor_id)
    assert group.txRxPacket() == COMM_RX_TIMEOUT
    # The combined reply comes out short. The SDK reports that as corrupt, or (depending on how the
    # short reply arrives) indexes past its end; our transport parses fast replies itself.
    try:
        short = group.fastSyncRead()
    except IndexError:
        short = COMM_RX_CORRUPT
    assert short == COMM_RX_CORRUPT
    group.removeParam(2)
    assert group.fastSyncRead() == COMM_SUCCESS
    emu.faults.silent_ids.clear()
    assert ph.ping(port, 2)[1] == COMM_SUCCESS


def test_dropped_and_corrupted_replies():
    with DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350")], seed=3) as emu:
        port = PortHandler(emu.port_path)
        assert port.openPort()
        ph = PacketHandler(2.0)
        emu.faults.drop_rate = 1.0
        assert ph.ping(port, 1)[1] == COMM_RX_TIMEOUT
        emu.faults.drop_rate, emu.faults.corrupt_rate = 0.0, 1.0
        assert ph.ping(port, 1)[1] == COMM_RX_CORRUPT
        emu.faults.drop_rate, emu.faults.corrupt_rate = 0.15, 0.15
        results = [ph.read4ByteTxRx(port, 1, 132)[1] for _ in range(40)]
        assert results.count(COMM_RX_TIMEOUT) == emu.faults.dropped - 1
        assert results.count(COMM_RX_CORRUPT) == emu.faults.corrupted - 1
        assert 0 < results.count(COMM_SUCCESS) < 40
        emu.faults.clear()
        assert ph.ping(port, 1)[1] == COMM_SUCCESS


def test_extra_latency_delays_replies():
    with DynamixelChainEmulator([EmulatedMotorConfig(1, "xm430-w350")]) as emu:
        port = PortHandler(emu.port_path)
        assert port.openPort()
        ph = PacketHandler(2.0)
        emu.faults.extra_latency_s = 0.01
        start = time.perf_counter()
        assert ph.ping(port, 1)[1] == COMM_SUCCESS
        assert time.perf_counter() - start >= 0.01


def test_a_motor_at_another_baud_rate_is_not_heard():
    motors = [EmulatedMotorConfig(1, "xm430-w350", baud_rate=57_600), EmulatedMotorConfig(2, "xm430-w350")]
    with DynamixelChainEmulator(motors, baud_rate=BAUD) as emu:
        port = PortHandler(emu.port_path)
        assert port.openPort() and port.setBaudRate(BAUD)
        ph = PacketHandler(2.0)
        assert ph.ping(port, 1)[1] == COMM_RX_TIMEOUT
        assert ph.ping(port, 2)[1] == COMM_SUCCESS
        assert port.setBaudRate(57_600)
        assert ph.ping(port, 1)[1] == COMM_SUCCESS


def test_status_return_level(bus):
    emu, port, ph = bus
    emu.motor(1).set("status_return_level", 1)
    assert ph.write1ByteTxRx(port, 1, 65, 1)[0] == COMM_RX_TIMEOUT  # level 1: writes are not answered
    assert emu.motor(1).get("led") == 1  # but executed
    assert ph.read1ByteTxRx(port, 1, 65)[:2] == (1, COMM_SUCCESS)
    emu.motor(1).set("status_return_level", 0)
    assert ph.read1ByteTxRx(port, 1, 65)[1] == COMM_RX_TIMEOUT
    assert ph.ping(port, 1)[1] == COMM_SUCCESS  # ping is always answered


def test_garbage_on_the_line_is_skipped(bus):
    _, port, ph = bus
    port.writePort(b"\x00\x13\xff\xff\xfd\x00\x01\xe8\x03")  # noise, then a false header claiming 1000 bytes
    assert ph.ping(port, 3)[:2] == (1020, COMM_SUCCESS)  # answered once the motor gives up on it
    assert ph.ping(port, 3)[:2] == (1020, COMM_SUCCESS)
