"""Exercise 2, version a: small keyword spotter (limits in common/constraints.py).

DS-CNN 56-56-56 with one extra DepthwiseConv2D(56)-BN-ReLU block after the first conv, on the
16 kHz MFCC front end, trained 40 epochs with random time shifts of up to 100 ms (best
validation epoch kept), int8: about 13.5 kB zipped. Chosen on the validation split (3 seeds)
over the seed's 96-64-64, 48-48-48, 64-64-64 and other widths and training options (README,
"What each version uses").
"""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.frontend_np import FrontEnd
from common.kws import KWSVersion, main

MFCC_16K = FrontEnd(rate=16000, frame_length=640, frame_step=320, num_mel_bins=40,
                    lower_frequency=20, upper_frequency=4000, num_coefficients=10, mfcc=True)
TIME_SHIFT = {"shift_ms": 100}

VERSION = KWSVersion("ex2_a", "kws_a", MFCC_16K, filters=(56, 56, 56), extra_depthwise=1,
                     epochs=40, augment=TIME_SHIFT)

if __name__ == "__main__":
    from ex2_b import VERSION as B
    from ex2_c import VERSION as C
    sys.exit(main({"a": VERSION, "b": B, "c": C}, "a"))
