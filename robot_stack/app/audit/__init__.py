"""The dataset audit (a workflow): integrity, timing, content and camera latency of every episode,
reported as a rich table and a static HTML page. docs/audit.md explains every check and flag.

    from robot_stack.app.audit import AuditOptions, run_audit
    report = run_audit("demos.zarr", AuditOptions(html=True))
"""

from robot_stack.app.audit.model import AuditReport, EpisodeAudit, Flag
from robot_stack.app.audit.runner import AuditOptions, run_audit
from robot_stack.app.audit.thresholds import Thresholds

__all__ = ["AuditOptions", "AuditReport", "EpisodeAudit", "Flag", "Thresholds", "run_audit"]
