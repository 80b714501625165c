"""The emulator's end of the serial line: a pseudo-terminal, a reader thread and a timed writer.

The host opens the slave side (`port_path`) with pyserial exactly as it would open /dev/ttyUSB0. We
keep a slave descriptor open ourselves so the master never sees EIO when the host closes and
reopens, and so we can read the line settings the host chose (its baud rate).

Who serves a stable link is decided by an flock on a hidden file beside it (`.NAME.lock`), held for
as long as the emulator runs. The kernel drops it when the process dies, even by kill -9, so a link
left by a dead emulator is recognised as stale and replaced. Whether the link's pty still exists
says nothing: pty numbers are reused, often by the next emulator itself.

Replies carry an absolute delivery time (time.perf_counter seconds). The writer thread sleeps
until shortly before it and spins the rest, so a reply lands within tens of microseconds of its
deadline without burning a core while it waits.
"""

from __future__ import annotations

import fcntl
import heapq
import itertools
import os
import select
import struct
import termios
import threading
import time
import tty
from collections.abc import Callable
from pathlib import Path

from drivers.dynamixel import written
from robot_stack.realtime import fifo_priority

_SPIN_S = 250e-6  # time.sleep overshoots by ~50-100 µs on Linux; spin the last stretch
_PARTIAL_PACKET_TIMEOUT_S = 0.01  # a motor drops a packet whose bytes stop coming for this long

_SPEEDS = {
    getattr(termios, f"B{rate}"): rate
    for rate in (
        9600,
        19200,
        38400,
        57600,
        115200,
        230400,
        460800,
        500000,
        576000,
        921600,
        1000000,
        1152000,
        1500000,
        2000000,
        2500000,
        3000000,
        3500000,
        4000000,
    )
    if hasattr(termios, f"B{rate}")
}


def lock_path(link: Path) -> Path:
    """The hidden file whose flock says an emulator serves `link` (kept: removing it would race)."""
    return link.with_name(f".{link.name}.lock")


