"""Stream counters: drops (from device sequence numbers, else from timestamp gaps) and achieved rate."""

from __future__ import annotations

from collections import deque

# A frame that arrives more than 1.5 periods after the previous one means at least one went missing;
# below that it is jitter. (USB cameras jitter by a few milliseconds; a lost frame costs a whole period.)
GAP_PERIODS = 1.5


class StreamCounter:
    def __init__(self, fps: float, window_s: float = 2.0):
        self.period = 1.0 / fps
        self.frames = 0
        self.drops = 0
        self._last_sequence: int | None = None
        self._last_time: float | None = None
        self._last_time_is_device = False
        self._times: deque[float] = deque(maxlen=max(8, int(round(window_s * fps))))

    def update(self, t_host: float, t_device: float | None, device_sequence: int | None) -> int:
        """Count one frame; returns how many frames were lost just before it."""
        dropped = 0
        if device_sequence is not None:
            if self._last_sequence is not None:
                # a counter that goes backwards (device reset, looping playback) loses nothing we can count
                dropped = max(0, device_sequence - self._last_sequence - 1)
            self._last_sequence = device_sequence
        else:
            # device timestamps jitter less than host arrival times, so prefer them when both frames have one
            use_device = t_device is not None and (self._last_time is None or self._last_time_is_device)
            t = t_device if use_device else t_host
            if self._last_time is not None:
                gap = t - self._last_time
                if gap > GAP_PERIODS * self.period:
                    dropped = max(1, int(round(gap / self.period)) - 1)
            self._last_time, self._last_time_is_device = t, use_device
        self.frames += 1
        self.drops += dropped
        self._times.append(t_host)
        return dropped

    @property
    def fps(self) -> float:
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0
