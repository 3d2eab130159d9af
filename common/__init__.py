"""Shared building blocks of the homework. Importing `common` only sets environment variables,
before any TensorFlow import: TF_USE_LEGACY_KERAS=1 (tfmot needs Keras 2, i.e. tf_keras), a
quieter TF log, one BLAS thread; no TensorFlow import, so kws_inference.py runs on a Pi."""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The front end's matrix products are tiny: BLAS threads only add spin-waits to the latency
# (effective only when numpy is not loaded yet, hence here and in kws_inference.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
