"""The process at run time: native code's stderr hidden or captured, TensorFlow imported quietly
(only when asked for), seeds, the machine in words."""

import contextlib
import logging
import os
import sys
import tempfile
import warnings

PHASE = logging.getLogger("phase")  # PHASE.info("training: 40 epochs"): shown by a script's run


def show_phases():
    """The phase lines on stdout, timed, from now on (a script's run; tools leave them out)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
    PHASE.handlers, PHASE.propagate = [handler], False
    PHASE.setLevel(logging.INFO)


@contextlib.contextmanager
def captured_native_stderr():
    """Yield a list holding, once the block ends, its descriptor-2 output (warnings silenced)."""
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


def quiet_native_stderr(verbose=False):
    """A context that hides native code's stderr (absl, oneDNN, CUDA), unless `verbose`."""
    return contextlib.nullcontext() if verbose else captured_native_stderr()


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
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.split(":")[0].strip() in ("model name", "Model"):
                cpu = line.split(":", 1)[1].strip()
                break
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
