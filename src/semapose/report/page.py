"""One self-contained HTML page per run: ``<out>/report/<name>.html``.

Everything is inline (CSS, SVG charts of :mod:`semapose.report.svg`, PNG/JPEG images as
data URIs, a small script of our own); nothing is fetched at view time. The overlay video
is linked relatively (``../video/<name>.mp4``; ``embed_video=True`` puts it inside the page
as a data URI), with a still of the overlay as its poster. Sections (each an element with
an id, for links and the browser test): ``settings`` (weights, options, speed), ``video``,
``timeline`` (each id seen / hidden / lost over the frames), ``confidence`` (per person,
every joint's score over time and their mean), ``trajectories`` (wrists and ankles) and
``angles`` (knee, hip, elbow), both with the One-Euro smoothing of ``--smooth`` on and off.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

from semapose.report import series as S
from semapose.report.svg import STATUS_COLORS, Line, line_chart, timeline

#: persons shown in the per-person sections (longest tracks first)
MAX_PERSONS = 6
#: tracks with fewer posed frames are left out of the per-person sections
MIN_FRAMES = 3

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f6f4;color:#222}
header{background:#263238;color:#fff;padding:14px 24px}
header h1{font-size:20px;margin:0}
main{padding:0 24px 40px;max-width:1000px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;margin:18px 0;padding:12px 18px}
h2{font-size:17px;margin:4px 0 10px}h3{font-size:14px;margin:12px 0 4px}
table{border-collapse:collapse}td,th{border-bottom:1px solid #eee;padding:3px 10px;text-align:left}
.tick{font-size:10px;fill:#555}.axis{font-size:11px;fill:#333}.legend{font-size:11px;fill:#333}
.note{color:#555;font-size:13px}.key span{display:inline-block;width:12px;height:12px;margin:0 4px
 0 12px;vertical-align:middle}
body.hide-raw .raw,body.hide-smooth .smooth{display:none}
video,img.still{max-width:100%;border:1px solid #ccc}
img.heat{image-rendering:pixelated;width:660px;height:136px;margin-left:48px;border:1px solid #ccc}
#errors{color:#b00020;white-space:pre-wrap}
"""

_EARLY_SCRIPT = """
window.__reportErrors=[];
function __reportError(msg){window.__reportErrors.push(String(msg));
 var e=document.getElementById('errors');if(e){e.textContent=window.__reportErrors.join('\\n');}}
window.addEventListener('error',function(ev){__reportError(ev.message||'error');});
window.addEventListener('unhandledrejection',function(ev){__reportError(ev.reason);});
"""

_SCRIPT = """
(function(){
 var fps=parseFloat(document.body.dataset.fps)||25;
 function toggle(id,cls){var box=document.getElementById(id);if(!box){return;}
  box.addEventListener('change',function(){document.body.classList.toggle(cls,!box.checked);});}
 toggle('show-raw','hide-raw');toggle('show-smooth','hide-smooth');
 var video=document.querySelector('video');
 function moveCursors(frame){document.querySelectorAll('line.cursor').forEach(function(l){
  var x0=parseFloat(l.dataset.x0),x1=parseFloat(l.dataset.x1);
  var x=parseFloat(l.dataset.left)+(frame-x0)/Math.max(x1-x0,1)*parseFloat(l.dataset.width);
  l.setAttribute('x1',x);l.setAttribute('x2',x);l.setAttribute('opacity','0.6');});}
 if(video){video.addEventListener('timeupdate',function(){moveCursors(video.currentTime*fps);});}
 document.querySelectorAll('svg').forEach(function(svg){svg.addEventListener('click',
  function(ev){var c=svg.querySelector('line.cursor');if(!video||!c){return;}
  var r=svg.getBoundingClientRect(),vb=svg.viewBox.baseVal;
  var x=(ev.clientX-r.left)*vb.width/r.width;var x0=parseFloat(c.dataset.x0),
  x1=parseFloat(c.dataset.x1);var f=x0+(x-parseFloat(c.dataset.left))/
  parseFloat(c.dataset.width)*(x1-x0);if(f>=0){video.currentTime=f/fps;}});});
 var lay={};document.querySelectorAll('section').forEach(function(s){
  var r=s.getBoundingClientRect();lay[s.id]=[Math.round(r.left+window.scrollX),
  Math.round(r.top+window.scrollY),Math.round(r.width),Math.round(r.height)];});
 document.body.dataset.layout=JSON.stringify(lay);
 document.body.dataset.height=String(document.documentElement.scrollHeight);
 document.body.dataset.ready='1';
})();
"""


