"""Command-line pieces shared by the scripts and tools: the parser, the flag types, the exit.
Every error is one line on stderr and exit status 1; a stop signal, one line and 128 + its
number. Statuses 0 and 2 are the verdict's (limits met / missed)."""

import argparse
import contextlib
import os
import re
import signal
import sys

from . import constraints, outputs
from .errors import DataError
from .constraints import VERSIONS


class UsageError(DataError):
    """A bad command line."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag raises UsageError (exit status 1, not 2: a missed limit's)."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


# the bounds of the counts a command line gives, said in each flag's help text
MAX_EPOCHS, MAX_RUNS, MAX_THREADS, MAX_FOLDS, MAX_TRIALS = 10_000, 100_000, 64, 100, 10_000


def positive_int(text, low=1, high=None):
    """A whole number >= `low` (and <= `high`) (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low or (high is not None and value > high):
        within = f">= {low}" if high is None else f"in [{low}, {high:,}]"
        raise argparse.ArgumentTypeError(
            f"{value} is not allowed; expected a whole number {within}"
        )
    return value


def within(low, high):
    """The argparse type of a whole number in [low, high]."""
    return lambda text: positive_int(text, low, high)


SEED_LIMIT = 2**32  # numpy's and TensorFlow's seeds: 0 <= seed < 2**32
seed = within(0, SEED_LIMIT - 1)  # a random seed (argparse type)


def seeds(text):
    """Seeds separated by commas, each as `seed` (argparse type), e.g. '0,1,2'."""
    try:
        return [seed(x) for x in text.split(",")]
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e}; separated by commas") from None


def parser(e, description):
    """The options every script has; `e` is the Entry of the version the script builds."""
    p = Parser(prog=e.script, description=description)
    builds = f"{e.letter} (the course's command line; other letters are other scripts)"
    p.add_argument("--version", default=e.letter, help=f"the version this script builds: {builds}")
    p.add_argument(
        "--out-dir", default="models", help="where the output set is written (default: models)"
    )
    p.add_argument(
        "--epochs",
        type=within(1, MAX_EPOCHS),
        help=f"training epochs, 1 to {MAX_EPOCHS:,} (default: the version's own)",
    )
    p.add_argument("--seed", type=seed, default=0, help="random seed, 0 to 2**32 - 1 (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    p.add_argument(
        "--verbose", action="store_true", help="keep TensorFlow's own log lines (hidden by default)"
    )
    return p


def parse(p, own, argv):
    """Parse and check `--version` against the letter of the script's own Entry."""
    args = p.parse_args(argv)
    if args.version != own.letter:
        other = VERSIONS.get(f"{own.exercise}_{args.version}")
        where = f"it is built by {other.script}" if other else "there is no such version"
        raise UsageError(
            f"{own.script}: --version {args.version}: {where}; this script builds "
            f"version {own.letter}"
        )
    return args


def exit_status(main, argv=None):
    """Run `main(argv)`; input errors and stop signals become one line and an exit status."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError):
            stream.reconfigure(errors="backslashreplace")
    with outputs.raise_on_stop_signals():
        try:
            return main(argv)
        except (KeyboardInterrupt, Exception) as e:  # Ctrl-C, outputs.Interrupted, errors
            if (stop := _stop_behind(e)) is not None:  # also one wrapped by code it hit
                return _interrupted(stop)
            if not isinstance(e, (ValueError, OSError)):  # a bug: its traceback
                raise
            print(error_line(e), file=sys.stderr)  # DataError, WavError, ModelFileError, files
            return constraints.EXIT_ERROR


def _stop_behind(error):
    """The KeyboardInterrupt that `error` is, or was raised from or while handling, if any."""
    seen = set()
    while error is not None and id(error) not in seen:
        if isinstance(error, KeyboardInterrupt):
            return error
        seen.add(id(error))
        error = error.__cause__ or error.__context__
    return None


def _interrupted(stop):
    """One line, and the exit status 128 + the signal number, for a run stopped by `stop`."""
    signum = getattr(stop, "signum", signal.SIGINT)
    by = "" if signum == signal.SIGINT else f" by {signal.Signals(signum).name}"
    after = isinstance(stop, outputs.InterruptedAfterWriting)
    what = "after the new output files were all written" if after else "no output file was changed"
    print(f"interrupted{by}: {what}", file=sys.stderr)
    return 128 + int(signum)


def error_line(error):
    """`error: <message>` on one line: an OSError as `<its path>: <what>`, newlines folded."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        text = f"{_path(error.filename)}: {error.strerror}"
        if error.filename2 is not None:
            text += f" (and {_path(error.filename2)})"
    else:
        text = str(error) or type(error).__name__
    return "error: " + re.sub(r"\s*[\r\n]+\s*", " ", text.strip())


def _path(name):
    return os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
