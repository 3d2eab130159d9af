"""Keyword-spotting latency and predictions with LiteRT: no TensorFlow (runs on a Raspberry Pi).

Copy this file and common/ to the Pi (pip install ai-edge-litert numpy scipy), then

    python kws_inference.py --model kws.tflite.zip            # latency, as the course script
    python kws_inference.py --model kws.tflite --wav DIR      # label of every wav under DIR

The front end comes from the model's sidecar JSON (`X.tflite[.zip]` -> `X.json`, key
`frontend`); explicit flags override it; with neither, the course defaults are used.
"""
import common  # noqa: F401  (one BLAS thread, set before numpy loads; no TensorFlow)

import argparse  # noqa: E402
import os  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from common.frontend_np import LABELS, FrontEnd, NumpyFrontEnd  # noqa: E402
from common.report import read_sidecar  # noqa: E402
from common.tflite_io import ModelFileError, make_interpreter, read_model_bytes  # noqa: E402
from common.wav import WavError, read_wav, resample  # noqa: E402

COURSE_DEFAULTS = FrontEnd(mfcc=False, resize=32)  # the course script: STFT resized to 32x32
FLAGS = {"rate": "rate", "mfcc": "mfcc", "resize": "resize", "length": "frame_length",
         "stride": "frame_step", "bins": "num_mel_bins", "coeff": "num_coefficients",
         "lower_frequency": "lower_frequency", "upper_frequency": "upper_frequency"}
SOURCE_RATE = 48000  # random-input mode: a 1 s signal at 48 kHz, as from a microphone
WARMUP = 5


