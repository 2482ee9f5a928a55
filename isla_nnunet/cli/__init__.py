"""The ``isla`` command line.

Each sub-command is a module in this package exposing ``HELP`` (one line), ``add_arguments(parser)``
and ``run(args) -> int``. Modules hold no logic: they parse, call one library function and print.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from isla_nnunet.errors import ISLAError
from isla_nnunet.io.writable import check_writable, os_error_line


def _command_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield info.name.replace("_", "-"), importlib.import_module(f"{__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="isla", description="ISLA stroke lesion segmentation on nnU-Net v2.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module in _command_modules():
        command_parser = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run)
    return parser


# Exit status of a command that wrote its outputs but flagged a case for a look (registration QC, a lesion
# mask of low contrast), so that a script cannot take it for a clean result; 1 is "a case failed", 2 "refused".
EXIT_FLAGGED = 3

# Arguments naming what a command writes; each is checked for writability before the command starts.
OUTPUT_ARGUMENTS = ("output", "output_dir", "workdir")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for name in OUTPUT_ARGUMENTS:
            if getattr(args, name, None) is not None:
                check_writable(getattr(args, name))
        return int(args._run(args) or 0)
    except ISLAError as err:
        print(f"isla {args.command}: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a full disk or a folder that stopped taking files while the command ran
        print(f"isla {args.command}: error: {os_error_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"isla {args.command}: interrupted", file=sys.stderr)
        return 130

