"""The audit as one static HTML page: dataset overview, an episode index, then per episode its flags,
joint plots (follower solid, command dashed, flagged stretches shaded) and a contact sheet of frames
per camera. Everything is inline — SVG charts, JPEG thumbnails as data URIs, CSS — so the file opens
from disk, can be mailed, and needs no network or script.
"""

from __future__ import annotations

import base64
import time
from html import escape
from pathlib import Path

import numpy as np

from robot_stack.app.audit.model import ERROR, AuditReport, EpisodeAudit, Flag
from robot_stack.app.audit.svg import Line, bar_chart, line_chart

SPAN_COLORS = {
    "dropped_frames": "#d62728",
    "duplicate_frames": "#9467bd",
    "idle": "#7f7f7f",
    "non_monotonic_time": "#e377c2",
    "tick_overruns": "#ff7f0e",
    "joint_saturation": "#8c564b",
    "gripper_saturation": "#8c564b",
    "bad_alignment": "#bcbd22",
    "late_camera_start": "#17becf",
}
OBS_COLOR, ACT_COLOR = "#1f77b4", "#ff7f0e"

CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; max-width: 1500px; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; margin: 0.8em 0 0.3em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.4em 0; }
td, th { border: 1px solid #ddd; padding: 2px 6px; text-align: right; }
th { background: #f3f3f3; } td.l, th.l { text-align: left; }
.flag { display: inline-block; padding: 0 5px; margin: 1px; border-radius: 3px; font-size: 0.8em; }
.flag.warning { background: #fff3cd; border: 1px solid #e0c060; }
.flag.error { background: #f8d7da; border: 1px solid #d08080; }
.ok { color: #2a7a2a; }
ul.flags { margin: 0.3em 0; padding-left: 1.2em; font-size: 0.9em; }
ul.flags li.error { color: #a00; }
.plots { display: flex; flex-wrap: wrap; gap: 4px; }
.sheet { display: flex; flex-wrap: wrap; gap: 4px; margin-bottom: 6px; }
.sheet figure { margin: 0; font-size: 0.75em; text-align: center; }
.sheet img { display: block; border: 1px solid #ccc; }
.legend span { display: inline-block; margin-right: 1em; font-size: 0.8em; }
.swatch { display: inline-block; width: 12px; height: 8px; margin-right: 3px; }
section.episode { border-top: 2px solid #eee; padding-top: 0.3em; }
"""


def render_html(report: AuditReport) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Audit — {escape(report.path)}</title><style>{CSS}</style></head><body>",
        f"<h1>Dataset audit: {escape(report.path)}</h1>",
        _overview(report),
        _index(report),
    ]
    parts += [_episode(report, ep) for ep in report.episodes]
    parts.append(
        f"<p style='font-size:0.8em;color:#777'>robot-stack audit, {time.strftime('%Y-%m-%d %H:%M')}, "
        f"{report.seconds:.1f} s</p></body></html>"
    )
    return "\n".join(parts)


def write_html(report: AuditReport, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(out)
    return out


def _badges(flags: list[Flag]) -> str:
    if not flags:
        return "<span class='ok'>ok</span>"
    seen, out = set(), []
    for f in flags:
        key = (f.code, f.camera)
        if key in seen:
            continue
        seen.add(key)
        label = f.code if f.camera is None else f"{f.code} ({f.camera})"
        out.append(f"<span class='flag {f.severity}' title='{escape(f.message)}'>{escape(label)}</span>")
    return "".join(out)


def _overview(report: AuditReport) -> str:
    ov = report.overview
    rows = [
        ("rig", report.rig_name),
        ("episodes", f"{ov.get('episodes', 0)} ({ov.get('flagged_episodes', 0)} flagged)"),
        ("recorded", f"{ov.get('duration_s', 0.0) / 60:.1f} min"),
        ("cameras", ", ".join(report.cameras) or "none"),
        ("frames", f"{ov.get('frames', 0)} ({ov.get('bytes_read', 0) / 1e6:.0f} MB read)"),
        ("tasks", ", ".join(f"{escape(k)} × {v}" for k, v in ov.get("tasks", {}).items())),
        ("joints per tick", str(ov.get("joints"))),
        ("audit time", f"{report.seconds:.1f} s"),
    ]
    html = ["<section id='overview'><h2>Overview</h2><table>"]
    html += [f"<tr><th class='l'>{k}</th><td class='l'>{v}</td></tr>" for k, v in rows]
    html.append("</table>")
    counts = report.flag_counts()
    html.append("<h3>Flags</h3>")
    if counts:
        html.append("<table><tr><th class='l'>flag</th><th>episodes</th></tr>")
        html += [f"<tr><td class='l'>{escape(c)}</td><td>{n}</td></tr>" for c, n in counts.items()]
        html.append("</table>")
    else:
        html.append("<p class='ok'>No flags: every check passed.</p>")
    if report.dataset_flags:
        html.append("<ul class='flags'>")
        html += [
            f"<li class='{f.severity}'>{escape(f.code)}: {escape(f.message)}</li>"
            for f in report.dataset_flags
        ]
        html.append("</ul>")
    html.append(_latency(report))
    html.append(_outliers(report))
    html.append("</section>")
    return "\n".join(html)


def _latency(report: AuditReport) -> str:
    latency = report.overview.get("latency", {})
    curves = report.overview.get("latency_curves", {})
    if not latency:
        return "<h3>Camera latency</h3><p>Not estimated (no camera with enough frames and motion).</p>"
    out = [
        "<h3>Camera latency (image motion vs joint speed)</h3><table><tr><th class='l'>camera</th>"
        "<th>estimate</th><th>best lag</th><th>r</th><th>z</th><th>frames</th><th>stored correction</th>"
        "<th class='l'>correlation over lag (s)</th></tr>"
    ]
    for name, est in latency.items():
        value = "unclear" if est.get("latency_s") is None else f"{est['latency_s'] * 1e3:.0f} ms"
        chart = ""
        if name in curves:
            lags = np.asarray(curves["lags_s"])
            chart = line_chart(
                [Line(lags, np.asarray(curves[name]), OBS_COLOR)],
                width=240,
                height=70,
                marker_x=est.get("latency_s"),
                css_class="chart latency",
            )
        out.append(
            f"<tr><td class='l'>{escape(name)}</td><td>{value}</td><td>{est['best_lag_s'] * 1e3:.0f} ms</td>"
            f"<td>{est['peak_r']:.2f}</td><td>{est['z']:.1f}</td><td>{est['samples']}</td>"
            f"<td>{est['stored_s'] * 1e3:.0f} ms</td><td class='l'>{chart}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _outliers(report: AuditReport) -> str:
    out = ["<h3>Episode lengths and trajectories, per task</h3>"]
    flagged = {ep.index for ep in report.episodes if {"length_outlier", "trajectory_outlier"} & set(ep.codes)}
    for task, figures in report.overview.get("outliers", {}).items():
        if not figures.get("checked"):
            out.append(f"<p>{escape(task)}: {figures['episodes']} episode(s), too few to compare.</p>")
            continue
        idx = list(figures["lengths_s"])
        labels = [str(k) for k in idx]
        hot = {i for i, k in enumerate(idx) if k in flagged}
        out.append(f"<p>{escape(task)}: median length {figures['median_length_s']:.1f} s</p>")
        out.append(
            bar_chart(labels, [figures["lengths_s"][k] for k in idx], highlight=hot, title="length (s)")
        )
        out.append(
            bar_chart(
                labels,
                [figures["distance_rad"][k] for k in idx],
                highlight=hot,
                title="trajectory distance from the median take (rad RMS)",
                limit=figures["distance_limit_rad"],
            )
        )
    return "\n".join(out)


def _index(report: AuditReport) -> str:
    rows = [
        "<section id='episodes'><h2>Episodes</h2><table><tr><th>#</th><th class='l'>task</th>"
        "<th class='l'>status</th><th>length (s)</th><th class='l'>tags</th><th class='l'>flags</th></tr>"
    ]
    for ep in report.episodes:
        ticks = ep.metrics.get("ticks", {})
        rows.append(
            f"<tr><td><a href='#ep-{ep.index}'>{ep.index}</a></td><td class='l'>{escape(str(ep.attrs.get('task', '')))}</td>"
            f"<td class='l'>{escape(str(ep.attrs.get('status', '')))}</td><td>{ticks.get('duration_s', float('nan')):.1f}</td>"
            f"<td class='l'>{escape(', '.join(ep.attrs.get('tags', [])))}</td><td class='l'>{_badges(ep.flags)}</td></tr>"
        )
    rows.append("</table></section>")
    return "\n".join(rows)


def _episode(report: AuditReport, ep: EpisodeAudit) -> str:
    attrs = ep.attrs
    ticks = ep.metrics.get("ticks", {})
    head = (
        f"<section class='episode' id='ep-{ep.index}'><h2>Episode {ep.index}: {escape(str(attrs.get('task', '')))}</h2>"
        f"<p>operator {escape(str(attrs.get('operator') or '—'))}, started {escape(str(attrs.get('start_time', '—')))}, "
        f"status {escape(str(attrs.get('status')))}, success {escape(str(attrs.get('success')))}, "
        f"{ticks.get('duration_s', float('nan')):.1f} s at {ticks.get('rate_hz', float('nan')):.1f} Hz, "
        f"tags: {escape(', '.join(attrs.get('tags', [])) or '—')}</p>"
    )
    parts = [head]
    if ep.flags:
        parts.append("<ul class='flags'>")
        parts += [
            f"<li class='{f.severity}'><b>{escape(f.code)}</b>: {escape(f.message)}</li>"
            for f in sorted(ep.flags, key=lambda f: f.severity != ERROR)
        ]
        parts.append("</ul>")
    else:
        parts.append("<p class='ok'>No flags.</p>")
    parts.append(_camera_table(ep))
    parts.append(_plots(ep))
    parts.append(_sheet(ep))
    parts.append("</section>")
    return "\n".join(parts)


def _camera_table(ep: EpisodeAudit) -> str:
    cams = ep.metrics.get("cameras", {})
    if not cams:
        return ""
    out = [
        "<table><tr><th class='l'>camera</th><th>frames</th><th>fps</th><th>dropped</th><th>duplicated</th>"
        "<th>frame age p50 / p95 / max (ms)</th><th>latency (this episode)</th></tr>"
    ]
    for name, m in cams.items():
        skew = m.get("skew_ms", {})
        lat = m.get("latency") or {}
        lat_text = "—"
        if lat:
            lag = lat.get("latency_s")
            lat_text = (
                f"{lag * 1e3:.0f} ms"
                if lag is not None
                else f"unclear (peak {lat['best_lag_s'] * 1e3:.0f} ms)"
            )
        out.append(
            f"<tr><td class='l'>{escape(name)}</td><td>{m.get('frames', '—')}</td><td>{m.get('fps', float('nan')):.1f}</td>"
            f"<td>{m.get('dropped', '—')}</td><td>{m.get('duplicates', '—')}</td>"
            f"<td>{skew.get('p50', float('nan')):.0f} / {skew.get('p95', float('nan')):.0f} / {skew.get('max', float('nan')):.0f}</td>"
            f"<td>{lat_text}</td></tr>"
        )
    out.append("</table>")
    return "\n".join(out)


def _plots(ep: EpisodeAudit) -> str:
    if ep.plot is None:
        return "<p>No joint plot: the joint arrays could not be read whole.</p>"
    shade = [(a, b, SPAN_COLORS.get(f.code, "#d62728")) for f in ep.flags for a, b in f.spans]
    x_range = (0.0, float(ep.plot.t[-1])) if len(ep.plot.t) else None
    charts = [
        line_chart(
            [
                Line(ep.plot.t, ep.plot.observation[:, j].astype(float), OBS_COLOR),
                Line(ep.plot.t, ep.plot.action[:, j].astype(float), ACT_COLOR, dashed=True),
            ],
            title=name,
            shade=shade,
            x_range=x_range,
            css_class="chart joint-plot",
            min_span=0.2,
        )
        for j, name in enumerate(ep.plot.joint_names)
    ]
    used = sorted({f.code for f in ep.flags if f.spans})
    legend = (
        f"<div class='legend'><span><i class='swatch' style='background:{OBS_COLOR}'></i>follower (observation)</span>"
        f"<span><i class='swatch' style='background:{ACT_COLOR}'></i>command (action)</span>"
        + "".join(
            f"<span><i class='swatch' style='background:{SPAN_COLORS.get(c, '#d62728')};opacity:.4'></i>{escape(c)}</span>"
            for c in used
        )
        + "</div>"
    )
    return f"<h3>Joints (x: seconds)</h3>{legend}<div class='plots'>{''.join(charts)}</div>"


def _sheet(ep: EpisodeAudit) -> str:
    if not ep.thumbnails:
        return ""
    out = ["<h3>Contact sheet</h3>"]
    for name, thumbs in ep.thumbnails.items():
        out.append(f"<div><b>{escape(name)}</b></div><div class='sheet' data-camera='{escape(name)}'>")
        for t, jpeg in thumbs:
            uri = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
            out.append(
                f"<figure><img class='thumb' src='{uri}' alt='{escape(name)} at {t:.1f} s'>"
                f"<figcaption>{t:.1f} s</figcaption></figure>"
            )
        out.append("</div>")
    return "\n".join(out)
