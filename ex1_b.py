"""Exercise 1, version b: MLP forecaster, pruned and int8-quantized (limits in common/constraints.py)."""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.forecast import ForecastVersion, main


def build():
    from common.models import forecast_mlp
    return forecast_mlp(units=(16, 24))


VERSIONS = {"b": ForecastVersion("ex1_b", "th_b", "Dense(16)-Dense(24)-Dense(12)-Reshape(6,2)", build)}

if __name__ == "__main__":
    from ex1_a import VERSIONS as A
    sys.exit(main({**A, **VERSIONS}, "b"))
