"""The serial port under a Dynamixel bus: the SDK's PortHandler, made safe to share a PC with.

Changes to the stock `dynamixel_sdk.PortHandler`, and why:

- **Exclusive lock.** Two processes writing one half-duplex bus corrupt each other's packets in ways
  that look like flaky wiring. The port is opened with an exclusive lock, and a second opener gets a
  clear "busy" error naming the process that holds it.
- **Monotonic clock.** The SDK times packets with `time.time()`; a wall-clock step (NTP) would fire or
  stall every timeout in flight.
- **Wait instead of spin.** The SDK polls a non-blocking port in a tight loop until the reply is
  complete. With four arms on four threads that is four cores' worth of spinning fighting over the
  GIL. Here `readPort` waits in `select()` (GIL released) until bytes arrive or the packet deadline
  passes. `poll="spin"` restores the SDK behaviour, so the bench can measure the difference.
- **Timeouts from the real latency timer.** The SDK assumes the FTDI default of 16 ms and waits
  34 ms + wire time for every missing reply. The timeout here is wire time + 2 × the adapter's actual
  latency timer (read from sysfs; 1 ms with our udev rule) + return delay + a margin.
"""

from __future__ import annotations

import errno
import os
import select
import time
from pathlib import Path

import serial
from dynamixel_sdk import PortHandler

from drivers.dynamixel import written
from drivers.dynamixel.errors import PortError
from drivers.dynamixel.udev import read_latency_timer_ms

# Baud rates the SDK can set (PortHandler.getCFlagBaud); 4.5 Mbps is not among them.
SDK_BAUD_RATES = (9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600,
                  1000000, 1152000, 2000000, 2500000, 3000000, 3500000, 4000000)  # fmt: skip

DEFAULT_TIMEOUT_MARGIN_MS = 3.0


class DxlPortHandler(PortHandler):
    def __init__(
        self,
        port_name: str,
        *,
        latency_timer_ms: float | None = None,
        timeout_margin_ms: float = DEFAULT_TIMEOUT_MARGIN_MS,
        return_delay_us: int = 0,
        poll: str = "wait",
    ):
        super().__init__(port_name)
        if poll not in ("wait", "spin"):
            raise ValueError(f"poll must be 'wait' or 'spin', not {poll!r}")
        self.poll = poll
        # None: ask sysfs at open time; a pseudo-terminal (emulator) has no latency timer → 0.
        self.latency_timer_ms = latency_timer_ms
        self.timeout_margin_ms = timeout_margin_ms
        self.return_delay_ms = return_delay_us / 1000.0
        self._fd = -1
        self._device = ""  # the port's real path, for the lockstep write ledger
        self._deadline_ms = 0.0

    # -- opening -------------------------------------------------------------------------------
    def setupPort(self, cflag_baud: int) -> bool:
        if self.is_open:
            self.closePort()
        self.ser = serial.Serial(
            port=self.port_name, baudrate=self.baudrate, bytesize=serial.EIGHTBITS, timeout=0, exclusive=True
        )
        self.is_open = True
        self._fd = self.ser.fileno()
        self._device = written.device_key(self.port_name)
        self.ser.reset_input_buffer()
        self.tx_time_per_byte = (1000.0 / self.baudrate) * 10.0
        if self.latency_timer_ms is None:
            measured = read_latency_timer_ms(self.port_name)
            self.latency_timer_ms = float(measured) if measured is not None else 0.0
        return True

    def closePort(self) -> None:
        if self.ser is not None:
            self.ser.close()
        self.is_open = False
        self._fd = -1

    # -- timing --------------------------------------------------------------------------------
    def getCurrentTime(self) -> float:
        return time.monotonic() * 1000.0

    def reply_allowance_ms(self, replies: int = 1) -> float:
        """Time beyond the bytes' wire time that `replies` status packets may take to arrive."""
        return 2.0 * (self.latency_timer_ms or 0.0) + self.timeout_margin_ms + replies * self.return_delay_ms

    def setPacketTimeout(self, packet_length: int) -> None:
        self.setPacketTimeoutMillis(self.tx_time_per_byte * packet_length + self.reply_allowance_ms())

    def setPacketTimeoutMillis(self, msec: float) -> None:
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = msec
        self._deadline_ms = self.packet_start_time + msec

    # -- I/O -----------------------------------------------------------------------------------
    def readPort(self, length: int) -> bytes:
        data = self._read_now(length)
        if data or self.poll == "spin":
            return data
        remaining_s = (self._deadline_ms - self.getCurrentTime()) / 1000.0
        if remaining_s <= 0:
            # This thread may have been descheduled past the deadline while the reply arrived:
            # look once more, so a reply that is there is never declared missing.
            return self._read_now(length)
        ready, _, _ = select.select([self._fd], [], [], remaining_s)
        if not ready:
            return b""
        data = self._read_now(length)
        if not data:
            # select() said readable but nothing came: the adapter is gone (USB unplugged).
            raise PortError(
                self.port_name,
                "lost",
                f"serial port {self.port_name} stopped responding (adapter unplugged?)",
                "check the USB cable of the adapter, then reconnect",
            )
        return data

    def _read_now(self, length: int) -> bytes:
        try:
            return os.read(self._fd, length)
        except BlockingIOError:
            return b""
        except OSError as exc:
            raise PortError(
                self.port_name,
                "lost",
                f"serial port {self.port_name} failed while reading: {exc.strerror}",
                "check the USB cable of the adapter, then reconnect",
            ) from exc

    def writePort(self, packet) -> int:
        data = bytes(packet)
        view = memoryview(data)
        try:
            while view:
                try:
                    n = os.write(self._fd, view)
                except BlockingIOError:
                    select.select([], [self._fd], [], 0.05)
                    continue
                view = view[n:]
                written.add(self._device, n)
        except OSError as exc:
            raise PortError(
                self.port_name,
                "lost",
                f"serial port {self.port_name} failed while writing: {exc.strerror}",
                "check the USB cable of the adapter, then reconnect",
            ) from exc
        return len(data)

    def wait_quiet(self, quiet_ms: float, limit_ms: float) -> None:
        """Discard input until the line has been silent for `quiet_ms` (at most `limit_ms`).

        After a failed transaction other motors may still be answering; sending the retry into
        their replies would collide on the half-duplex bus.
        """
        end = self.getCurrentTime() + limit_ms
        while True:
            now = self.getCurrentTime()
            if now >= end:
                break
            ready, _, _ = select.select([self._fd], [], [], min(quiet_ms, end - now) / 1000.0)
            if not ready:
                break
            if not self._read_now(4096):
                break
        self.ser.reset_input_buffer()


