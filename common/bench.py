"""Benchmark: the seed's recipe (baseline) beside the project's five versions, in one run on
the same data, written as a markdown table with ratios to the baseline.

    python -m common.bench --jena ../shared/data/jena_climate_2009_sample.csv \\
        --kws-data ../shared/data/mini_speech_commands \\
        --split-dir ../shared/data/mini_speech_commands_split --out BENCHMARK.md

Latency is measured on this host with LiteRT, one thread; ratios come from the same run.
kws "total" = 1 s of random 48 kHz signal -> resample -> front end -> invoke, as
kws_inference.py measures it; the baselines are also measured the course way (TensorFlow
front end, tf.signal), which is what the seed's kws_inference.py ran.
"""
import argparse
import json
import os
import sys
import time

import common  # noqa: F401

import numpy as np

from . import cli, forecast, kws, tflite_io
from .frontend_np import FrontEnd
from kws_inference import latency_stats, measure_latency

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def seed_forecasters():
    """The seed report's exercise 1 models: 16/24 widths, 90 % pruning, per-channel int8."""
    from .models import forecast_cnn, forecast_mlp
    version = forecast.ForecastVersion
    return {
        "ex1_a": version("ex1_a", "seed_th_a", "Conv1D(16,k3)-Dense(24)-Dense(12)-Reshape(6,2)",
                         lambda: forecast_cnn(16, 24)),
        "ex1_b": version("ex1_b", "seed_th_b", "Dense(16)-Dense(24)-Dense(12)-Reshape(6,2)",
                         lambda: forecast_mlp((16, 24))),
    }


def seed_spotters():
    """The seed report's DS-CNN 96-64-64, 20 epochs, int8: at 16 kHz (a, b) and 8 kHz (c)."""
    from ex2_a import MFCC_16K
    from ex2_c import MFCC_8K
    s16 = kws.KWSVersion("ex2_a", "seed_kws_16k", MFCC_16K, filters=(96, 64, 64))
    s8 = kws.KWSVersion("ex2_c", "seed_kws_8k", MFCC_8K, filters=(96, 64, 64), extra_depthwise=1)
    return {"ex2_a": s16, "ex2_b": s16, "ex2_c": s8}  # a and b share the 16 kHz baseline


def project_versions():
    import ex1_a, ex1_b, ex2_a, ex2_b, ex2_c
    return {"ex1_a": ex1_a.VERSIONS["a"], "ex1_b": ex1_b.VERSIONS["b"], "ex2_a": ex2_a.VERSION,
            "ex2_b": ex2_b.VERSION, "ex2_c": ex2_c.VERSION}


def invoke_latency(model, runs=200, warmup=10):
    """mean/p50/p90 in ms of invoke() alone, one thread, random float input."""
    interpreter = tflite_io.make_interpreter(model, num_threads=1)
    inp = interpreter.get_input_details()[0]
    x = np.random.default_rng(0).normal(size=inp["shape"]).astype(np.float32)
    times = []
    for i in range(warmup + runs):
        interpreter.set_tensor(inp["index"], x)
        t0 = time.perf_counter()
        interpreter.invoke()
        if i >= warmup:
            times.append(1e3 * (time.perf_counter() - t0))
    return latency_stats(times)


def course_total_latency(model, cfg, runs=100):
    """Total latency the course way: kws_inference.measure_latency with the TensorFlow front
    end (eager tf.signal) in place of the numpy one. mean/p50/p90 in ms."""
    import tensorflow as tf
    from .speech import tf_frontend
    tf_features = lambda x: tf_frontend(tf.constant(x), cfg).numpy()  # noqa: E731
    return measure_latency(model, cfg, runs, frontend=tf_features)["total_ms"]


def build_row(spec, args, role):
    """Run one pipeline once per seed; the first seed's model gives sizes (and latency, see
    measure_latencies), the quality is the mean over seeds (with min and max)."""
    runs = []
    for seed in args.seeds:
        out_dir = os.path.join(args.work_dir, f"seed{seed}")
        cli.set_seed(seed)
        if spec.version.startswith("ex1"):
            forecast.run(spec, args.jena, out_dir, args.epochs_ex1, seed, verbose=0)
        else:
            kws.run(spec, args.kws_data, args.split_dir, out_dir, args.epochs_ex2, seed,
                    verbose=0, latency_runs=args.runs)
        with open(os.path.join(out_dir, f"{spec.name}.json")) as f:
            runs.append(json.load(f))
    row = dict(runs[0], role=role)
    row["metrics"] = {k: [r["metrics"][k] for r in runs] for k in runs[0]["metrics"]}
    row["zip_bytes_max"] = max(r["zip_bytes"] for r in runs)
    row["model_path"] = os.path.join(args.work_dir, f"seed{args.seeds[0]}", f"{spec.name}.tflite")
    return row


def measure_latencies(rows, runs, rounds=3):
    """Latency of every row's model, after all training, in `rounds` interleaved rounds (each
    model once a round) so that baseline and project rows see the same machine state; each
    figure is the median over the rounds of the p50 (p90)."""
    samples = {id(row): [] for row in rows}
    for _ in range(rounds):
        for row in rows:
            sample = {"invoke_ms": invoke_latency(row["model_path"], runs)}
            if "frontend" in row:
                cfg = FrontEnd.from_dict(row["frontend"])
                sample["total_ms"] = measure_latency(row["model_path"], cfg, runs)["total_ms"]
                sample["course_total_ms"] = course_total_latency(row["model_path"], cfg, runs)
            samples[id(row)].append(sample)
    for row in rows:
        for key in samples[id(row)][0]:
            row[key] = {q: float(np.median([s[key][q] for s in samples[id(row)]]))
                        for q in ("p50", "p90")}