def link_holder(link: str | os.PathLike) -> int | None:
    """The process serving `link`, or None when no live emulator holds it."""
    try:
        fd = os.open(lock_path(Path(link)), os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read_pid(fd) or -1
    finally:
        os.close(fd)  # also drops the shared lock, if we got it
    return None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None


def sleep_until(deadline: float) -> None:
    """Wait until time.perf_counter() >= deadline: sleep most of the way, then spin."""
    remaining = deadline - time.perf_counter()
    if remaining > _SPIN_S:
        time.sleep(remaining - _SPIN_S)
    while time.perf_counter() < deadline:
        pass


class PtyTransport:
    """Owns the pty pair, the optional stable symlink, and the reader and writer threads.

    `on_data(data, arrival_time)` is called from the reader thread for every chunk the host writes;
    `on_idle()` when a started packet stops receiving bytes. Call `send(data, deliver_at)` from it.
    """

    def __init__(
        self,
        on_data: Callable[[bytes, float], None],
        on_idle: Callable[[], None],
        link_path: str | os.PathLike | None = None,
        name: str = "dxl-emulator",
    ):
        self._on_data = on_data
        self._on_idle = on_idle
        self._link_path = Path(link_path) if link_path else None
        self._name = name
        self.priority = 0  # SCHED_FIFO priority of the serving threads (0: ordinary)
        self._master = self._slave = -1
        self._wake_r = self._wake_w = -1
        self._lock_fd = -1
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._handling = threading.Lock()  # held while a chunk of input is read, parsed and executed
        self._bytes_read = 0
        self._written_base = 0  # what this process had written to the slave before we opened it
        self._queue: list[tuple[float, int, bytes]] = []
        self._queue_cv = threading.Condition()
        self._seq = itertools.count()
        self.slave_path = ""
        self._in_flight = False  # the writer has taken a reply off the queue and not written it yet
        self.partial = False  # set by the owner: a packet has started but not finished

    # ---- lifecycle --------------------------------------------------------------------------
    def open(self) -> None:
        self._master, self._slave = os.openpty()
        # Raw from the first byte: no echo (our replies would come back as requests), no CR/LF
        # translation, no flow control. pyserial sets the same again when the host opens the port.
        tty.setraw(self._slave)
        # A real bus does not buffer: if the host is not reading, bytes are lost, never block us.
        os.set_blocking(self._master, False)
        self.slave_path = os.ttyname(self._slave)
        self._bytes_read = 0
        self._written_base = written.total(self.slave_path)  # a reused /dev/pts number starts afresh
        if self._link_path is not None:
            try:
                self._claim_link()
            except BaseException:
                self._close_fds()
                raise
        self._wake_r, self._wake_w = os.pipe()
        self._stopping.clear()
        self._threads = [
            threading.Thread(
                target=self._prioritised, args=(self._read_loop,), name=f"{self._name}-rx", daemon=True
            ),
            threading.Thread(
                target=self._prioritised, args=(self._write_loop,), name=f"{self._name}-tx", daemon=True
            ),
        ]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        self._stopping.set()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        with self._queue_cv:
            self._queue_cv.notify_all()
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads = []
        if self._link_path is not None and self._link_path.is_symlink():
            if os.readlink(self._link_path) == self.slave_path:
                self._link_path.unlink()
        self._close_fds()

    def _claim_link(self) -> None:
        link = self._link_path
        link.parent.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(lock_path(link), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(self._lock_fd)
            raise FileExistsError(
                f"{link} is taken: another emulator"
                + (f" (process {holder})" if holder else "")
                + " serves it"
            ) from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        if link.is_symlink():
            link.unlink()  # left by an emulator that died: we hold the lock, so nobody serves it
        elif link.exists():
            raise FileExistsError(f"{link} exists and is not a symlink; not replacing it")
        link.symlink_to(self.slave_path)

    def _close_fds(self) -> None:
        for fd in (self._master, self._slave, self._wake_r, self._wake_w, self._lock_fd):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = self._lock_fd = -1

    @property
    def port_path(self) -> str:
        """What the host should open: the symlink when one was asked for, else the pty itself."""
        return str(self._link_path) if self._link_path else self.slave_path

    def host_baud_rate(self) -> int | None:
        """The baud rate the host set on its end of the line; None when it used a custom divisor."""
        try:
            return _SPEEDS.get(termios.tcgetattr(self._slave)[5])
        except termios.error:
            return None

    # ---- output ---------------------------------------------------------------------------------
    def send(self, data: bytes, deliver_at: float) -> None:
        """Queue bytes for the host, to arrive at `deliver_at` (perf_counter seconds)."""
        with self._queue_cv:
            if not self._queue and not self._in_flight and deliver_at <= time.perf_counter():
                self._write_all(data)  # nothing ahead of it and already due: skip the thread hop
                return
            heapq.heappush(self._queue, (deliver_at, next(self._seq), data))
            self._queue_cv.notify()

    def _prioritised(self, body) -> None:
        with fifo_priority(self.priority):
            body()

    def _write_loop(self) -> None:
        while not self._stopping.is_set():
            with self._queue_cv:
                while not self._queue and not self._stopping.is_set():
                    self._queue_cv.wait()
                if self._stopping.is_set():
                    return
                deadline = self._queue[0][0]
                # Sleep outside the lock; recheck in case an earlier reply was queued meanwhile.
                remaining = deadline - time.perf_counter()
                if remaining > 2 * _SPIN_S:
                    self._queue_cv.wait(timeout=remaining - 2 * _SPIN_S)
                    continue
                _, _, data = heapq.heappop(self._queue)
                self._in_flight = True
            sleep_until(deadline)
            with self._queue_cv:
                self._write_all(data)
                self._in_flight = False

    def _write_all(self, data: bytes) -> None:
        try:
            os.write(self._master, data)
        except OSError:
            pass  # the host's input queue is full or the pty is closing: the bytes are lost, as on a bus

    # ---- input ----------------------------------------------------------------------------------
    def pending_input(self) -> int:
        """Bytes the host wrote that the reader has not taken yet."""
        try:
            return struct.unpack("i", fcntl.ioctl(self._master, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return 0

    def wait_input_handled(self, timeout_s: float = 1.0) -> bool:
        """Block until everything the host has written so far has been read and handled: every byte
        a driver in this process wrote (the write ledger; bytes still inside the kernel's pty hand-off
        included) and whatever else sits in the pty's queue."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            expected = written.total(self.slave_path) - self._written_base
            with self._handling:  # a chunk being read or handled finishes first
                if self._bytes_read >= expected and self.pending_input() == 0:
                    return True
            time.sleep(0.0002)
        return False

    def _read_loop(self) -> None:
        poller = select.poll()
        poller.register(self._master, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._stopping.is_set():
            timeout_ms = _PARTIAL_PACKET_TIMEOUT_S * 1000 if self.partial else None
            events = poller.poll(timeout_ms)
            now = time.perf_counter()
            if self._stopping.is_set():
                return
            if not events:
                self._on_idle()
                continue
            for fd, _ in events:
                if fd != self._master:
                    continue
                # taken before the read: once bytes leave the pty's queue, a lockstep waiter
                # (wait_input_handled) must see them as being handled until they have been
                with self._handling:
                    try:
                        data = os.read(self._master, 4096)
                    except OSError:
                        data = b""
                    if data:
                        self._bytes_read += len(data)
                        self._on_data(data, now)
                if not data:
                    time.sleep(0.01)  # no slave open at the moment (EIO): do not spin
