"""Shared building blocks of the homework: data, models, compression, evaluation, verdict.

Importing `common` only sets environment variables, before any TensorFlow import:
TF_USE_LEGACY_KERAS=1 (tfmot needs Keras 2, i.e. tf_keras) and a quieter TF log.
It imports no TensorFlow itself, so that kws_inference.py (which uses
common.tflite_io and common.frontend_np) runs on a Raspberry Pi without TensorFlow.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
