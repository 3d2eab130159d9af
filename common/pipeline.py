"""One run of a version, the same for both exercises: flags -> checks -> data -> fit and
compress -> evaluate -> verdict -> write.

A script declares its version (a `KWSVersion` or a `ForecastVersion`) and calls `main(VERSION)`.
The version's exercise (common.kws or common.forecast, result.exercise) supplies the parts:

- `add_flags(parser)`: its options (the data, ...);
- `load(spec, args)`: its data, every input checked before TensorFlow is imported;
- `fit(spec, data, epochs, seed, verbose)`: the trained and compressed model (`Trained`, with
  its `.tflite` bytes); the test split is not touched;
- `evaluate(spec, data, trained, args)`: (the Result without its verdict, the limits that this
  run cannot assess, with the reason);
- `also(result)`, `figures(result)`: what the verdict table and a results page show beside the
  limits.

The benchmark and the search call `load` and `build` and get the Result; nothing reads back a
file its own process wrote.
"""

from . import cli, outputs, runtime
from .constraints import Verdict
from .result import exercise


def build(spec, data, args, seed=0, epochs=None, verbose=0):
    """Fit, compress and evaluate `spec` on loaded `data`: the Result, with its verdict."""
    ex = exercise(spec.version)
    runtime.set_seed(seed)
    trained = ex.fit(spec, data, *spec.epochs_for(epochs), seed, verbose)
    result, unassessable = ex.evaluate(spec, data, trained, args)
    measured = {**vars(result.metrics), "zip_bytes": result.sizes["zip_bytes"]}
    result.verdict = Verdict.of(spec.entry, measured, unassessable)
    return result


def parse_args(spec, argv):
    e = spec.entry
    what = "Exercise 1, forecasting" if e.exercise == "ex1" else "Exercise 2, keyword spotting"
    p = cli.parser(e, f"{what}: version {e.letter}")
    exercise(spec.version).add_flags(p)
    return cli.parse(p, e, argv)


def run(spec, argv=None):
    """The whole run of one script: its output set written and its verdict shown."""
    args = parse_args(spec, argv)
    out_dir = outputs.check_out_dir(args.out_dir)
    data = exercise(spec.version).load(spec, args)
    runtime.tensorflow(args.verbose)
    with runtime.quiet_native_stderr(args.verbose):
        result = build(spec, data, args, args.seed, args.epochs, 0 if args.quiet else "auto")
    written = outputs.write_set(
        out_dir, {**result.files, f"{result.name}.json": result.json_bytes()}
    )
    print(result.verdict_text())
    print("wrote " + ", ".join(written))
    return result


def main(spec, argv=None):
    """Entry point of a script: the exit status of the verdict (0 or 2), 1 for an error."""
    return cli.exit_status(lambda a: run(spec, a).verdict.exit_status, argv)
