"""``semapose fit VIDEO_FOLDER --out DIR``: fit the temporal module to your own videos.

No labels needed. People are found by ``predict``'s detector and tracker; their
crops go once through the frozen backbone (BlazePose) into a feature cache; the
single-frame model on the clean crops is the teacher; the temporal module (and the
head) learn to recover the teacher's pose from crops degraded on spans of frames
(blur, defocus, occluders, noise, low light, compression, dropped frames). See
docs/training.md ("Fitting to your own videos").

Stages, each kept in DIR so an interrupted run continues where it stopped:
``tracks.json`` (detection + tracking), ``cache/`` (features + teacher targets),
``fit_state.pt`` (training, checkpointed atomically), then ``temporal.safetensors``
-- the weights ``semapose predict --weights DIR`` takes (temporal module + head;
the backbone comes from its own asset).

Several processes: ``torchrun --nproc_per_node=N -m semapose.cli fit VIDEOS --out DIR``
(rank 0 builds the tracks and the cache, every rank trains on its share of each batch).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

WEIGHTS_FILE = "temporal.safetensors"
#: the run's summary as JSON, beside the weights
SUMMARY_FILE = "fit_summary.json"
#: settings ``fit`` takes from the shipped default model (``blazepose_temporal``), so that
#: the fitted weights run as the default does: crop size and enlargement, clip offsets, the
#: pixel decoder, flip test (off: twice the backbone work for little gain)
SHIPPED_KEYS = (
    "data.image_size",
    "data.bbox_enlarge",
    "data.offsets",
    "model.pixel_decoder",
    "test.flip_test",
)


def shipped_settings() -> list[str]:
    """``key=value`` overrides with the shipped default model's values of :data:`SHIPPED_KEYS`
    (read from its bundled file; the user's ``--set`` come after and win)."""
    import json as _json

    from semapose.weights.read import checkpoint_config
    from semapose.weights.resolve import DEFAULT_WEIGHTS, bundled_path

    cfg = checkpoint_config(bundled_path(DEFAULT_WEIGHTS))
    out = []
    for key in SHIPPED_KEYS:
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        value = list(value) if isinstance(value, tuple) else value
        out.append(f"{key}={_json.dumps(value)}")
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", help="a folder of videos (and/or frame folders), or one video")
    parser.add_argument("--out", required=True, help="output folder (resumable work files too)")
    parser.add_argument(
        "--set",
        dest="overrides",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="config overrides of the preset, e.g. --set model.temporal=temporal_difference",
    )
    parser.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    parser.add_argument("--batch", type=int, default=8, help="clips per step (default 8)")
    parser.add_argument("--lr", type=float, default=1e-3, help="temporal module learning rate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--rate", type=float, default=0.5, help="fraction of frames degraded (default 0.5)"
    )
    parser.add_argument(
        "--degrade", default="all", help="degradation types: all or TYPE[:SEVERITY],..."
    )
    parser.add_argument(
        "--degraded-keys",
        type=float,
        default=None,
        help="share of each batch whose key frame is degraded (default: the preset's, "
        "engine.cache_fit.FIT_CURRICULUM)",
    )
    parser.add_argument(
        "--blackout",
        type=float,
        default=None,
        help="probability that a key frame is replaced by a black crop, so only the "
        "neighbours can answer (default: the preset's)",
    )
    parser.add_argument("--detector", default=None, help="person detector (default ssdlite)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    from semapose.threads import THREADS_HELP

    parser.add_argument("--threads", type=int, default=0, help=THREADS_HELP)


def summary_text(summary: dict[str, Any], path: Path) -> str:
    """The final report of ``fit``, for people: what was fitted, how it ended, how to use it."""
    last = summary.get("last") or {}
    losses = ", ".join(
        f"{k} {float(v):.4g}"
        for k, v in last.items()
        if isinstance(v, (int, float)) and k not in ("step", "epoch", "lr", "seconds")
    )
    settings = ", ".join(
        f"{k.split('.')[1]}={json.dumps(list(v) if isinstance(v, tuple) else v)}"
        for k, v in summary.get("settings", {}).items()
    )
    lines = [
        "fit finished",
        f"  weights:  {summary['weights']}",
        f"  data:     {summary['videos']} video(s), {summary['tracks']} person tracks, "
        f"{summary['person_frames']} person-frames",
        f"  training: {summary['steps']} steps" + (f"; last step: {losses}" if losses else ""),
        f"  settings: {settings} (as the shipped default model unless --set)",
        f"  use:      {summary['use']}",
        f"  summary:  {path} (JSON)",
    ]
    return "\n".join(lines)


def video_inputs(folder: Path) -> list[Path]:
    """Video files and frame folders in ``folder`` (or ``folder`` itself if it is a video)."""
    from semapose.errors import InputError
    from semapose.io.video import is_image_file, is_video_file

    if folder.is_file():
        if not is_video_file(folder):
            raise InputError(folder, "VIDEOS", "a video file or a folder of videos", "a file")
        return [folder]
    if not folder.is_dir():
        from semapose.io.bounded import file_kind

        got = file_kind(folder.stat().st_mode) if folder.exists() else "no such folder"
        raise InputError(folder, "VIDEOS", "a folder of videos", got)
    found = sorted(p for p in folder.iterdir() if p.is_file() and is_video_file(p))
    found += sorted(
        p for p in folder.iterdir() if p.is_dir() and any(is_image_file(f) for f in p.iterdir())
    )
    if not found and any(is_image_file(f) for f in folder.iterdir()):
        found = [folder]  # the folder is itself one sequence of frames
    if not found:
        raise InputError(folder, "VIDEOS", "video files or frame folders", "none")
    return found


def run(args: argparse.Namespace) -> int:
    import torch

    from semapose.config import load_config
    from semapose.engine import distributed as du
    from semapose.engine.cache_fit import FIT_PRESET
    from semapose.errors import InputError
    from semapose.models.build import build_model

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(out, "--out", "a folder (or a path to create one)", "an existing file")
    from semapose.commands.options import check_fit_options

    check_fit_options(args)
    for name, value in (("--degraded-keys", args.degraded_keys), ("--blackout", args.blackout)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise InputError(None, name, "a fraction in [0, 1]", value)
    from semapose.data.synthetic.degrade import parse_degrade

    parse_degrade(args.degrade)
    from semapose.threads import check_threads, set_threads

    set_threads(check_threads(args.threads))
    videos = video_inputs(Path(args.videos))
    shipped = shipped_settings()
    cfg = load_config(None, [*FIT_PRESET, *shipped, *args.overrides, f"train.seed={args.seed}"])
    info = du.init_distributed(args.device, "--device")
    progress = not args.no_progress and info.is_main
    torch.manual_seed(args.seed)
    model = build_model(cfg).to(info.device).eval()
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        if info.is_main:  # one fit per output folder; leftovers of a killed run go
            from semapose.io.atomic import remove_stale_temporaries
            from semapose.io.lock import lock_file, output_lock

            stack.enter_context(output_lock(lock_file(out), "a fit output folder"))
            remove_stale_temporaries(out)
        return _fit(args, cfg, model, info, videos, out, progress)


def _fit(
    args: argparse.Namespace,
    cfg: Any,
    model: Any,
    info: Any,
    videos: list[Path],
    out: Path,
    progress: bool,
) -> int:
    import torch

    from semapose.data.feature_store import FeatureStore, check_feature_store
    from semapose.engine import distributed as du
    from semapose.engine.cache_fit import FIT_CURRICULUM, CacheFitConfig, fit_on_cache
    from semapose.errors import InputError
    from semapose.fitting import work as W
    from semapose.fitting.build import make_cache
    from semapose.fitting.tracks import load_runs_checked, save_runs
    from semapose.models.partial import save_partial_weights

    tracks, cache_dir = out / "tracks.json", out / "cache"
    if info.is_main:
        W.prepare_work(out, W.fit_fingerprint(args, videos))  # other inputs: start over
        if not tracks.is_file():  # per video, saved as each is done
            runs = W.track_videos(videos, out, args.detector or "ssdlite", progress)
            save_runs(tracks, runs)
        runs = load_runs_checked(tracks)
        if not runs:
            raise InputError(Path(args.videos), "VIDEOS", "people tracked over >= 5 frames", "none")
        if not (cache_dir / "index.json").is_file():
            make_cache(
                cache_dir,
                model,
                runs=runs,
                seed=args.seed,
                degrade=args.degrade,
                rate=args.rate,
                enlarge=cfg.data.bbox_enlarge,
                progress=progress,
            )
    if info.distributed:
        du.barrier()
    check_feature_store(cache_dir)
    cache = FeatureStore(cache_dir)
    share, blackout = FIT_CURRICULUM["degraded_key_share"], FIT_CURRICULUM["blackout"]
    fc = CacheFitConfig(
        steps=args.steps,
        batch_size=args.batch,
        lr=args.lr,
        seed=args.seed,
        degraded_key_share=share if args.degraded_keys is None else args.degraded_keys,
        blackout=blackout if args.blackout is None else args.blackout,
    )
    rows = torch.arange(len(cache)).numpy()
    log = fit_on_cache(model, cfg, cache, rows, fc, out_dir=out, resume=True, progress=progress)
    if info.is_main:
        dest = save_partial_weights(model, cfg, out / WEIGHTS_FILE, step=str(fc.steps))
        figures = final_report(model, cfg, cache, rows)
        summary = {
            "weights": str(dest),
            "videos": len(videos),
            "tracks": len(cache.clips),
            "person_frames": len(cache),
            "steps": fc.steps,
            "settings": {
                k: getattr(getattr(cfg, k.split(".")[0]), k.split(".")[1]) for k in SHIPPED_KEYS
            },
            "last": log[-1] if log else None,
            "use": f"semapose predict VIDEO --weights {out}",
            "neighbours": figures,
        }
        from semapose.io.atomic import atomic_write_json

        atomic_write_json(out / SUMMARY_FILE, summary, indent=1)
        print(summary_text(summary, out / SUMMARY_FILE), file=sys.stderr)
    if info.distributed:
        du.cleanup()
    return 0


def final_report(model: Any, cfg: Any, cache: Any, rows: Any) -> dict[str, Any]:
    """Does the fitted model use the neighbouring frames? Printed, and returned for the summary.

    On the fitted clips themselves (there is no held-out video here): PCK@0.1 of person
    height against the teacher on the degraded frames for the untrained single-frame
    model, the fitted model fed the key frame alone and fitted with its neighbours (the
    difference of the last two is the key-only gap); the same with the key frame blacked
    out and clean neighbours (occluded-key recovery); the neighbour sensitivity.
    """
    import dataclasses

    from semapose.engine.neighbour_use import hits, neighbour_report, predict
    from semapose.models.build import build_model

    thr = 0.1 * cache.heatmap_size[0] / float(cfg.data.bbox_enlarge)
    offsets = list(cfg.data.offsets)
    report, per_joint = neighbour_report(model, cache, rows, offsets, thr)
    single_cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, temporal="none"))
    single = build_model(single_cfg).to(next(model.parameters()).device).eval()
    events = [str(e) for e in cache.rows["event"][rows]]
    deg = rows[[e != "" for e in events]]
    base = None
    if len(deg):
        _, coords = predict(single, cache, deg, offsets)
        counted = cache.rows["weights"][deg] >= 0.2
        n = int(counted.sum())
        base = 100.0 * float((hits(coords, cache, deg, thr) & counted).sum()) / n if n else None
    figures = {"single_frame_untrained": base, **report.to_dict()}

    def f(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.1f}"

    lines = [
        "neighbour use (on the fitted clips, PCK@0.1 of person height vs the teacher):",
        f"  degraded frames: untrained single-frame {f(base)}, fitted key frame alone "
        f"{f(report.degraded_frames_key_only)}, fitted with neighbours "
        f"{f(report.degraded_frames)}; key-only gap {f(report.key_only_gap)}",
        f"  key frame blacked out, clean neighbours: key alone {f(report.blackout_key_only)}, "
        f"with neighbours {f(report.blackout)}; recovered {f(report.recovered)} % of the "
        "joints lost without them",
        f"  neighbour sensitivity (mean max |heatmap change| without neighbours): "
        f"{report.sensitivity:.3g}",
    ]
    print("\n".join(lines), file=sys.stderr)
    return figures