def _esc(v: object) -> str:
    return html.escape(str(v), quote=True)


def _hex(track_id: int) -> str:
    from semapose.viz.draw import track_color

    r, g, b = track_color(track_id)
    # darker than the overlay's colour: lines on a white page
    return f"#{int(r * 0.75):02x}{int(g * 0.75):02x}{int(b * 0.75):02x}"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _jpeg(image: np.ndarray, width: int = 720) -> bytes:
    import cv2

    if image.shape[1] > width:
        scale = width / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    return bytes(buf) if ok else b""


def _still(video: Path | None, frames: int) -> bytes:
    """A JPEG of the overlay's middle frame (the video's poster); empty when there is none."""
    if video is None or not video.is_file():
        return b""
    from semapose.io.video import FrameSource

    want = max(frames // 2, 0)
    for f in FrameSource(video, strict=False).frames():
        if f.index >= want:
            return _jpeg(f.image)
    return b""


def _heat_png(scores: np.ndarray, frames: np.ndarray, hidden: np.ndarray, total: int) -> bytes:
    """Joint scores (17 rows) x frames as a PNG: white 0 -> dark green 1, amber = hidden,
    grey = not output."""
    import cv2

    grid = np.full((scores.shape[1], max(total, 1), 3), 225, np.uint8)
    s = np.clip(scores.T, 0, 1)[..., None]
    lo, hi = np.array([255, 255, 255]), np.array([27, 94, 32])
    grid[:, frames] = (lo + (hi - lo) * s).astype(np.uint8)
    grid[:, frames[hidden]] = (249, 168, 37)
    ok, buf = cv2.imencode(".png", grid[:, :, ::-1])
    return bytes(buf) if ok else b""


def _settings(run: S.Run) -> str:
    meta = run.meta
    found = meta.get("settings")
    settings: dict[str, object] = found if isinstance(found, dict) else {}
    rows = [
        ("input", meta.get("source", run.name)),
        ("weights", meta.get("weights", "?")),
        ("frames", run.frames),
        ("frame rate", f"{run.fps:g} frames/s"),
        ("mode", meta.get("mode", "video")),
    ]
    if "seconds" in meta:
        speed = meta.get("frames_per_second")
        rows.append(("time", f"{float(meta['seconds']):.1f} s ({float(speed or 0):.1f} frames/s)"))
    for key in sorted(settings):
        rows.append((key, json.dumps(settings[key]) if not isinstance(settings[key], str) else
                     settings[key]))  # fmt: skip
    ids = len(run.tracks)
    posed = sum(int(t.posed.sum()) for t in run.tracks.values())
    hidden = sum(int(t.hidden.sum()) for t in run.tracks.values())
    rows += [("track ids", ids), ("posed person-frames", posed), ("hidden person-frames", hidden)]
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>" for k, v in rows)
    return f'<section id="settings"><h2>Run: settings and speed</h2><table>{body}</table></section>'


def _video(run: S.Run, video: Path | None, report_dir: Path, embed: bool) -> str:
    still = _still(video, run.frames)
    poster = f' poster="{_data_uri(still, "image/jpeg")}"' if still else ""
    if video is not None and video.is_file():
        src = _data_uri(video.read_bytes(), "video/mp4") if embed else _rel(video, report_dir)
        body = (
            f'<video controls preload="metadata" width="720"{poster} src="{_esc(src)}"></video>'
            '<p class="note">The overlay video (click a chart to jump to its frame; the charts\' '
            "cursor follows the video). Hidden persons: dashed box, no skeleton.</p>"
        )
    elif run.meta.get("mode") == "photos":
        body = _photos(run, report_dir.parent / "images" / run.name)
    elif still:
        body = f'<img class="still" src="{_data_uri(still, "image/jpeg")}" alt="overlay">'
    else:
        body = '<p class="note">No overlay video in this run (--no-video).</p>'
    return f'<section id="video"><h2>Overlay</h2>{body}</section>'


def _photos(run: S.Run, folder: Path, limit: int = 24) -> str:
    """The drawn photos of a photo run (each image alone), as inline thumbnails."""
    import cv2

    files = sorted(folder.glob("*.jpg"))[:limit] if folder.is_dir() else []
    if not files:
        return '<p class="note">Photos, each on its own; no drawn photos (--no-video).</p>'
    cells = []
    for f in files:
        image = cv2.imread(str(f))
        if image is not None:
            data = _jpeg(image[:, :, ::-1], width=320)
            cells.append(f'<img class="still" style="width:320px;margin:4px" alt="{_esc(f.name)}" '
                         f'src="{_data_uri(data, "image/jpeg")}">')  # fmt: skip
    more = f" (the first {limit})" if len(list(folder.glob("*.jpg"))) > limit else ""
    return "".join(cells) + f'<p class="note">Photos, each on its own{more}.</p>'


def _rel(path: Path, start: Path) -> str:
    import os

    return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()


def _timeline(run: S.Run) -> str:
    rows = [(f"id {t.track_id}", _hex(t.track_id), S.status_segments(t)) for t in
            run.tracks.values()]  # fmt: skip
    key = "".join(f'<span style="background:{c}"></span>{s}' for s, c in STATUS_COLORS.items())
    chart = timeline(rows, run.frames) if rows else '<p class="note">Nobody was output.</p>'
    return (
        '<section id="timeline"><h2>Who is seen, hidden, lost, when</h2>'
        f'<p class="note key">{key}</p>{chart}<p class="note">seen: a pose of their own; hidden: '
        "kept (id and box) while someone hides them, no pose; lost: not output between two "
        "appearances of the id.</p></section>"
    )


def _people(run: S.Run) -> list[S.Track]:
    tracks = [t for t in run.tracks.values() if int(t.posed.sum()) >= MIN_FRAMES]
    tracks.sort(key=lambda t: -int(t.posed.sum()))
    return tracks[:MAX_PERSONS]


def _confidence(run: S.Run, people: list[S.Track]) -> str:
    parts = ['<section id="confidence"><h2>Joint confidence over time</h2>']
    for t in people:
        png = _heat_png(t.scores, t.frames, t.hidden, run.frames)
        mean = np.where(t.hidden, np.nan, t.scores.mean(axis=1))
        chart = line_chart(
            [
                Line(
                    f"id {t.track_id} mean joint score",
                    _hex(t.track_id),
                    t.frames.astype(float),
                    mean,
                )
            ],  # fmt: skip
            (0, max(run.frames - 1, 1)),
            (0.0, 1.0),
            "score",
        )
        parts.append(
            f"<h3>id {t.track_id}</h3>{chart}"
            f'<img class="heat" alt="joint scores of id {t.track_id}" '
            f'src="{_data_uri(png, "image/png")}">'
            '<p class="note">rows: the 17 joints (nose at the top, ankles at the bottom); '
            "dark green = confident, white = not, amber = hidden, grey = not output.</p>"
        )
    if not people:
        parts.append('<p class="note">No person with a pose in enough frames.</p>')
    return "".join(parts) + "</section>"


_JOINT_COLORS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a")


def _switch() -> str:
    return (
        '<p class="note"><label><input type="checkbox" id="show-raw" checked> raw (as written)'
        '</label> <label><input type="checkbox" id="show-smooth" checked> One-Euro smoothed '
        "(dashed; what --smooth writes)</label></p>"
    )


def _trajectories(run: S.Run, people: list[S.Track], smooth: dict[int, S.Track]) -> str:
    parts = ['<section id="trajectories"><h2>Joint trajectories</h2>', _switch()]
    x_range = (0, max(run.frames - 1, 1))
    for t in people:
        for axis, name in ((1, "height (image y, px; up is up)"), (0, "image x (px)")):
            lines = []
            for color, joint in zip(_JOINT_COLORS, S.TRAJECTORY_JOINTS, strict=True):
                for src, cls, dashed in ((t, "raw", False), (smooth[t.track_id], "smooth", True)):
                    xy = S.trajectory(src, joint)
                    label = joint.replace("_", " ") + (" smoothed" if dashed else "")
                    lines.append(Line(label, color, t.frames.astype(float), xy[:, axis], cls,
                                      dashed))  # fmt: skip
            parts.append(line_chart(lines, x_range, None, f"id {t.track_id}: {name}",
                                    invert_y=axis == 1))  # fmt: skip
    return "".join(parts) + "</section>"


def _angles(run: S.Run, people: list[S.Track], smooth: dict[int, S.Track]) -> str:
    parts = ['<section id="angles"><h2>Knee, hip and elbow angles</h2>', _switch()]
    x_range = (0, max(run.frames - 1, 1))
    for t in people:
        raw, sm = S.joint_angles(t), S.joint_angles(smooth[t.track_id])
        for joint in ("knee", "hip", "elbow"):
            lines = []
            for color, side in zip(_JOINT_COLORS, ("left", "right"), strict=False):
                key = f"{side} {joint}"
                lines.append(Line(key, color, t.frames.astype(float), raw[key], "raw"))
                lines.append(Line(f"{key} smoothed", color, t.frames.astype(float), sm[key],
                                  "smooth", True))  # fmt: skip
            parts.append(line_chart(lines, x_range, (0.0, 180.0),
                                    f"id {t.track_id}: {joint} angle (degrees)"))  # fmt: skip
    parts.append(
        '<p class="note">180 degrees = straight limb. Frames where one of the three joints '
        f"scores below {S.MIN_SCORE} (or the person is hidden) are left out.</p>"
    )
    return "".join(parts) + "</section>"


def render_report(
    run: S.Run, video: Path | None, report_dir: Path, embed_video: bool = False
) -> str:
    """The page's HTML text."""
    people = _people(run)
    smooth = S.smoothed(run)
    note = ""
    if run.meta.get("smooth"):
        note = (
            '<p class="note">This run was written with --smooth: "raw" is the smoothed output, '
            "and the dashed curves are smoothed once more.</p>"
        )
    if len(run.tracks) > len(people):
        note += (
            f'<p class="note">Per-person sections: the {len(people)} longest of '
            f"{len(run.tracks)} ids (at least {MIN_FRAMES} posed frames).</p>"
        )
    body = "".join(
        [
            _settings(run),
            _video(run, video, report_dir, embed_video),
            _timeline(run),
            _confidence(run, people),
            _trajectories(run, people, smooth),
            _angles(run, people, smooth),
        ]
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>semapose report: {_esc(run.name)}</title><style>{_CSS}</style>"
        f"<script>{_EARLY_SCRIPT}</script></head>"
        f'<body data-fps="{run.fps:g}" data-ready="0"><header><h1>semapose report: '
        f'{_esc(run.name)}</h1></header><main><div id="errors"></div>{note}{body}</main>'
        f"<script>{_SCRIPT}</script></body></html>"
    )


def write_report(out_dir: Path, name: str, embed_video: bool = False) -> Path:
    """Write ``<out_dir>/report/<name>.html`` from the run's outputs; returns its path."""
    from semapose.errors import InputError
    from semapose.io.atomic import atomic_write_text

    posetrack = out_dir / "posetrack" / f"{name}.json"
    if not posetrack.is_file():
        raise InputError(posetrack, "", "a finished semapose predict output", "missing")
    run = S.load_run(posetrack)
    video = out_dir / "video" / f"{name}.mp4"
    report_dir = out_dir / "report"
    report_dir.mkdir(parents=True, exist_ok=True)
    target = report_dir / f"{name}.html"
    atomic_write_text(target, render_report(run, video if video.is_file() else None, report_dir,
                                            embed_video))  # fmt: skip
    return target


def report_names(out_dir: Path) -> list[str]:
    """The runs in an output folder (its PoseTrack files)."""
    folder = out_dir / "posetrack"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


__all__ = ["render_report", "report_names", "write_report"]
