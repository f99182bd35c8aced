"""Checks of command-line values shared by the commands (issue 24): every number an
option takes has a stated range, checked before any work starts, so a bad value is
one line (exit 2) instead of a traceback minutes later or a silently wrong result."""

from __future__ import annotations

import argparse
import math

from semapose.errors import InputError
from semapose.limits import MAX_FIT_BATCH, MAX_FIT_LR, MAX_FIT_STEPS, MAX_SEED


def _int_in(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise InputError(None, name, f"an integer from {low} to {high:,}", value)


def check_seed(value: int, name: str = "--seed") -> None:
    """A seed numpy and torch both take: 0 to 2^63 - 1 (-1 and 10^20 gave tracebacks)."""
    _int_in(name, value, 0, MAX_SEED)


def check_fit_options(args: argparse.Namespace) -> None:
    """``semapose fit``'s numbers: steps, batch, learning rate, seed, degradation rate."""
    _int_in("--steps", args.steps, 1, MAX_FIT_STEPS)
    _int_in("--batch", args.batch, 1, MAX_FIT_BATCH)
    lr = args.lr
    if not (math.isfinite(lr) and 0.0 < lr <= MAX_FIT_LR):
        # nan wrote untrained weights; inf, 1e30 and 10 diverged after training had started
        raise InputError(
            None, "--lr", f"a finite learning rate in (0, {MAX_FIT_LR:g}] (default 1e-3)", lr
        )
    check_seed(args.seed)
    if not (math.isfinite(args.rate) and 0.0 < args.rate <= 1.0):
        raise InputError(None, "--rate", "a fraction in (0, 1]", args.rate)
    from semapose.commands.predict import DETECTOR_CHOICES

    detector = getattr(args, "detector", None)
    if detector is not None and detector.lower().strip() not in DETECTOR_CHOICES:
        # (the detector registry's own line suggests --boxes, which fit does not take)
        raise InputError(None, "--detector", f"one of {', '.join(DETECTOR_CHOICES)}", detector)


def check_predict_options(args: argparse.Namespace) -> None:
    """``semapose predict``'s numbers not checked elsewhere."""
    if args.checkpoint_every < 0:
        raise InputError(
            None,
            "--checkpoint-every",
            "a non-negative number of frames (0: save only when stopped)",
            args.checkpoint_every,
        )


__all__ = ["MAX_FIT_STEPS", "check_fit_options", "check_predict_options", "check_seed"]
