"""What an audit finds: flags, per-episode results and the dataset overview, as plain data.

Everything here turns into JSON (`AuditReport.to_json()`), the rich table and the HTML page; the
checks themselves live in integrity.py, timing.py, content.py, outliers.py and latency.py.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Flag:
    """One finding. `code` is stable (docs/audit.md lists them); `message` is for a person."""

    code: str
    severity: str  # error: the data is damaged or unusable as stored; warning: usable, but look at it
    message: str
    camera: str | None = None
    spans: tuple[tuple[float, float], ...] = ()  # episode-relative seconds, to mark on the plots


@dataclass
class PlotSeries:
    """A downsampled copy of the joint streams, small enough for an HTML page."""

    t: np.ndarray  # (K,) seconds from the episode's first tick
    observation: np.ndarray  # (K, J)
    action: np.ndarray  # (K, J)
    joint_names: list[str]


@dataclass
class EpisodeAudit:
    index: int
    attrs: dict  # task, operator, status, tags, start_time … as stored
    metrics: dict = field(default_factory=dict)  # section → values (integrity, timing, content, cameras …)
    flags: list[Flag] = field(default_factory=list)
    plot: PlotSeries | None = None
    thumbnails: dict[str, list[tuple[float, bytes]]] = field(default_factory=dict)  # camera → (t, JPEG)

    def add(self, flags: list[Flag]) -> None:
        self.flags.extend(flags)

    @property
    def codes(self) -> list[str]:
        return sorted({f.code for f in self.flags})

    @property
    def worst(self) -> str | None:
        if any(f.severity == ERROR for f in self.flags):
            return ERROR
        return WARNING if self.flags else None


@dataclass
class AuditReport:
    path: str
    rig_name: str
    cameras: list[str]
    episodes: list[EpisodeAudit]
    dataset_flags: list[Flag] = field(default_factory=list)  # not tied to one episode (leftovers …)
    overview: dict = field(default_factory=dict)  # totals, latency estimates, outlier figures
    seconds: float = 0.0  # how long the audit took

    def flag_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for ep in self.episodes:
            for code in ep.codes:
                counts[code] = counts.get(code, 0) + 1
        for flag in self.dataset_flags:
            counts[flag.code] = counts.get(flag.code, 0) + 1
        return dict(sorted(counts.items()))

    def episode(self, index: int) -> EpisodeAudit:
        return next(ep for ep in self.episodes if ep.index == index)

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "rig": self.rig_name,
            "cameras": self.cameras,
            "seconds": self.seconds,
            "overview": _plain({k: v for k, v in self.overview.items() if k != "latency_curves"}),
            "flag_counts": self.flag_counts(),
            "dataset_flags": [_plain(asdict(f)) for f in self.dataset_flags],
            "episodes": [
                {
                    "index": ep.index,
                    "task": ep.attrs.get("task"),
                    "status": ep.attrs.get("status"),
                    "tags": ep.attrs.get("tags", []),
                    "metrics": _plain(ep.metrics),
                    "flags": [_plain(asdict(f)) for f in ep.flags],
                }
                for ep in self.episodes
            ],
        }


def _plain(value):
    """numpy scalars and arrays, tuples → JSON-ready Python values (NaN → None)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