def open_port_handler(port: str, baud_rate: int, **options) -> DxlPortHandler:
    """Open `port` at `baud_rate`, or raise a PortError that says what is wrong and how to fix it."""
    if baud_rate not in SDK_BAUD_RATES:
        raise PortError(
            port,
            "unsupported_baud",
            f"baud rate {baud_rate} cannot be set on {port} by the Dynamixel SDK",
            f"use one of {', '.join(str(b) for b in SDK_BAUD_RATES if b >= 57600)}",
        )
    handler = DxlPortHandler(port, **options)
    handler.baudrate = baud_rate
    try:
        handler.openPort()
    except serial.SerialException as exc:
        raise _port_error(port, exc) from exc
    except OSError as exc:
        raise _port_error(port, exc) from exc
    return handler


def _port_error(port: str, exc: Exception) -> PortError:
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or (not os.path.exists(port) and code in (None, errno.ENODEV)):
        return PortError(
            port,
            "missing",
            f"serial port {port} does not exist",
            "plug in the arm's USB adapter and power the motors; if the name is a udev symlink, "
            "install the rule from `robot-stack motors udev`; `ls /dev/ttyUSB* /dev/ttyDXL*` lists adapters",
        )
    if code in (errno.EACCES, errno.EPERM):
        return PortError(
            port,
            "permission",
            f"no permission to open serial port {port}",
            "add yourself to the dialout group (`sudo usermod -aG dialout $USER`, then log out and in), "
            "or install the udev rule from `robot-stack motors udev`, which sets GROUP=dialout MODE=0660",
        )
    if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY) or "exclusively lock" in text:
        holders = port_holders(port)
        who = ", ".join(f"pid {pid} ({cmd})" for pid, cmd in holders) if holders else "another process"
        return PortError(
            port,
            "busy",
            f"serial port {port} is in use by {who}",
            "stop the other program (another robot-stack command, Dynamixel Wizard, a ROS node) and retry",
        )
    return PortError(
        port, "missing", f"cannot open serial port {port}: {text}", "check the adapter and cable"
    )


def port_holders(port: str) -> list[tuple[int, str]]:
    """Processes with `port` open, found through /proc (only those this user may inspect)."""
    try:
        target = os.path.realpath(port)
    except OSError:
        return []
    found: list[tuple[int, str]] = []
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        pid = int(proc.name)
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd) == target:
                    cmd = (
                        (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                    )
                    found.append((pid, "this process" if pid == me else cmd[:80] or "?"))
                    break
        except OSError:
            continue
    return found
