"""The audit on real sim recordings: quiet on clean takes, camera latency recovered from the pictures,
and the HTML report rendered by headless Chromium (a screenshot is saved and its path printed)."""

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from audit_data import capture_sim, sim_rig, write_take

from robot_stack.app.audit import AuditOptions, run_audit
from robot_stack.app.audit.report_html import write_html
from robot_stack.app.cli import main
from robot_stack.store import Dataset, align_frames

SEEDS = (0, 1, 2)
SECONDS = 4.0
# Rendered frames have no sensor noise: a camera whose view holds still gives identical pictures (and
# no motion to read a latency from). In these scenes of the rotated task every camera sees an arm move
# within the 4 s; in the square-cube ones the waiting arm's wrist camera can stay still.
TASK = "transfer_cube_rotated"
LATENCY_S = 0.1  # injected: frames stamped 100 ms after they were rendered


REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def takes():
    rig = sim_rig(REPO)
    return rig, [capture_sim(rig, seed, SECONDS, TASK) for seed in SEEDS]


@pytest.fixture(scope="module")
def clean(takes, tmp_path_factory):
    rig, captured = takes
    path = tmp_path_factory.mktemp("audit_sim") / "clean.zarr"
    with Dataset.create(path, rig) as ds:
        for take in captured:
            write_take(ds, take)
    return path


@pytest.fixture(scope="module")
def clean_report(clean):
    return run_audit(clean, AuditOptions(html=True))


def test_a_clean_sim_recording_raises_no_flag(clean_report):
    report = clean_report
    assert [ep.index for ep in report.episodes] == [0, 1, 2]
    assert {ep.index: [f.message for f in ep.flags] for ep in report.episodes} == {0: [], 1: [], 2: []}
    assert report.dataset_flags == []
    # and it did look: every check ran and measured something
    for ep in report.episodes:
        assert ep.metrics["ticks"]["rate_hz"] == pytest.approx(50.0, rel=0.01)
        for cam in ep.metrics["cameras"].values():
            assert (
                cam["dropped"] == 0 and cam["duplicates"] == 0 and cam["fps"] == pytest.approx(30.0, rel=0.01)
            )
        assert ep.metrics["content"]["tracking"]["p95_rad"] > 0
    assert report.overview["outliers"]["transfer_cube"]["checked"]
    # the sim stamps frames when they are rendered: the latency estimate is near zero
    for name, est in report.overview["latency"].items():
        assert est["latency_s"] is not None and abs(est["latency_s"]) < 0.02, (name, est)


def test_an_injected_camera_latency_is_recovered_and_corrects_the_alignment(takes, tmp_path):
    rig, captured = takes
    path = tmp_path / "late.zarr"
    with Dataset.create(path, rig) as ds:
        for take in captured:
            write_take(ds, take, latency_s={"cam_high": LATENCY_S, "cam_left_wrist": LATENCY_S})
    report = run_audit(path)
    estimates = {name: est["latency_s"] for name, est in report.overview["latency"].items()}
    print("injected", LATENCY_S, "estimated", estimates)
    for name, est in estimates.items():
        assert est == pytest.approx(LATENCY_S, abs=0.015), name
    assert {f.code for f in report.dataset_flags} == {"camera_latency"}

    # the stored alignment pairs ticks with frames captured up to 100 ms later than the tick;
    # realigned with the estimate, nearly every tick gets the frame truly captured just before it
    ds = Dataset.open(path)
    for k, take in enumerate(captured):
        ep = ds.episode(k)
        cam = ep.camera("cam_high")
        truth = align_frames(take.tick_t, take.frame_t["cam_high"])
        stored = cam.tick[:]
        corrected = align_frames(ep.t[:], cam.t[:], estimates["cam_high"])
        # stored: three frame periods (100 ms) off; corrected: the true frame, or its neighbour where
        # the few milliseconds of estimate error fall across a frame boundary
        assert np.median(np.abs(stored - truth)) == 3
        assert (np.abs(corrected - truth) <= 1).mean() > 0.99 and (corrected == truth).mean() > 0.7


