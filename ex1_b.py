"""Exercise 1, version b (limits in common/versions.py): see README, "What each version uses".
"""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.forecast import ForecastVersion, main


def build(mean, std):
    from common.models import residual_forecaster
    return residual_forecaster(mean, std, linear=True, hidden=(8,))


VERSION = ForecastVersion("ex1_b", "last step + Dense(12) + Dense(8)-Dense(12) of the differences",
                          build, lstsq_init=True)

if __name__ == "__main__":
    sys.exit(main(VERSION))
