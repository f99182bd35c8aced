"""The ``semapose`` command line: one entry point, one sub-command per job.

Each sub-command lives in ``semapose.commands.<name>`` and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Command modules import
heavy dependencies (torch, av) inside ``run`` so ``semapose --help`` is fast.
Errors of type :class:`SemaposeError` become one line on stderr and exit code 2;
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from semapose.errors import InputError, SemaposeError, printable

#: name -> one-line purpose. Order is the order of ``--help``.
COMMANDS: dict[str, str] = {
    "demo": "generate a degraded synthetic clip, run the bundled model, write overlay + JSON",
    "predict": "tracked keypoints (PoseTrack/COCO JSON) and an overlay video for videos or frames",
    "train": "train a model from a YAML config (CPU, GPU, multi-GPU/multi-node via torchrun)",
    "fit": "fit the temporal module to a folder of your own videos, no labels (CPU or torchrun)",
    "evaluate": "score PoseTrack predictions with poseval-exact mAP (plus COCO AP, tracking)",
    "synth": "generate synthetic degraded multi-person video with exact ground truth",
    "export": "export a model to ONNX (backbone and clip decoder as separate graphs)",
    "fetch": "download registry-backed weights (BlazePose, SSDLite) into the cache ahead of use",
    "report": "one self-contained HTML page per predict run: video, ids, confidence, angles",
}


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" line for a mistyped sub-command or option."""

    #: sub-command name -> its parser (top-level parser only)
    commands: dict[str, argparse.ArgumentParser]

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        hint = suggestion(message, self)
        self.exit(2, f"{self.prog}: error: {message}\n" + (f"{hint}\n" if hint else ""))


#: (command, option of other commands) -> what to do instead (a close spelling misled:
#: ``fit --resume`` suggested ``--set``)
NOT_AN_OPTION: dict[tuple[str, str], str] = {
    ("fit", "--resume"): "it always continues where it stopped from the work files in --out "
    "(use a new --out to start over)",
    ("fit", "--boxes"): "it finds people with --detector (ssdlite, yolox-tiny, yolox-m)",
    ("evaluate", "--resume"): "it runs in one go",
}

_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (.*)")


def suggestion(message: str, parser: argparse.ArgumentParser) -> str:
    """``did you mean ...?`` for an argparse error message, or "" (difflib over the known
    sub-commands, choices or this parser's options)."""
    import difflib

    found = _INVALID_CHOICE.search(message)
    if found:
        choices = re.findall(r"'([^']*)'", found.group(2))
        close = difflib.get_close_matches(found.group(1), choices, n=1, cutoff=0.5)
        return f"did you mean {close[0]!r}?" if close else ""
    found = _UNRECOGNIZED.search(message)
    if not found:
        return ""
    options = [s for a in parser._actions for s in a.option_strings]
    hints = []
    command = parser.prog.split()[-1]
    for token in found.group(1).split():
        if not token.startswith("-"):
            continue
        flag = token.split("=", 1)[0]
        if (command, flag) in NOT_AN_OPTION:  # an option of another command: say so
            return f"{parser.prog} has no {flag}: {NOT_AN_OPTION[command, flag]}"
        close = difflib.get_close_matches(flag, options, n=1, cutoff=0.6)
        if close:
            hints.append(f"{flag} -> {close[0]}")
    return f"did you mean: {', '.join(hints)}? (see {parser.prog} --help)" if hints else ""


