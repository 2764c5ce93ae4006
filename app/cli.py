"""`marquee`: the command line, a thin face over the pipelines' train/score/evaluate verbs.

Each module in `app/commands/` adds its own sub-commands through `register(cli)`, so the
pipelines' commands live beside each other without one file that all of them edit. Command
modules import their pipeline lazily, inside the handler, so `marquee sql` never loads torch.
"""
from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import pkgutil
import signal
import sys
from dataclasses import dataclass

from data.errors import MACHINE_ERRNOS, MarqueeError, errno_of, exit_code_for

VERBS = {"train": "train a model (a new run)", "score": "batch-score with a trained run",
         "evaluate": "evaluate a trained run"}


def common_options(root: bool = False) -> argparse.ArgumentParser:
    """Options every command takes, wherever they are written on the line: before the command, between
    `train` and its pipeline, or after; the last one written wins.

    Only the root parser's copy (`root=True`) has defaults. A subparser writes its whole namespace,
    defaults included, over what the parsers above it read, so a default there would undo
    `marquee --seed 3 train recsys`; its copy defaults to SUPPRESS and its help states the default."""
    common = argparse.ArgumentParser(add_help=False)

    def add(flag: str, default, help: str, **kwargs) -> None:
        common.add_argument(flag, default=default if root else argparse.SUPPRESS,
                            help=help if default is None else f"{help} (default {default})", **kwargs)

    add("--home", None, "folder of the store and the trained models (default: $MARQUEE_HOME, else ./.marquee)",
        type=folder_arg, metavar="DIR")
    add("--profile", "auto", "quick: sized for a 2-core CPU; full: the real run for a GPU; auto: full on CUDA",
        choices=["auto", "quick", "full"])
    add("--device", "auto", "where models train and score; auto: CUDA when a GPU is there",
        choices=["auto", "cpu", "cuda"])
    add("--seed", 42, "random seed of data splits, sampling and model initialisation",
        type=whole_number(0, 2**32 - 1))
    return common


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default, so no help has to repeat a value the code holds; not
    where the help already speaks of its default ("(profile default)") or there is none to show (None,
    an on/off flag). Descriptions and epilogs keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        if (action.option_strings and "default" not in help and action.default is not None
                and action.default != argparse.SUPPRESS and not isinstance(action.default, bool)):
            help += " (default %(default)s)"
        return help


@dataclass
class Cli:
    """What a command module needs to add its commands."""
    commands: argparse._SubParsersAction     # top-level: marquee NAME
    verbs: dict[str, argparse._SubParsersAction]  # marquee train|score|evaluate NAME
    common: argparse.ArgumentParser

    def command(self, name: str, help: str, handler) -> argparse.ArgumentParser:
        p = self.commands.add_parser(name, help=help, parents=[self.common], description=help,
                                     formatter_class=HelpFormatter)
        p.set_defaults(handler=handler)
        return p

    def verb(self, verb: str, target: str, help: str, handler) -> argparse.ArgumentParser:
        p = self.verbs[verb].add_parser(target, help=help, parents=[self.common], description=help,
                                        formatter_class=HelpFormatter)
        p.set_defaults(handler=handler)
        return p


