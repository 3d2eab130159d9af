"""Exercise 2, version c: keyword spotter with a fast 8 kHz front end (limits in
common/constraints.py).

Audio resampled to 8 kHz as in the course report, the course's MFCC with 320/160 frames,
DS-CNN 112-112-112 with one more DepthwiseConv2D(112)-BN-ReLU block (the report's 96-64-64,
widened where the lead held as the training set grew: learning curves, docs/exercise2.md);
40 epochs with random time shifts of up to 100 ms (best validation epoch kept, BatchNorm
statistics re-estimated on the training split), 5 quantization-aware epochs, int8. The numpy front end that kws_inference.py
runs cuts the total latency (docs/exercise2.md; results: docs/results/RESULTS.md, BENCHMARK.md).
"""

from common.frontend_np import MFCC_8K
from common.kws import TIME_SHIFT, KWSVersion
from common.pipeline import main

VERSION = KWSVersion(
    "ex2_c", MFCC_8K, filters=(112, 112, 112), extra_depthwise=1, epochs=40, augment=TIME_SHIFT
)

if __name__ == "__main__":
    raise SystemExit(main(VERSION))
