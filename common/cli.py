"""Command-line pieces shared by the scripts: the parser, the error exit, a quiet TensorFlow.

Every error is one line on stderr, `error: <file>: <what is wrong; what was expected>`, with
exit status 1, bad flags included; Ctrl-C is one line and exit status 130. Statuses 0 and 2
are the verdict's (every assessable limit met / a limit missed).
"""
import argparse
import contextlib
import os
import sys
import tempfile
import warnings

from . import constraints
from .errors import DataError
from .outputs import InterruptedAfterWriting
from .versions import VERSIONS, entry


class UsageError(DataError):
    """A bad command line."""


class Parser(argparse.ArgumentParser):
    """argparse, but a bad flag raises UsageError (one line, exit status 1) instead of
    printing the usage and exiting with status 2, the status of a missed limit."""

    def error(self, message):
        raise UsageError(f"{self.prog}: {message}")


def positive_int(text, low=1):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is not allowed; expected a whole number >= {low}")
    return value


def whole_number(text):
    """A whole number >= 0 (argparse type)."""
    return positive_int(text, low=0)


def parser(version, description):
    """The options every script has; `version` is the one the script builds (e.g. 'ex1_a')."""
    e = entry(version)
    p = Parser(prog=e.script, description=description)
    p.add_argument("--version", default=e.letter, help=f"the version this script builds: "
                   f"{e.letter} (the course's command line; other letters are other scripts)")
    p.add_argument("--out-dir", default="models", help="where the output set is written (default: models)")
    p.add_argument("--epochs", type=positive_int, help="training epochs (default: the version's own)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--quiet", action="store_true", help="no Keras progress bars")
    p.add_argument("--verbose", action="store_true",
                   help="keep TensorFlow's own log lines (hidden by default)")
    return p


def parse(p, version, argv):
    """Parse and check `--version` against the script's own letter."""
    args = p.parse_args(argv)
    own = entry(version)
    if args.version != own.letter:
        other = [e for e in VERSIONS.values() if e.exercise == own.exercise and e.letter == args.version]
        where = f"it is built by {other[0].script}" if other else "there is no such version"
        raise UsageError(f"{own.script}: --version {args.version}: {where}; this script builds "
                         f"version {own.letter}")
    return args


def exit_status(main, argv=None):
    """Run `main(argv)` and turn input errors and Ctrl-C into one line and an exit status."""
    try:
        return main(argv)
    except InterruptedAfterWriting:
        print("interrupted: after the new output files were all written", file=sys.stderr)
        return constraints.EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("interrupted: no output file was changed", file=sys.stderr)
        return constraints.EXIT_INTERRUPTED
    except (ValueError, OSError) as e:  # DataError, WavError, ModelFileError, missing files
        print(f"error: {e}", file=sys.stderr)
        return constraints.EXIT_ERROR


@contextlib.contextmanager
def captured_native_stderr():
    """Keep what C/C++ code writes to stderr (file descriptor 2) during the block, Python
    warnings silenced: yields a list that holds the text once the block has ended."""
    text = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                yield text
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text.append(sink.read().decode("utf-8", "replace"))


@contextlib.contextmanager
def quiet_native_stderr(verbose=False):
    """Send what TensorFlow's C++ side writes to stderr (absl, oneDNN, CUDA probing, the
    converter's log) to a throw-away file for the duration of the block, unless `verbose`."""
    if verbose:
        yield
        return
    with captured_native_stderr():
        yield


def tensorflow(verbose=False):
    """Import TensorFlow quietly (the log lines of its import and start-up hidden)."""
    if verbose:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    with quiet_native_stderr(verbose):
        import tensorflow as tf
        tf.constant(0)  # device probing (CUDA messages) happens here, still silenced
    if not verbose:
        tf.get_logger().setLevel("ERROR")
        import absl.logging
        absl.logging.set_verbosity(absl.logging.ERROR)
    return tf


def phase_epochs(spec, override=None):
    """(training epochs, pruning fine-tuning epochs) of a version: its own (fine-tuning:
    `pruning["epochs"]`, else as many again), or `override` (--epochs) for both."""
    if override:
        return override, override
    return spec.epochs, (spec.pruning or {}).get("epochs", spec.epochs)


def host():
    """This machine in words: system, architecture, CPU model, cores, memory."""
    import platform
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f
                        if ln.split(":")[0].strip() in ("model name", "Model")), cpu)
    except OSError:
        pass
    try:
        memory = f", {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        memory = ""
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores{memory}"


def set_seed(seed):
    """Seed Python, numpy and TensorFlow, and ask TensorFlow for deterministic ops."""
    import tensorflow as tf
    tf.keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
