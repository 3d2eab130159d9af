"""Commands around the five scripts (docs/architecture.md lists them); the scripts and the
Raspberry Pi need none of this: they use `common/` only."""

import common  # noqa: F401  (sets TF_USE_LEGACY_KERAS before any TensorFlow import)
