"""Exercise 1, version a (limits in common/versions.py): see README, "What each version uses".
"""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.forecast import ForecastVersion, main


def build(mean, std):
    from common.models import residual_forecaster
    return residual_forecaster(mean, std, linear=True, conv_filters=4)


VERSION = ForecastVersion("ex1_a", "last step + Dense(12) + Conv1D(4,k3)-Dense(12) of the differences",
                          build, lstsq_init=True)

if __name__ == "__main__":
    sys.exit(main(VERSION))
