"""Fault injection for the emulated chain: lost and corrupted replies, silent motors, hardware errors,
extra latency. Random choices come from one seeded RNG so a failing test replays exactly."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable


class FaultInjector:
    """Knobs are plain attributes; change them at any time from any thread.

    drop_rate      fraction of status packets never delivered (the host times out)
    corrupt_rate   fraction of status packets delivered with one byte flipped (CRC fails)
    silent_ids     motors that are electrically absent: they neither execute nor answer
    extra_latency_s  added before every status packet, on top of the wire-time model
    """

    def __init__(self, seed: int = 0, hardware_error: Callable[[int, str], None] | None = None):
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._hardware_error = hardware_error
        self.drop_rate = 0.0
        self.corrupt_rate = 0.0
        self.silent_ids: set[int] = set()
        self.extra_latency_s = 0.0
        self.dropped = 0
        self.corrupted = 0

    def raise_hardware_error(self, motor_id: int, name: str) -> None:
        """Latch a Hardware Error Status bit on a motor ('overload', 'overheating', 'input_voltage',
        'motor_encoder', 'electrical_shock'); every status packet from it then carries the alert bit,
        and if its Shutdown register selects that error its torque goes off until a reboot."""
        if self._hardware_error is None:
            raise RuntimeError("this fault injector is not attached to a chain")
        self._hardware_error(motor_id, name)

    def clear(self) -> None:
        """Back to a healthy chain (latched hardware errors stay until a reboot, as on a real motor)."""
        self.drop_rate = 0.0
        self.corrupt_rate = 0.0
        self.silent_ids.clear()
        self.extra_latency_s = 0.0

    def is_silent(self, motor_id: int) -> bool:
        return motor_id in self.silent_ids

    def mangle(self, packet: bytes) -> bytes | None:
        """The packet as it reaches the host: unchanged, corrupted, or None when lost."""
        with self._rng_lock:
            if self.drop_rate and self._rng.random() < self.drop_rate:
                self.dropped += 1
                return None
            if self.corrupt_rate and self._rng.random() < self.corrupt_rate:
                self.corrupted += 1
                # Flip one byte after the header, ID and LEN so the packet still frames but its CRC fails.
                i = self._rng.randrange(8, len(packet))
                bad = bytearray(packet)
                bad[i] ^= self._rng.randrange(1, 256)
                return bytes(bad)
        return packet