def test_latency_cli_output_feeds_the_recorder(takes, tmp_path):
    rig, captured = takes
    path = tmp_path / "late.zarr"
    with Dataset.create(path, rig) as ds:
        for take in captured:
            write_take(ds, take, latency_s={"cam_high": LATENCY_S})
    out = tmp_path / "latency.json"
    assert main(["audit", "--dataset", str(path), "--latency-out", str(out)]) == 0
    found = json.loads(out.read_text())["camera_latency_s"]
    assert found["cam_high"] == pytest.approx(LATENCY_S, abs=0.02)
    # an episode recorded with the correction is aligned as if the camera had no latency
    with Dataset.resume(path, rig) as ds:
        writer = ds.begin_episode("transfer_cube", camera_latency_s=found)
        take = captured[2]
        events = [(t, 0, i) for i, t in enumerate(take.tick_t)]
        events += [(t + LATENCY_S, 1, i) for i, t in enumerate(take.frame_t["cam_high"])]
        for t, kind, i in sorted(events):
            if kind == 0:
                writer.add_tick(t, take.observation[i], take.action[i])
            else:
                writer.add_frame("cam_high", t, take.frames["cam_high"][i])
        index = writer.finish()
        cam = ds.episode(index).camera("cam_high")
        tick = cam.tick[:]
    assert cam.latency_s == found["cam_high"]
    truth = align_frames(take.tick_t, take.frame_t["cam_high"])
    assert (np.abs(tick - truth) <= 1).mean() > 0.99 and (tick == truth).mean() > 0.7


CHROMIUM = next(
    (
        shutil.which(b)
        for b in ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
        if shutil.which(b)
    ),
    None,
)

PROBE = """
<script>
window.addEventListener('load', () => {
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const plots = [...document.querySelectorAll('svg.joint-plot')];
  const thumbs = [...document.querySelectorAll('img.thumb')];
  const out = {
    episodes: document.querySelectorAll('section.episode').length,
    plots: plots.filter(visible).length,
    plots_with_lines: plots.filter(s => s.querySelectorAll('polyline').length >= 2).length,
    thumbs: thumbs.length,
    thumbs_decoded: thumbs.filter(i => i.complete && i.naturalWidth > 0 && visible(i)).length,
    sheets: document.querySelectorAll('div.sheet').length,
    latency_charts: document.querySelectorAll('svg.latency').length,
    overview: !!document.querySelector('#overview'),
  };
  const pre = document.createElement('pre'); pre.id = 'probe'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="no headless Chromium (scripts/setup.sh installs Debian's chromium-headless-shell; "
    "or apt-get install chromium)",
)
def test_the_html_report_renders_in_headless_chromium(clean_report, tmp_path_factory, capsys):
    folder = tmp_path_factory.mktemp("audit_html")
    page = write_html(clean_report, folder / "audit.html")
    assert page.stat().st_size > 10_000
    probed = folder / "probed.html"
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=5000"]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", probed.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    probe = json.loads(dom.split('<pre id="probe">', 1)[1].split("</pre>", 1)[0])
    joints = clean_report.episodes[0].plot.observation.shape[1]
    assert probe["overview"] and probe["episodes"] == 3
    assert probe["plots"] == probe["plots_with_lines"] == 3 * joints
    assert probe["sheets"] == 3 * 2 and probe["thumbs"] == probe["thumbs_decoded"] >= 3 * 2 * 6
    assert probe["latency_charts"] == 2

    shot = folder / "audit.png"
    subprocess.run(
        [CHROMIUM, *flags, "--window-size=1400,2600", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        timeout=120,
    )
    with capsys.disabled():  # shown even when pytest captures output
        print(f"\naudit report screenshot: {shot}\naudit report page: {page}")
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[:2] == (2600, 1400)
    # the follower's plot colour (#1f77b4, BGR 180,119,31) and rendered sim frames are on the page
    plot_blue = np.abs(image.astype(int) - (180, 119, 31)).sum(axis=2) < 40
    assert plot_blue.sum() > 500
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 2000  # photos, not just text and lines
