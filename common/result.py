"""What a run made and measured, as one typed object that its JSON and verdict render."""

import dataclasses
import importlib
import json
import math

from .constraints import Verdict, entry
from .tflite_io import sha256

EXERCISES = {"ex1": "common.forecast", "ex2": "common.kws"}  # each supplies its parts to the run
SIZES = ("tflite_bytes", "zip_bytes", "zlib_bytes", "tflite_sha256")


def exercise(version):
    """The module of a version's exercise (common.forecast or common.kws)."""
    return importlib.import_module(EXERCISES[entry(version).exercise])


@dataclasses.dataclass
class Result:
    """One run: its files (name -> bytes), sizes, metrics, verdict, history and `details`."""

    version: str
    name: str
    architecture: str
    params: int
    sparsity: float | None
    sizes: dict  # SIZES
    metrics: object
    history: dict
    details: dict
    verdict: Verdict | None = None
    files: dict = dataclasses.field(default_factory=dict, repr=False)

    def to_json(self):
        """The JSON's object: every figure, the verdict, and the sha256 of every file of the set."""
        own = {k: getattr(self, k) for k in ("version", "architecture", "params", "sparsity")}
        return finite(
            {
                **own,
                **self.sizes,
                "metrics": dataclasses.asdict(self.metrics),
                **{k: v for k, v in self.details.items() if k != "training"},
                "training": {**self.details.get("training", {}), "history": self.history},
                "verdict": self.verdict.to_dict(),
                "passed": self.verdict.passed,
                "limits": entry(self.version).limits,
                "files": {n: sha256(b) for n, b in sorted(self.files.items())},
            }
        )

    def json_bytes(self):
        text = json.dumps(self.to_json(), indent=2, allow_nan=False, ensure_ascii=False)
        return (text + "\n").encode()

    @classmethod
    def from_json(cls, d):
        """The Result a JSON renders (without the files' bytes)."""
        own = {f.name for f in dataclasses.fields(cls)} | {"passed", "limits", *SIZES}
        details = {k: v for k, v in d.items() if k not in own}
        details["training"] = {k: v for k, v in d["training"].items() if k != "history"}
        return cls(
            version=d["version"],
            name=entry(d["version"]).name,
            architecture=d["architecture"],
            params=d["params"],
            sparsity=d["sparsity"],
            sizes={k: d[k] for k in SIZES},
            metrics=exercise(d["version"]).Metrics(**d["metrics"]),
            history=d["training"]["history"],
            details=details,
            verdict=Verdict.from_dict(d["verdict"]),
        )


def finite(obj):
    """`obj` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [finite(v) for v in obj]
    return obj
