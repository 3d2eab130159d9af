"""Exercise 2, version b: fast keyword spotter (limits in common/constraints.py)."""
import sys

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from common.kws import KWSVersion, main
from ex2_a import MFCC_16K

VERSION = KWSVersion("ex2_b", "kws_b", MFCC_16K, filters=(96, 64, 64))

if __name__ == "__main__":
    from ex2_a import VERSION as A
    from ex2_c import VERSION as C
    sys.exit(main({"a": A, "b": VERSION, "c": C}, "b"))
