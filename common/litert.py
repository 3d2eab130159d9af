"""Run .tflite models and time them: the interpreter, a model runner, the one latency loop (no
TensorFlow unless no other interpreter is installed: runs on a Raspberry Pi)."""

import contextlib
import functools
import importlib
import os
import time

import numpy as np

from .runtime import quiet_native_stderr
from .frontend_np import NumpyFrontEnd
from .tflite_io import ModelFileError, read_model_bytes
from .wav import resample

SOURCE_RATE = 48000  # latency mode: a 1 s signal at 48 kHz, as from a microphone
INTERPRETERS = (  # (module, where it comes from), the first installed is used
    ("ai_edge_litert.interpreter", "ai-edge-litert"),
    ("tflite_runtime.interpreter", "tflite-runtime"),
    ("tensorflow.lite.python.interpreter", "tensorflow (tf.lite.Interpreter)"),
)
# kernel choice -> the interpreter's OpResolverType ("tflm": TFLM's interpreter instead)
KERNELS = {
    "default": None,  # what a plain Interpreter(...) runs: XNNPACK delegate + optimized kernels
    "optimized": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",  # optimized builtin kernels, no delegate
    "reference": "BUILTIN_REF",  # the reference kernels: slow, the same on every machine
    "tflm": None,  # TensorFlow Lite for Microcontrollers (pip install -r requirements-mcu.txt)
}


@functools.cache
def interpreter_class():
    """(Interpreter class, where it comes from): ai-edge-litert, tflite-runtime or TensorFlow."""
    for module, origin in INTERPRETERS:
        with contextlib.suppress(ImportError):
            return importlib.import_module(module).Interpreter, origin
    raise ModelFileError(
        "no TFLite interpreter installed: pip install ai-edge-litert (64-bit OS) "
        "or tflite-runtime (32-bit Raspberry Pi OS)"
    )


def make_interpreter(data, threads, kernels):
    """An interpreter of the model bytes `data` running `kernels` (a KERNELS key)."""
    if kernels not in KERNELS:
        raise ModelFileError(f"kernels {kernels!r}: expected one of {', '.join(KERNELS)}")
    if kernels == "tflm":
        from . import tflm

        return tflm.Interpreter(data)
    Interpreter, source = interpreter_class()
    options = {}
    if KERNELS[kernels]:
        resolvers = getattr(importlib.import_module(Interpreter.__module__), "OpResolverType", None)
        if resolvers is None:
            raise ModelFileError(
                f"{source}: this interpreter has no kernel choice "
                f"(OpResolverType); the {kernels} kernels need ai-edge-litert"
            )
        options["experimental_op_resolver_type"] = getattr(resolvers, KERNELS[kernels])
    return Interpreter(model_content=bytes(data), num_threads=threads, **options)


class Model:
    """A model (bytes or a path) with float input and output; a FrontEnd `cfg` adds `classify`."""

    def __init__(self, model, cfg=None, threads=1, verbose=False, kernels="default", name=None):
        is_bytes = isinstance(model, (bytes, bytearray))
        data = model if is_bytes else read_model_bytes(model)
        name = name or ("the model given as bytes" if is_bytes else os.fspath(model))
        try:
            with quiet_native_stderr(verbose):  # "INFO: Created ... XNNPACK delegate"
                self.interpreter = make_interpreter(data, threads, kernels)
                self.interpreter.allocate_tensors()
        except ModelFileError:  # no such interpreter installed: its own message
            raise
        except (ValueError, RuntimeError) as e:
            raise ModelFileError(
                f"{name}: the interpreter cannot load it ({kernels} kernels: {e}); "
                "expected a TFLite model this interpreter runs"
            ) from None
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]
        self.input_shape = [int(d) for d in self.inp["shape"]]
        self.cfg, self.frontend = cfg, None if cfg is None else NumpyFrontEnd(cfg)

    def set_input(self, x):
        x = np.asarray(x, np.float32)[None]
        if self.inp["dtype"] != np.float32:  # integer input: quantize
            scale, zero = self.inp["quantization"]
            x = np.round(x / scale + zero)
        self.interpreter.set_tensor(self.inp["index"], x.astype(self.inp["dtype"]))

    def get_output(self):
        y = self.interpreter.get_tensor(self.out["index"])[0]
        if self.out["dtype"] != np.float32:
            scale, zero = self.out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y.copy()

    def __call__(self, x):
        """Output for one input (without the batch dimension)."""
        self.set_input(x)
        self.interpreter.invoke()
        return self.get_output()

    def run_all(self, inputs):
        """Outputs for each row of `inputs` [N, ...], one invoke a row: [N, ...]."""
        return np.stack([self(x) for x in inputs])

    def classify(self, waveform):
        """Output vector (logits) of a waveform at cfg.rate, through the numpy front end."""
        return self(self.frontend(waveform))


def latency_stats(ms):
    p50, p90 = np.percentile(ms, [50, 90])
    return {"mean": float(np.mean(ms)), "p50": float(p50), "p90": float(p90)}


def measure_latency(model, cfg=None, runs=100, threads=1, warmup=5, seed=0, frontend=None):
    """The course's latency loop: 1 s of random 48 kHz signal -> resample -> front end -> invoke;
    {'inference_ms', 'total_ms' (None without a front end): {mean, p50, p90}, 'runs'}."""
    m = model if isinstance(model, Model) else Model(model, cfg, threads)
    cfg, frontend = cfg or m.cfg, frontend or m.frontend
    rng = np.random.RandomState(seed)
    inference, total = [], []
    for i in range(warmup + runs):
        if cfg is not None:
            x = rng.random_sample(SOURCE_RATE).astype(np.float32)
        else:
            x = rng.normal(size=m.input_shape[1:]).astype(np.float32)
        t0 = time.perf_counter()
        m.set_input(frontend(resample(x, SOURCE_RATE, cfg.rate)) if cfg is not None else x)
        t1 = time.perf_counter()
        m.interpreter.invoke()
        t2 = time.perf_counter()
        m.get_output()
        t3 = time.perf_counter()
        if i >= warmup:
            inference.append(1e3 * (t2 - t1))
            total.append(1e3 * (t3 - t0))
    total = latency_stats(total) if cfg is not None else None
    return {"inference_ms": latency_stats(inference), "total_ms": total, "runs": runs}
