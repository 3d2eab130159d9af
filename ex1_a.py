"""Exercise 1, version a: CNN forecaster, pruned and int8-quantized (limits in common/constraints.py)."""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.forecast import ForecastVersion, main


def build():
    from common.models import forecast_cnn
    return forecast_cnn(filters=16, units=24)


VERSIONS = {"a": ForecastVersion("ex1_a", "th_a", "Conv1D(16,k3)-Dense(24)-Dense(12)-Reshape(6,2)", build)}

if __name__ == "__main__":
    from ex1_b import VERSIONS as B
    sys.exit(main({**VERSIONS, **B}, "a"))
