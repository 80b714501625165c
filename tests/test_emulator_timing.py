"""The wire-time model: with it on, a transaction cannot finish before its bytes could have crossed
the bus; with it off, replies come as fast as the pty allows. Bounds are loose on purpose."""

import statistics
import time

from dynamixel_sdk import COMM_SUCCESS, GroupSyncRead, PacketHandler, PortHandler

from drivers.dynamixel.emulator import DynamixelChainEmulator, EmulatedMotorConfig, wire_time_s

BAUD = 57_600  # slow enough that the wire time dwarfs scheduling noise
RETURN_DELAY_US = 500


def measure(call, n=8):
    times = []
    for _ in range(n):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        assert (result[1] if isinstance(result, tuple) else result) == COMM_SUCCESS
    return times


def run_chain(wire_timing):
    motors = [EmulatedMotorConfig(i, "xm430-w350", return_delay_us=RETURN_DELAY_US) for i in (1, 2, 3)]
    with DynamixelChainEmulator(motors, baud_rate=BAUD, wire_timing=wire_timing) as emu:
        port = PortHandler(emu.port_path)
        assert port.openPort() and port.setBaudRate(BAUD)
        ph = PacketHandler(2.0)
        group = GroupSyncRead(port, ph, 132, 4)
        for motor_id in (1, 2, 3):
            group.addParam(motor_id)
        read = measure(lambda: ph.read4ByteTxRx(port, 1, 132))
        sync = measure(group.txRxPacket)
        fast = measure(group.fastSyncRead)
        port.closePort()
    return read, sync, fast


def test_wire_timing_delays_replies_by_at_least_the_wire_time():
    delay = RETURN_DELAY_US * 1e-6
    expected = {
        "read": wire_time_s(14 + 15, BAUD) + delay,  # READ of 4 bytes, one status with 4 bytes
        "sync": wire_time_s(14 + 3 + 3 * 15, BAUD) + 3 * delay,  # three status packets, one after another
        "fast": wire_time_s(14 + 3 + 8 + 3 * 8, BAUD) + delay,  # one combined status packet
    }
    measured = dict(zip(("read", "sync", "fast"), run_chain(wire_timing=True), strict=True))
    for name, times in measured.items():
        assert min(times) >= expected[name], (name, min(times), expected[name])
        assert statistics.median(times) < expected[name] + 0.02, (name, statistics.median(times))
    assert statistics.median(measured["fast"]) < statistics.median(measured["sync"])


def test_without_wire_timing_replies_are_immediate():
    read, sync, _ = run_chain(wire_timing=False)
    assert statistics.median(read) < wire_time_s(14 + 15, BAUD)
    assert statistics.median(sync) < wire_time_s(14 + 3 + 3 * 15, BAUD)
