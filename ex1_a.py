"""Exercise 1, version a: residual forecaster, linear + 4-unit hidden layer (limits in
common/constraints.py).

The last observed step plus a predicted change: a Dense(12) of the inputs' differences from the
last step (least-squares start) and a Dense(4, ReLU)-Dense(12) of the same differences. L1 loss
in train-std units, 20 epochs; magnitude pruning of every kernel to 50 % while fine-tuning 10
more; std and mean folded into the output layers; 16x8 quantization calibrated across the whole
training period and plausible levels (docs/exercise1.md; results: docs/results/RESULTS.md).
"""

from common.forecast import ForecastVersion
from common.pipeline import main


def build(mean, std, folded=False):
    from common.models import residual_forecaster

    return residual_forecaster(mean, std, hidden=(4,), folded=folded)


VERSION = ForecastVersion(
    "ex1_a",
    "last step + Dense(12) + Dense(4)-Dense(12) of the differences, 50 % pruned",
    build,
    lstsq_init=True,
    fold_units=True,
    pruning=dict(initial_sparsity=0.3, final_sparsity=0.5, begin=0.0, end=0.6, epochs=10),
)

if __name__ == "__main__":
    raise SystemExit(main(VERSION))
