"""One run of a version, the same for both exercises: flags -> checks -> data -> fit and
compress -> evaluate -> verdict -> write. A script declares its `Version` and calls
`main(VERSION)`; its exercise's module (common.kws, common.forecast) supplies the parts:
`add_flags`, `load`, `fit` (a Trained), `evaluate` (metrics, details, picture, the limits this
run cannot assess), `also` and `figures`."""

import dataclasses
import os

from . import cli, constraints, outputs, runtime
from .result import Result, exercise


@dataclasses.dataclass
class Version:
    """What a script declares: its row of the version table, and its own fields (subclasses)."""

    version: str  # key of the version table, e.g. "ex2_a"
    stem: str | None = dataclasses.field(default=None, kw_only=True)  # None: the table's name
    entry: constraints.Entry = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self.entry = constraints.entry(self.version)

    @property
    def name(self):
        """The output file stem (th_a -> th_a.tflite, th_a.json...)."""
        return self.stem or self.entry.name


def build(spec, data, args, seed=0, epochs=None, verbose=0):
    """Fit, compress and evaluate `spec` on loaded `data`: the Result, with its verdict."""
    from . import compress, tflite_io

    ex = exercise(spec.version)
    runtime.set_seed(seed)
    t = ex.fit(spec, data, *spec.epochs_for(epochs), seed, verbose)
    runtime.PHASE.info("evaluation of the .tflite on the test and validation splits")
    metrics, details, picture, unassessable = ex.evaluate(spec, data, t, args)
    files, sizes = tflite_io.model_files(spec.name, t.tflite)
    measured = {**vars(metrics), "zip_bytes": sizes["zip_bytes"]}
    return Result(
        spec.version,
        spec.name,
        spec.architecture,
        int(t.float_model.count_params()),
        round(compress.sparsity(t.float_model), 4) if t.pruned else None,  # None: zeros structural
        sizes=sizes,
        metrics=metrics,
        history=t.history,
        details=details,
        verdict=constraints.Verdict.of(spec.entry, measured, unassessable),
        files={**files, f"{spec.name}.png": picture},
    )


def run(spec, argv=None):
    """The whole run of one script: its output set written and its verdict shown."""
    e, ex = spec.entry, exercise(spec.version)
    what = "Exercise 1, forecasting" if e.exercise == "ex1" else "Exercise 2, keyword spotting"
    p = cli.parser(e, f"{what}: version {e.letter}")
    ex.add_flags(p)
    args = cli.parse(p, e, argv)
    out_dir = outputs.check_out_dir(args.out_dir)
    data = ex.load(spec, args)
    runtime.show_phases()
    runtime.tensorflow(args.verbose)
    with runtime.quiet_native_stderr(args.verbose):
        result = build(spec, data, args, args.seed, args.epochs, 0 if args.quiet else "auto")
    files = {**result.files, f"{result.name}.json": result.json_bytes()}
    written = outputs.write_set(out_dir, files)
    print(result.verdict.table(result.version, ex.also(result)))
    print(f"wrote {', '.join(os.path.basename(w) for w in written)} in {out_dir}")
    return result


def main(spec, argv=None):
    """Entry point of a script: the exit status of the verdict (0 or 2), 1 for an error."""
    return cli.exit_status(lambda a: run(spec, a).verdict.exit_status, argv)
