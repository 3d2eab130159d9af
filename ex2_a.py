"""Exercise 2, version a: small keyword spotter (limits in common/constraints.py)."""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.frontend_np import FrontEnd
from common.kws import KWSVersion, main

MFCC_16K = FrontEnd(rate=16000, frame_length=640, frame_step=320, num_mel_bins=40,
                    lower_frequency=20, upper_frequency=4000, num_coefficients=10, mfcc=True)

VERSION = KWSVersion("ex2_a", "kws_a", MFCC_16K, filters=(96, 64, 64))

if __name__ == "__main__":
    from ex2_b import VERSION as B
    from ex2_c import VERSION as C
    sys.exit(main({"a": VERSION, "b": B, "c": C}, "a"))
