"""Exercise 2, version c: keyword spotter with a fast 8 kHz front end (limits in
common/constraints.py).

The course report's model: audio resampled to 8 kHz (scipy resample_poly), the course's MFCC
with 320/160 frames, DS-CNN 96-64-64 with one more DepthwiseConv2D(96)-BN-ReLU block; trained
40 epochs with random time shifts of up to 100 ms (best validation epoch kept, BatchNorm
statistics re-estimated on the training split), 5 quantization-aware epochs, int8. The total
latency is cut by the numpy front end (common/frontend_np.py) that kws_inference.py runs
(docs/exercise2.md; figures: docs/results/RESULTS.md, docs/results/BENCHMARK.md).
"""

import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.frontend_np import MFCC_8K
from common.kws import TIME_SHIFT, KWSVersion
from common.pipeline import main

VERSION = KWSVersion(
    "ex2_c", MFCC_8K, filters=(96, 64, 64), extra_depthwise=1, epochs=40, augment=TIME_SHIFT
)

if __name__ == "__main__":
    sys.exit(main(VERSION))
