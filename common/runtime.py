"""The process at run time: what native code prints to stderr (hidden or captured), TensorFlow
imported quietly, seeds, and the machine in words. TensorFlow is imported only when asked for."""

import contextlib
import os
import sys
import tempfile
import warnings


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


def host():
    """This machine in words: system, architecture, CPU model, cores, memory."""
    import platform

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (
                    ln.split(":", 1)[1].strip()
                    for ln in f
                    if ln.split(":")[0].strip() in ("model name", "Model")
                ),
                cpu,
            )
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
