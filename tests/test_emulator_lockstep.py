"""Lockstep time needs the emulated motors to have executed every packet the driver wrote before physics
moves: `wait_input_handled` must not return while written bytes are still in the kernel's pty hand-off
or in the emulator's reader, however busy the interpreter is."""

import threading

from drivers.dynamixel.emulator.transport import PtyTransport
from drivers.dynamixel.port import DxlPortHandler


def test_wait_input_handled_covers_every_byte_the_driver_wrote():
    handled = []
    transport = PtyTransport(lambda data, _t: handled.append(len(data)), lambda: None)
    transport.open()
    port = DxlPortHandler(transport.slave_path)
    stop = threading.Event()

    def busy():  # another Python thread wanting the interpreter, as physics, cameras and a planner do
        while not stop.is_set():
            sum(range(500))

    burner = threading.Thread(target=busy, daemon=True)
    burner.start()
    try:
        assert port.openPort()
        packet = bytes([0xFF, 0xFF, 0xFD, 0x00, 0xFE, 0x07, 0x00, 0x03, 0x74, 0x00, 0x00, 0x08, 0x00, 0x00])
        early = 0
        for count in range(1, 301):
            port.writePort(packet)
            assert transport.wait_input_handled(2.0)
            early += sum(handled) < count * len(packet)
        assert early == 0, f"{early} of 300 waits returned before the packet was read"
    finally:
        stop.set()
        port.closePort()
        transport.close()
