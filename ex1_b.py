"""Exercise 1, version b: MLP forecaster (limits in common/constraints.py).

Dense(8)-Dense(8)-Dense(12)-Reshape(6, 2), trained on normalized labels (the output scale
is folded back into the last Dense), pruned to 50 %, int8 with one scale per tensor.
"""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.forecast import ForecastVersion, main


def build():
    from common.models import forecast_mlp
    return forecast_mlp(units=(8, 8))


VERSIONS = {"b": ForecastVersion(
    "ex1_b", "th_b", "Dense(8)-Dense(8)-Dense(12)-Reshape(6,2)", build,
    pruning=dict(initial_sparsity=0.3, final_sparsity=0.5, begin_epoch=5, end_epoch=15),
    normalize_labels=True, per_channel=False)}

if __name__ == "__main__":
    from ex1_a import VERSIONS as A
    sys.exit(main({**A, **VERSIONS}, "b"))