def ratio(value, base):
    return f"{value / base:.2f}" if base else "-"


def spread(values, scale=1.0, digits=3):
    """'mean (min-max)' of a list, or the value alone for one seed."""
    v = np.asarray(values) * scale
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ({v.min():.{digits}f}-{v.max():.{digits}f})"


def quality(row, base):
    m, b = row["metrics"], base["metrics"]
    if "mae_t" in m:
        text = f"MAE T {spread(m['mae_t'])}, RH {spread(m['mae_rh'])}"
        if row is not base:
            text += (f"; diff {np.mean(m['mae_t']) - np.mean(b['mae_t']):+.3f} / "
                     f"{np.mean(m['mae_rh']) - np.mean(b['mae_rh']):+.3f}")
        return text
    text = f"test {spread(m['accuracy'], 100, 2)} %, val {spread(m['val_accuracy'], 100, 2)} %"
    if row is not base:
        text += f"; diff {100 * (np.mean(m['accuracy']) - np.mean(b['accuracy'])):+.2f} pt"
    return text


def table(rows_by_version):
    """Markdown: one block of rows per version, baseline first, ratios to the baseline."""
    lines = ["| version | model | arch | params | sparsity | .tflite B | .tflite.zip B, max over "
             "seeds (ratio) | quality: mean (min-max) over seeds | invoke p50 / p90 ms (ratio) "
             "| total p50 / p90 ms, numpy front end (ratio to TF-FE baseline) | total p50 ms, "
             "TF front end |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for version, (base, ours) in rows_by_version.items():
        for row in (base, ours):
            inv = row["invoke_ms"]
            total = row.get("total_ms")
            tot = "-" if total is None else f"{total['p50']:.3f} / {total['p90']:.3f}"
            if total is not None and row is ours:
                tot += f" ({ratio(total['p50'], base['course_total_ms']['p50'])})"
            course = row.get("course_total_ms")
            course = "-" if course is None else f"{course['p50']:.3f}"
            lines.append(
                f"| {version} | {row['role']} | {row['architecture']} | {row['params']:,} "
                f"| {row['sparsity']:.2f} | {row['tflite_bytes']:,} "
                f"| {row['zip_bytes_max']:,} ({ratio(row['zip_bytes_max'], base['zip_bytes_max'])}) "
                f"| {quality(row, base)} "
                f"| {inv['p50']:.4f} / {inv['p90']:.4f} ({ratio(inv['p50'], base['invoke_ms']['p50'])}) "
                f"| {tot} | {course} |")
    return "\n".join(lines)


def shown(path):
    """A path as the README would write it: relative to the repository root."""
    return os.path.relpath(os.path.abspath(path), ROOT)


def main(argv=None):
    p = argparse.ArgumentParser(description="seed recipe vs project versions, side by side")
    p.add_argument("--jena", default=os.path.join(ROOT, "..", "shared", "data",
                                                  "jena_climate_2009_sample.csv"))
    p.add_argument("--kws-data", default=os.path.join(ROOT, "..", "shared", "data",
                                                      "mini_speech_commands"))
    p.add_argument("--split-dir", default=os.path.join(ROOT, "..", "shared", "data",
                                                       "mini_speech_commands_split"))
    p.add_argument("--versions", default="ex1_a,ex1_b,ex2_a,ex2_b,ex2_c")
    p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARK.md"))
    p.add_argument("--work-dir", default=os.path.join(ROOT, "bench_out"))
    p.add_argument("--epochs-ex1", type=int, default=None, help="override (tiny runs)")
    p.add_argument("--epochs-ex2", type=int, default=None, help="override (tiny runs)")
    p.add_argument("--runs", type=int, default=200, help="latency runs per model")
    p.add_argument("--seeds", default="0,1,2", help="seeds to train each model with")
    args = p.parse_args(argv)
    args.seeds = [int(x) for x in args.seeds.split(",")]

    started = time.perf_counter()
    baselines, ours = seed_spotters() | seed_forecasters(), project_versions()
    rows, built = {}, {}  # built: one run per model, e.g. the 16 kHz baseline of ex2 a and b

    def row_of(spec, role):
        if spec.name not in built:
            built[spec.name] = build_row(spec, args, role)
        return built[spec.name]

    for version in args.versions.split(","):
        rows[version] = (row_of(baselines[version], "seed recipe"),
                         row_of(ours[version], "this project"))
    measure_latencies(list(built.values()), args.runs)
    minutes = (time.perf_counter() - started) / 60
    text = "\n".join([
        "# Benchmark: the seed's recipe vs this project",
        "",
        f"Command: `python -m common.bench {' '.join(argv if argv is not None else sys.argv[1:])}`  ",
        f"Data: Jena `{shown(args.jena)}`; keyword spotting `{shown(args.kws_data)}` with the "
        f"splits of `{shown(args.split_dir)}`. Seeds {args.seeds}. Host: {os.cpu_count()} cores, LiteRT "
        f"1 thread, {args.runs} runs per latency. Ran in {minutes:.1f} min.",
        "",
        "Ratios are to the seed-recipe row of the same version, from this same run. Quality is "
        "measured with the written `.tflite` on the test split (and, for ex2, the validation "
        "split, on which the versions were selected), averaged over the seeds; sizes are the "
        "largest over the seeds; latency is of the first seed's model, measured after all training in 3 interleaved rounds "
        "(median of the rounds' p50 and p90).",
        "",
        table(rows),
        "",
    ])
    tflite_io.write_atomic(args.out, text.encode())
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
