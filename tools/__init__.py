"""Commands around the five scripts: run them all, re-evaluate a model, the benchmark, the
exercise 1 seasons study, the constraint search and its speaker-grouped folds, the synthetic
full-size data, the microcontroller check and its C export, the emulated ARM check.

The scripts and the Raspberry Pi need none of this: they use `common/` only.
"""

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any TensorFlow import)