def frontend_config(sidecar, overrides):
    """(FrontEnd, note): sidecar front end (else the course defaults) with `overrides` applied."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if "resize" in overrides and overrides["resize"] <= 0:
        overrides["resize"] = None
    if "frontend" in sidecar:
        base, note = sidecar["frontend"], "front end from the sidecar JSON"
    else:
        base, note = COURSE_DEFAULTS.to_dict(), "no sidecar JSON: course defaults"
    if overrides:
        note += " + flags " + ", ".join(f"{k}={v}" for k, v in overrides.items())
    return FrontEnd.from_dict({**base, **overrides}), note


class Model:
    """A LiteRT interpreter checked against the front end: features -> output vector."""

    def __init__(self, model, cfg, threads=1):
        data = model if isinstance(model, (bytes, bytearray)) else read_model_bytes(model)
        self.interpreter = make_interpreter(data, num_threads=threads)
        self.inp = self.interpreter.get_input_details()[0]
        self.out = self.interpreter.get_output_details()[0]
        want = [1, *cfg.input_shape]
        have = [int(d) for d in self.inp["shape"]]
        if have != want:
            raise ValueError(f"model input shape {have} != front-end shape "
                             f"{want}; fix the sidecar JSON or the front-end flags")
        self.frontend = NumpyFrontEnd(cfg)

    def set_input(self, feats):
        scale, zero = self.inp["quantization"]
        x = feats[None]
        if self.inp["dtype"] != np.float32:  # integer input: quantize
            x = np.round(x / scale + zero)
        self.interpreter.set_tensor(self.inp["index"], x.astype(self.inp["dtype"]))

    def get_output(self):
        y = self.interpreter.get_tensor(self.out["index"])[0]
        if self.out["dtype"] != np.float32:
            scale, zero = self.out["quantization"]
            y = (y.astype(np.float32) - zero) * scale
        return y

    def __call__(self, waveform):
        self.set_input(self.frontend(waveform))
        self.interpreter.invoke()
        return self.get_output()


def latency_stats(ms):
    """mean, p50 and p90 of a list of milliseconds."""
    ms = np.asarray(ms)
    return {"mean": float(ms.mean()), "p50": float(np.percentile(ms, 50)),
            "p90": float(np.percentile(ms, 90))}


def measure_latency(model, cfg, runs=100, threads=1, warmup=WARMUP, seed=0, frontend=None):
    """Course-style latency: {'inference_ms'|'total_ms': {'mean','p50','p90'}, 'runs': n}.

    Each run: 1 s of random 48 kHz signal -> resample to cfg.rate -> front end (the numpy
    one, or `frontend(waveform) -> features`, e.g. TensorFlow's, to time the course way) ->
    set_tensor -> invoke -> output read. inference = invoke only; total = resample start to
    output read (time.perf_counter). The first `warmup` runs are not recorded.
    Importers should set OPENBLAS_NUM_THREADS=1 before numpy loads, as this script does.
    """
    m = model if isinstance(model, Model) else Model(model, cfg, threads)
    frontend = frontend or m.frontend
    rng = np.random.RandomState(seed)
    inference, total = [], []
    for i in range(warmup + runs):
        x = rng.random_sample(SOURCE_RATE).astype(np.float32)
        t0 = time.perf_counter()
        m.set_input(frontend(resample(x, SOURCE_RATE, cfg.rate)))
        t1 = time.perf_counter()
        m.interpreter.invoke()
        t2 = time.perf_counter()
        m.get_output()
        t3 = time.perf_counter()
        if i >= warmup:
            inference.append(1e3 * (t2 - t1))
            total.append(1e3 * (t3 - t0))
    return {"inference_ms": latency_stats(inference), "total_ms": latency_stats(total),
            "runs": runs}


def softmax(y):
    """Softmax of logits; outputs that already are probabilities are kept."""
    y = np.asarray(y, np.float64)
    if y.min() >= 0 and abs(y.sum() - 1) < 1e-3:
        return y
    e = np.exp(y - y.max())
    return e / e.sum()


def wav_files(path):
    if os.path.isdir(path):
        found = sorted(os.path.join(d, f) for d, _, fs in os.walk(path)
                       for f in fs if f.lower().endswith(".wav"))
        if not found:
            raise FileNotFoundError(f"{path}: no .wav file in this folder")
        return found
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such wav file or folder")
    return [path]


def predict(model, cfg, paths, labels=LABELS):
    """[(path, label, score)] for each wav."""
    results = []
    for path in paths:
        p = softmax(model(read_wav(path, rate=cfg.rate)))
        k = int(np.argmax(p))
        results.append((path, labels[k] if k < len(labels) else str(k), float(p[k])))
    return results


def main(argv=None):
    p = argparse.ArgumentParser(description="KWS latency / predictions with LiteRT (no TensorFlow)")
    p.add_argument("--model", required=True, help=".tflite or .tflite.zip")
    p.add_argument("--rate", type=int, help="sample rate of the front end (Hz)")
    p.add_argument("--mfcc", action=argparse.BooleanOptionalAction, default=None,
                   help="MFCC front end (--no-mfcc: STFT)")
    p.add_argument("--resize", type=int, help="STFT path: resize to RxR (0: none)")
    p.add_argument("--length", type=int, help="STFT frame length (samples)")
    p.add_argument("--stride", type=int, help="STFT frame step (samples)")
    p.add_argument("--bins", type=int, help="mel bins")
    p.add_argument("--coeff", type=int, help="MFCC coefficients")
    p.add_argument("--lower-frequency", type=float)
    p.add_argument("--upper-frequency", type=float)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=100)
    p.add_argument("--wav", help="a wav file or a folder (recursive): print predictions")
    args = p.parse_args(argv)
    try:
        sidecar = read_sidecar(args.model) or {}
        cfg, note = frontend_config(sidecar, {f: getattr(args, a) for a, f in FLAGS.items()})
        print(f"{note}: {cfg.to_dict()} -> input {cfg.input_shape}")
        model = Model(args.model, cfg, args.threads)
        if args.wav:
            for path, label, score in predict(model, cfg, wav_files(args.wav),
                                              sidecar.get("labels", LABELS)):
                print(f"{path} {label} {score:.3f}")
            return 0
        r = measure_latency(model, cfg, args.runs, args.threads)
    except (ModelFileError, WavError, FileNotFoundError, ValueError, json.JSONDecodeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    inf, tot = r["inference_ms"], r["total_ms"]
    print(f"Inference Latency {inf['mean']:.2f}ms")
    print(f"Total Latency {tot['mean']:.2f}ms")
    print(f"Inference p50 {inf['p50']:.2f}ms p90 {inf['p90']:.2f}ms ({r['runs']} runs)")
    print(f"Total p50 {tot['p50']:.2f}ms p90 {tot['p90']:.2f}ms ({r['runs']} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
