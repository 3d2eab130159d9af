"""Exercise 2, version c: keyword spotter with a fast 8 kHz front end (limits in
common/constraints.py)."""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.frontend_np import FrontEnd
from common.kws import KWSVersion, main

MFCC_8K = FrontEnd(rate=8000, frame_length=320, frame_step=160, num_mel_bins=40,
                   lower_frequency=20, upper_frequency=4000, num_coefficients=10, mfcc=True)

VERSION = KWSVersion("ex2_c", "kws_c", MFCC_8K, filters=(96, 64, 64), extra_depthwise=1)

if __name__ == "__main__":
    from ex2_a import VERSION as A
    from ex2_b import VERSION as B
    sys.exit(main({"a": A, "b": B, "c": VERSION}, "c"))
