"""Exercise 2, version c: keyword spotter with a fast 8 kHz front end (limits in
common/constraints.py).

The seed's model: audio resampled to 8 kHz (scipy resample_poly), MFCC with 320/160 frames,
DS-CNN 96-64-64 with one more DepthwiseConv2D(96)-BN-ReLU block; trained 40 epochs with
random time shifts of up to 100 ms (best validation epoch kept), int8. The total latency is
cut by the numpy front end of kws_inference.py (README, "Beyond the seed").
"""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.frontend_np import FrontEnd
from common.kws import KWSVersion, main
from ex2_a import TIME_SHIFT

MFCC_8K = FrontEnd(rate=8000, frame_length=320, frame_step=160, num_mel_bins=40,
                   lower_frequency=20, upper_frequency=4000, num_coefficients=10, mfcc=True)

VERSION = KWSVersion("ex2_c", "kws_c", MFCC_8K, filters=(96, 64, 64), extra_depthwise=1,
                     epochs=40, augment=TIME_SHIFT)

if __name__ == "__main__":
    from ex2_a import VERSION as A
    from ex2_b import VERSION as B
    sys.exit(main({"a": A, "b": B, "c": VERSION}, "c"))
