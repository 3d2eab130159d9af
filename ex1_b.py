"""Exercise 1, version b: linear residual forecaster (limits in common/constraints.py).

The last observed step plus a change that is one Dense(12) of the inputs' differences from the
last step: a least-squares start, then 20 epochs of L1 loss in train-std units; 16x8
quantization calibrated across the whole training period and plausible levels
(docs/exercise1.md; results: docs/results/RESULTS.md).
"""

from common.forecast import ForecastVersion
from common.pipeline import main


def build(mean, std, folded=False):
    from common.models import residual_forecaster

    return residual_forecaster(mean, std, folded=folded)


VERSION = ForecastVersion(
    "ex1_b", "last step + Dense(12) of the differences", build, lstsq_init=True
)

if __name__ == "__main__":
    raise SystemExit(main(VERSION))
