"""One video (or frame folder) through the frame loop (:mod:`semapose.inference.stream`),
saved as it goes and resumable.

Resumable: while it runs, a job appends every finished key frame to
``<out>/.partial/<name>/results.jsonl`` and every frame's raw detections to
``detections.jsonl`` (``null`` when the detection schedule skipped the frame,
with the frame's single-frame crop outputs), and every ``checkpoint_every``
frames (and when stopped or interrupted) atomically writes ``state.json`` with
the byte lengths of both files that are complete, the next frame to decode and the next key frame to
emit. ``resume=True`` truncates the files to those lengths, replays the tracker
over the stored detections (no detector, no images), re-decodes only the few
frames the feature window still needs (their backbone features are recomputed,
their results are not), and carries on. Because every step is deterministic
(see :mod:`semapose.inference.pipeline`), the result equals an uninterrupted run.
The final PoseTrack/COCO JSON and MP4 appear (atomically) only when the video is
complete; the partial folder is then removed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from semapose.errors import InputError
from semapose.inference.pipeline import RunnerOptions, TemporalRunner
from semapose.inference.recovery import recovered_state
from semapose.inference.results import CropOutput, FramePoses, TrackBox
from semapose.inference.state_schema import check_input_name
from semapose.inference.stream import (
    PoseStream,
    StreamSchedule,
    TrackerAdapter,
    input_name,
)
from semapose.inference.warmup import warm_up
from semapose.io.atomic import atomic_write_json
from semapose.io.signals import StopRequest

STATE_VERSION = 1


@dataclass
class JobOptions:
    """Per-run options of :func:`predict_source`."""

    out_dir: Path
    write_video: bool = True
    resume: bool = False
    #: frames between two saved resumable states
    checkpoint_every: int = 50
    #: stop after this many newly processed frames, leaving a resumable state (None = all)
    max_frames: int | None = None
    progress: bool = True
    #: frame rate of a frame folder (videos use their own)
    fps: float | None = None
    #: recorded in the outputs and compared on resume
    fingerprint: dict[str, Any] = field(default_factory=dict)
    #: One-Euro smoothing of the written keypoints (the JSONL keeps the raw ones), or None
    smooth: Any = None
    #: joints and landmarks scoring below this are not drawn on the overlay
    draw_threshold: float = 0.3
    #: draw hidden persons (dashed box, no skeleton) or leave them out of the overlay
    draw_hidden: bool = True


@dataclass
class OutputPaths:
    """Where the outputs of one input go (``<out>/posetrack/<name>.json`` etc.)."""

    posetrack: Path
    coco: Path
    video: Path
    partial: Path
    csv: Path
    #: speed of the run that wrote the outputs (seconds, frames/s; the report reads it)
    run: Path = Path()

    @classmethod
    def for_name(cls, out_dir: Path, name: str) -> OutputPaths:
        return cls(
            posetrack=out_dir / "posetrack" / f"{name}.json",
            coco=out_dir / "coco" / f"{name}.json",
            video=out_dir / "video" / f"{name}.mp4",
            partial=out_dir / ".partial" / name,
            csv=out_dir / "csv" / f"{name}.csv",
            run=out_dir / "run" / f"{name}.json",
        )


@dataclass
class JobResult:
    source: Path
    #: "done", "stopped" (max_frames reached; resumable) or "skipped" (outputs exist)
    status: str
    frames: int
    paths: OutputPaths
    seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------- the job


def _one_run_per_output(job: Callable[..., JobResult]) -> Callable[..., JobResult]:
    """Hold the input's output lock (:mod:`semapose.io.lock`) for the whole job: a second
    run on the same ``--out`` and input exits 2 naming this one, before touching its files."""
    import functools
    import inspect

    signature = inspect.signature(job)

    @functools.wraps(job)
    def locked(*args: Any, **kwargs: Any) -> JobResult:
        from semapose.io.lock import lock_file, output_lock

        bound = signature.bind(*args, **kwargs).arguments
        name = check_input_name(bound["path"], input_name(bound["path"]))
        with output_lock(lock_file(bound["options"].out_dir, name), f"an output for {name}"):
            return job(*args, **kwargs)

    return locked


@_one_run_per_output
def predict_source(
    path: Path | str,
    model: Any,
    runner_options: RunnerOptions,
    detector: Any,
    options: JobOptions,
    device: Any = "cpu",
    tracker_factory: Callable[[Any], Any] = TrackerAdapter,
    on_frames: Callable[[list[FramePoses]], None] | None = None,
    schedule: StreamSchedule | None = None,
) -> JobResult:
    """Run one video, frame folder or stream end to end; see the module docstring.

    A stream (a URL or ``-``, :func:`semapose.io.video.is_stream`) is read once: it cannot be
    resumed, and ``max_frames`` or Ctrl-C end it like its last frame (the outputs are
    written for the frames read so far)."""
    from semapose.io.video import FrameSource, is_stream

    t0 = time.perf_counter()
    live = isinstance(path, str) and is_stream(path)
    if live and options.resume:
        raise InputError(path, "--resume", "a file or folder (a stream cannot be read again)")
    name = input_name(path)
    paths = OutputPaths.for_name(options.out_dir, name)
    state_file = paths.partial / "state.json"
    done = paths.posetrack.is_file() and paths.coco.is_file() and paths.csv.is_file()
    done = done and (paths.video.is_file() or not options.write_video)
    if options.resume and done and not state_file.is_file():
        return JobResult(Path(path), "skipped", 0, paths)

    source = FrameSource(path if live else Path(path), fps=options.fps)
    path = source.path if live else Path(path)  # a stream is named by its URL's stem
    _remove_stale_temporaries(paths)
    state = (
        _read_saved_predict_state(state_file, path, options, source.num_frames)
        if options.resume and not live
        else None
    )
    if state is None:
        shutil.rmtree(paths.partial, ignore_errors=True)
        state = {"next_frame": 0, "next_key": 0, "results_bytes": 0, "detections_bytes": 0}
    state = recovered_state(state, paths.partial)  # damaged partial files: last intact record
    paths.partial.mkdir(parents=True, exist_ok=True)
    resumed = state["next_frame"] > 0

    opts = RunnerOptions(**{**asdict(runner_options), "keep_images": options.write_video})
    runner = TemporalRunner(model, opts, device)
    tracker = tracker_factory(detector)
    stream = PoseStream(runner, detector, tracker, schedule, source=path)
    results_path = paths.partial / "results.jsonl"
    dets_path = paths.partial / "detections.jsonl"
    _truncate(results_path, state["results_bytes"])
    _truncate(dets_path, state["detections_bytes"])

    # Replay the tracker over the stored detections; keep the boxes the window needs.
    next_frame, next_key = int(state["next_frame"]), int(state["next_key"])
    runner.start_at(next_key, next_frame)
    warm_from = runner.first_needed_frame
    warm_tracks: dict[int, list[TrackBox]] = {}
    stored = _iter_results(results_path)
    for index, dets, emitted, crops in _read_detections(dets_path):
        tracks = tracker.update(index, dets)
        tracker.observe_crops(index, crops)
        tracker.observe([f for f in (next(stored, None) for _ in range(emitted)) if f])
        if index >= warm_from:
            warm_tracks[index] = tracks

    # A resumed run re-renders the overlay video at the end (the killed run's is gone).
    writer = (
        _overlay_writer(paths.video, source.fps) if options.write_video and not resumed else None
    )
    processed = 0
    stopped = False
    completed = False
    marks = dict(state)
    # one-time start-up (the detector's network, the model's first calls) before the bar, so
    # the bar's rate is the steady one from the first frame (benchmarks/startup.py)
    started = warm_up(detector, model, opts, device, (source.width, source.height))
    if options.progress and started > 1.0:
        print(f"{name}: detector and model ready in {started:.1f} s", file=sys.stderr)
    progress = _progress(options.progress, source.num_frames, name, initial=next_frame)
    res_fh = open(results_path, "ab")  # noqa: SIM115 - closed in finally
    det_fh = open(dets_path, "ab")  # noqa: SIM115

    def save() -> None:
        _fsync(res_fh)
        _fsync(det_fh)
        fingerprint = {"source": source.url, **options.fingerprint} if live else _fp(path, options)
        atomic_write_json(state_file, {**marks, "fingerprint": fingerprint}, indent=1)

    live_smoother = _smoother(options.smooth, source.fps)

    def emit(frames: list[FramePoses]) -> None:
        for fp in frames:
            res_fh.write((json.dumps(fp.to_json(), allow_nan=False) + "\n").encode())
        shown = frames if live_smoother is None else live_smoother(frames)
        if writer is not None:
            for fp in shown:
                writer.write(_draw(fp, options))
        if on_frames is not None:
            on_frames(shown)
        for fp in (*frames, *shown):
            fp.image = None

    if writer is not None:
        writer.__enter__()
    stop = StopRequest((signal.SIGTERM,)).__enter__()  # SIGTERM: save the state, exit 143
    interrupted = False

    def frame_loop() -> bool:
        """Decode and process frames; True when stopped by ``max_frames`` (resumable)."""
        nonlocal processed
        for frame in source.frames(start=warm_from):
            if frame.index < next_frame:
                runner.warm(frame.index, frame.image, warm_tracks.get(frame.index, []), frame.name)
                continue
            if options.max_frames is not None and processed >= options.max_frames:
                return not live  # a stream ends here (it cannot be resumed)
            step = stream.step(frame.index, frame.image, frame.name)
            emit(step.ready)
            line: dict[str, Any] = {
                "frame": frame.index,
                "emitted": len(step.ready),
                "boxes": None if step.detections is None else step.detections.tolist(),
            }
            if step.crops:
                line["crops"] = [c.to_json() for c in step.crops.values()]
            det_fh.write((json.dumps(line) + "\n").encode())
            processed += 1
            marks.update(
                next_frame=runner.next_frame,
                next_key=runner.next_key,
                results_bytes=res_fh.tell(),
                detections_bytes=det_fh.tell(),
            )
            if options.checkpoint_every and processed % options.checkpoint_every == 0:
                save()
            if progress is not None:
                progress.update(1)
            if stop.requested:
                stop.stop()  # SystemExit(143): the state is saved below
        return False

    try:
        try:
            stopped = frame_loop()
        except KeyboardInterrupt:
            if not live:
                raise
            interrupted = True  # Ctrl-C ends a live stream: its outputs cover what was read
        if not stopped:
            emit(stream.finish().ready)
            marks.update(next_key=runner.next_key, results_bytes=res_fh.tell())
        save()
        completed = not stopped
    except BaseException:
        # Keep what is complete (after a kill -9 the last periodic state is used instead).
        with contextlib.suppress(Exception):
            save()
        raise
    finally:
        stop.__exit__(None, None, None)
        if progress is not None:
            progress.close()
        res_fh.close()
        det_fh.close()
        if writer is not None:
            if completed:
                writer.__exit__(None, None, None)
            else:
                writer.__exit__(RuntimeError, RuntimeError("incomplete"), None)

    stats = {
        "interrupted": interrupted,
        "backbone_crops": runner.backbone_crops,
        "key_frames": runner.key_frames,
        "resumed_at": next_frame,
        **runner.cache.stats(),
    }
    seconds = time.perf_counter() - t0
    if stopped:
        return JobResult(path, "stopped", runner.next_key, paths, seconds, stats)

    # the results are streamed from the JSONL (never all in memory): a long video's
    # final files cost no more memory than a short one's
    total = _check_complete(_iter_results(results_path), path, runner.next_frame)

    # every final output reads the stored (raw) results through a fresh smoother: the same
    # numbers as the overlay drawn live, for an uninterrupted and a resumed run alike
    def results() -> Iterator[FramePoses]:
        sm = _smoother(options.smooth, source.fps)
        frames = _iter_results(results_path)
        return frames if sm is None else sm.iter(frames)

    if options.write_video and resumed:
        from semapose.inference.outputs import render_overlay

        with _overlay_writer(paths.video, source.fps) as writer:
            render_overlay(source, results(), writer, options.draw_threshold, options.draw_hidden)
    from semapose.inference.outputs import write_coco_results, write_posetrack
    from semapose.io.csv_out import write_csv

    run_seconds = time.perf_counter() - t0
    meta = {
        "weights": options.fingerprint.get("weights"),
        "frames": total,
        "source": source.url or str(path),
        "fps": source.fps,
        "smooth": bool(options.smooth),
        "settings": {k: v for k, v in options.fingerprint.items() if k != "weights"},
    }
    # timing lives beside the results (the PoseTrack file of a resumed run equals an
    # uninterrupted run's, byte for byte)
    speed = {
        "seconds": round(run_seconds, 3),
        "frames_per_second": round(processed / run_seconds, 3) if run_seconds > 0 else None,
        "frames_this_run": processed,
        "resumed_at": next_frame,
    }
    atomic_write_json(paths.run, speed, indent=1)
    if options.progress and total > 1000:
        print(f"{name}: writing the PoseTrack, COCO and CSV files ({total} frames)",
              file=sys.stderr)  # fmt: skip
    write_posetrack(paths.posetrack, results, path, name, meta, n=total)
    write_coco_results(paths.coco, results(), name)
    write_csv(paths.csv, results())
    shutil.rmtree(paths.partial, ignore_errors=True)
    with contextlib.suppress(OSError):
        paths.partial.parent.rmdir()
    return JobResult(path, "done", total, paths, seconds, stats)


# ----------------------------------------------------------------------------- helpers


def _fp(path: Path, options: JobOptions) -> dict[str, Any]:
    from semapose.io.fingerprint import file_digest

    st = path.stat()
    return {
        "source": str(path.resolve()),
        "size": st.st_size if path.is_file() else None,
        "content": file_digest(path),  # the input changed in place: start over
        **options.fingerprint,
    }


def _read_saved_predict_state(
    state_file: Path, path: Path, options: JobOptions, num_frames: int | None
) -> dict[str, Any] | None:
    """The saved state if it belongs to this input and these options, else None (start over);
    a state of this job that cannot be right is an InputError (see :mod:`.state_schema`)."""
    from semapose.inference.state_schema import checked_predict_state

    if not state_file.is_file():
        return None
    return checked_predict_state(state_file, json.loads(json.dumps(_fp(path, options))), num_frames)


def _truncate(path: Path, size: int) -> None:
    if path.exists():
        with open(path, "r+b") as fh:
            fh.truncate(size)
    elif size:
        raise InputError(path, "", f"a partial results file of {size} bytes", "missing")


def _fsync(fh: BinaryIO) -> None:
    fh.flush()
    os.fsync(fh.fileno())


def _lines(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield line


def _read_detections(
    path: Path,
) -> Iterator[tuple[int, np.ndarray | None, int, dict[int, CropOutput]]]:
    """(frame, detections (K,5) or None when skipped, number of key frames emitted after it,
    crop outputs) per stored frame."""
    if not path.exists():
        return
    for line in _lines(path):
        obj = json.loads(line)
        raw = obj["boxes"]
        boxes = None if raw is None else np.asarray(raw, dtype=np.float64).reshape(-1, 5)
        crops = [CropOutput.from_json(c) for c in obj.get("crops", [])]
        yield int(obj["frame"]), boxes, int(obj["emitted"]), {c.track_id: c for c in crops}


def _iter_results(path: Path) -> Iterator[FramePoses]:
    if path.exists():
        for line in _lines(path):
            yield FramePoses.from_json(json.loads(line))


def _check_complete(frames: Iterable[FramePoses], path: Path, total: int) -> int:
    """Every decoded frame has exactly one result line, in order (guards the resume logic);
    returns the number of frames."""
    count = 0
    for i, f in enumerate(frames):
        if f.index != i:
            raise RuntimeError(f"{path}: internal error: result {i} is for frame {f.index}")
        count += 1
    if count != total:
        raise RuntimeError(f"{path}: internal error: {count} results for {total} frames")
    return count


def _remove_stale_temporaries(paths: OutputPaths) -> None:
    """Temporary files a killed run of this input left beside its outputs (atomic_path's)."""
    for target in (paths.posetrack, paths.coco, paths.video, paths.csv, paths.run):
        if target.parent.is_dir():
            for tmp in target.parent.glob(f".{target.name}.*"):
                with contextlib.suppress(OSError):
                    tmp.unlink()


def _progress(enabled: bool, total: int | None, name: str, initial: int) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=name, unit="frame", dynamic_ncols=True)


def _overlay_writer(path: Path, fps: float) -> Any:
    from semapose.io.video import VideoWriter

    # x264 "ultrafast": a 1080p frame encodes in ~22 ms instead of ~75-130 ms ("veryfast") on
    # the 2-core machine, for ~2.5x the file size; the overlay is a preview (issue 16 speed)
    return VideoWriter(path, fps=fps, preset="ultrafast")


def _draw(frame: FramePoses, options: JobOptions) -> np.ndarray:
    from semapose.inference.outputs import draw_frame

    assert frame.image is not None
    return draw_frame(frame.image, frame.persons, options.draw_threshold, options.draw_hidden)


def _smoother(smooth: Any, fps: float | None) -> Any:
    """A fresh One-Euro smoother for ``smooth`` (True or a dict of its parameters), or None."""
    if not smooth:
        return None
    from semapose.inference.smoothing import OneEuroSmoother

    params = dict(smooth) if isinstance(smooth, dict) else {}
    return OneEuroSmoother(fps=float(fps or 30.0), **params)


__all__ = [
    "warm_up",
    "JobOptions",
    "JobResult",
    "OutputPaths",
    "TrackerAdapter",
    "input_name",
    "predict_source",
]
