"""Exercise 1, version a: CNN forecaster (limits in common/constraints.py).

Conv1D(8, k3)-Dense(16)-Dense(12)-Reshape(6, 2), trained on normalized labels (the output
scale is folded back into the last Dense), pruned to 70 %, int8 with one scale per tensor.
The seed's Conv1D(16)-Dense(24) at 90 % no longer fits 2 kB with TF 2.21; see README.
"""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.forecast import ForecastVersion, main


def build():
    from common.models import forecast_cnn
    return forecast_cnn(filters=8, units=16)


VERSIONS = {"a": ForecastVersion(
    "ex1_a", "th_a", "Conv1D(8,k3)-Dense(16)-Dense(12)-Reshape(6,2)", build,
    pruning=dict(initial_sparsity=0.3, final_sparsity=0.7, begin_epoch=5, end_epoch=15),
    normalize_labels=True, per_channel=False)}

if __name__ == "__main__":
    from ex1_b import VERSIONS as B
    sys.exit(main({**VERSIONS, **B}, "a"))