def whole_number(lo: int, hi: int | None = None):
    """argparse type: a whole number in lo..hi (a bad value is a usage error, not a traceback later)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < lo or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {lo}..{hi}, got {value}" if hi is not None
                                             else f"must be at least {lo}, got {value}")
        return value
    parse.__name__ = "whole number"
    return parse


def non_empty(what: str):
    """argparse type: a value that is not blank. An empty one (an unset shell variable) would quietly mean the
    default instead: ./.marquee for --home, the latest run for --run, the bundled reviews for --labeled."""
    def parse(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(f"is empty; name {what}")
        return text
    parse.__name__ = what
    return parse


def positive_number(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def event_types(text: str) -> tuple[str, ...]:
    """argparse type: comma-separated event types (`rating,purchase`), each named once. Ingest accepts any name,
    so one holding a comma is quoted as in a CSV line: `"add,to,cart",purchase`."""
    try:
        fields = next(csv.reader([text], strict=True, skipinitialspace=True), [])
    except csv.Error:   # an unclosed quote, a line break outside quotes
        fields = [""]
    names = tuple(dict.fromkeys(t.strip() for t in fields))
    if not names or "" in names:
        raise argparse.ArgumentTypeError(f"{text!r}: name event types separated by commas, e.g. rating,purchase "
                                         """(quote one holding a comma: '"add,to,cart",purchase')""")
    return names


EVENT_TYPES_HELP = ("count only events of these types, comma-separated (e.g. rating,purchase; default: every type; "
                    'quote a type holding a comma as in CSV: \'"add,to,cart",purchase\'); '
                    "the run keeps them, and scoring uses the same")
positive_int = whole_number(1, 10**12)   # far past any real use; DuckDB's BIGINT (a LIMIT) ends at 2**63
threads_int = whole_number(0, 1024)     # 0: torch's default
run_id_arg = non_empty("a run id (see `marquee runs`)")
file_arg = non_empty("a file")
folder_arg = non_empty("a folder")


def print_json(value) -> None:
    """A command's result as JSON on stdout (scripts parse it), every float cut to 6 significant digits:
    no metric is known better than that, and 0.44665738347325024 is hard on the eye."""
    print(json.dumps(_rounded(value), indent=2))


def _rounded(value):
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def resolve_profile(args: argparse.Namespace) -> str:
    """`auto` means full on a CUDA machine, quick otherwise."""
    if args.profile != "auto":
        return args.profile
    from data.device import pick_device

    return "full" if pick_device(args.device).type == "cuda" else "quick"


DESCRIPTION = """\
Marquee: movie recommendations, review sentiment and engagement forecasts,
all kept in one DuckDB store."""
EPILOG = """\
Start with `marquee demo`: it loads the demo data, trains and scores all three pipelines, then
serves the dashboard. For your own data: `marquee init`, then `marquee ingest`.

The store and the trained models live in --home DIR, else in $MARQUEE_HOME, else in ./.marquee.
--home, --profile, --device and --seed may be written before or after the command.
`marquee COMMAND --help` tells more about a command."""


def build_parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="marquee", description=DESCRIPTION, epilog=EPILOG,
                                   parents=[common_options(root=True)], formatter_class=HelpFormatter)
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    verbs = {v: commands.add_parser(v, help=h, description=h, parents=[common], formatter_class=HelpFormatter)
             .add_subparsers(dest="target", required=True, metavar="PIPELINE") for v, h in VERBS.items()}
    cli = Cli(commands, verbs, common)
    import app.commands as pkg

    for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        importlib.import_module(f"app.commands.{mod.name}").register(cli)
    return root


def _interrupted(exc: BaseException) -> bool:
    """Ctrl-C, also as DuckDB reports it when it lands inside a query."""
    return isinstance(exc, KeyboardInterrupt) or (isinstance(exc, RuntimeError) and str(exc) == "Query interrupted")


def _system_failure(exc: BaseException) -> tuple[int, str] | None:
    """(exit code, one line) for a system error no command turned into a MarqueeError: an OSError, DuckDB's
    IOException, or any error whose words name a full disk or a file size limit (DuckDB failing a commit,
    safetensors a model file). Exit 2 for the user's setup (read-only, no permission, a file where a folder
    goes), else 1: the machine (data.errors.exit_code_for). None for anything else, so a bug still shows its
    traceback. duckdb is looked up, not imported: an exception cannot be DuckDB's unless a command loaded it."""
    duckdb = sys.modules.get("duckdb")
    if isinstance(exc, OSError) and exc.strerror:
        line = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    elif (duckdb is not None and isinstance(exc, duckdb.IOException)) or errno_of(exc) in MACHINE_ERRNOS:
        line = " ".join(str(exc).split())
    else:
        return None
    return exit_code_for(exc) or 1, line


def _terminated(signum, frame) -> None:
    """SIGTERM (a `kill`, a job scheduler) ends a command like Ctrl-C: a running job is marked failed."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _terminated)
    try:
        if args.device == "cuda":   # every command refuses it alike, whatever it runs
            from data.device import pick_device

            pick_device("cuda")
        code = int(args.handler(args) or 0)
        sys.stdout.flush()   # a closed pipe shows here, not at exit
        return code
    except MarqueeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:   # `marquee sql ... | head`: the reader has gone; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (KeyboardInterrupt, Exception) as exc:
        if _interrupted(exc):
            print("error: interrupted", file=sys.stderr)
            return 130
        failure = _system_failure(exc)
        if failure is None:
            raise
        print(f"error: {failure[1]}", file=sys.stderr)
        return failure[0]


if __name__ == "__main__":
    sys.exit(main())