def build_parser() -> Parser:
    from semapose import __version__

    parser = Parser(
        prog="semapose",
        description="Video human pose estimation robust to occlusion, blur and defocus.",
    )
    parser.add_argument("--version", action="version", version=f"semapose {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = {}
    for name, purpose in COMMANDS.items():
        p = sub.add_parser(name, help=purpose, description=purpose)
        parser.commands[name] = p
        # SUPPRESS: when absent here, the sub-parser must not reset a `semapose --debug CMD`
        p.add_argument(
            "--debug",
            action="store_true",
            default=argparse.SUPPRESS,
            help="show full tracebacks on errors",
        )
        module = _command_module(name)
        if module is not None:
            module.add_arguments(p)
    return parser


def _command_module(name: str):  # type: ignore[no-untyped-def]
    try:
        return importlib.import_module(f"semapose.commands.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"semapose.commands.{name}":
            return None
        raise


_WORKER_ERROR = re.compile(r"Caught \w+ in DataLoader worker process \d+\.")
_OWN_ERROR_LINE = re.compile(r"semapose\.errors\.\w+: (.+)")


def worker_error(exc: BaseException) -> str | None:
    """The message of a SemaposeError raised inside a PyTorch DataLoader worker, else None.

    PyTorch re-raises a worker's exception in the main process as ``RuntimeError`` (or
    the original type built from one string) whose text is the worker's whole traceback;
    its last line is ``semapose.errors.<Type>: <message>``. Without this, a missing image
    read by a worker would end training in a bare traceback.
    """
    text = str(exc).strip()
    if not _WORKER_ERROR.match(text):
        return None
    found = _OWN_ERROR_LINE.fullmatch(text.splitlines()[-1])
    return found.group(1) if found else None


def path_error(exc: BaseException) -> str | None:
    """One line for a file-system error on a named path, else None.

    E.g. an ``--out`` that is an existing file, a folder without write permission, a
    full disk: bad input or environment, not a bug, so no traceback.
    """
    if not isinstance(exc, OSError) or not (exc.filename or exc.filename2):
        return None
    from pathlib import Path

    name = Path(os.fsdecode(exc.filename2 or exc.filename))
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        for part in (name, *name.parents):
            if part.is_symlink() and not part.exists():  # "File exists" said nothing
                got = "a dangling symlink (its target does not exist)"
                return str(InputError(part, "", "a folder or a path to create one", got))
            if part.exists() and not part.is_dir():  # a file where a folder is needed
                from semapose.io.bounded import file_kind

                kind = "a file" if part.is_file() else file_kind(part.stat().st_mode)
                return str(InputError(part, "", "a folder or a path to create one", kind))
    if exc.errno == errno.ENAMETOOLONG:  # name the part that is too long, not --out
        longest = max(name.parts, key=len)
        got = f"a name of {len(longest.encode())} bytes ({longest[:24]}...)"
        return str(InputError(name, "", "file names of at most 255 bytes", got))
    if isinstance(exc, IsADirectoryError):
        return str(InputError(name, "", "a file path", "a folder"))
    return str(InputError(name, "", "a path that can be read or written", exc.strerror or exc))


def disk_full_error(exc: BaseException, args: argparse.Namespace) -> str | None:
    """One line for a full disk met by an append-only write (partial results, logs),
    whose error names no file: the command's output folder is named instead."""
    from pathlib import Path

    from semapose.io.atomic import DiskFullError, is_disk_full

    if not is_disk_full(exc):
        return None
    out = getattr(args, "out", None) or getattr(args, "output_dir", None) or "."
    return str(DiskFullError(Path(out), 0, _free(Path(out))))


def _free(path: object) -> int | None:
    import shutil
    from pathlib import Path

    folder = Path(str(path))
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    from semapose.threads import prefer_passive_wait

    prefer_passive_wait()  # before any command imports torch (OpenMP reads it then)
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the sub-command's parser, which knows its own options
        (parser.commands.get(args.command) or parser).error(
            f"unrecognized arguments: {' '.join(extra)}"
        )
    if args.command is None:
        parser.print_help()
        return 2
    module = _command_module(args.command)
    if module is None:
        print(f"semapose {args.command}: not built yet", file=sys.stderr)
        return 2
    try:
        return int(module.run(args) or 0)
    except Exception as exc:
        message = worker_error(exc) or path_error(exc) or disk_full_error(exc, args)
        if args.debug or (message is None and not isinstance(exc, SemaposeError)):
            raise
        print(f"semapose {args.command}: error: {printable(message or str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"semapose {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
