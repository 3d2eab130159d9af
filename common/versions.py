"""The five versions of the homework in one table: script, output name and limits.

The scripts, the drivers (run_all, bench) and the verdict all read this table; nothing else
lists the versions. Sizes are of the `.tflite.zip` file, kB = 1024 B. Quality limits are in
°C / % (mae_t, mae_rh) or a fraction (accuracy); pi_* limits are milliseconds on a Raspberry Pi.
"""
import dataclasses

KB = 1024


@dataclasses.dataclass(frozen=True)
class Entry:
    version: str   # "ex1_a"
    name: str      # output file stem: th_a -> th_a.tflite, th_a.tflite.zip, th_a.json, th_a.png
    limits: dict   # metric -> limit

    @property
    def script(self):
        return f"{self.version}.py"

    @property
    def letter(self):
        return self.version.rsplit("_", 1)[1]

    @property
    def exercise(self):
        return self.version.rsplit("_", 1)[0]


TABLE = (
    Entry("ex1_a", "th_a", {"mae_t": 0.5, "mae_rh": 1.8, "zip_bytes": 2 * KB}),
    Entry("ex1_b", "th_b", {"mae_t": 0.6, "mae_rh": 1.9, "zip_bytes": 1.7 * KB}),
    Entry("ex2_a", "kws_a", {"accuracy": 0.90, "zip_bytes": 25 * KB}),
    Entry("ex2_b", "kws_b", {"accuracy": 0.90, "zip_bytes": 35 * KB, "pi_inference_ms": 1.5}),
    Entry("ex2_c", "kws_c", {"accuracy": 0.90, "zip_bytes": 45 * KB, "pi_total_ms": 40.0}),
)
VERSIONS = {e.version: e for e in TABLE}


def entry(version):
    if version not in VERSIONS:
        raise KeyError(f"unknown version {version!r}; expected one of {sorted(VERSIONS)}")
    return VERSIONS[version]


def of_exercise(exercise):
    """The entries of 'ex1' or 'ex2', in table order."""
    return [e for e in TABLE if e.exercise == exercise]
