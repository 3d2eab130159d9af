"""Training schedule, magnitude pruning (tfmot), int8 post-training quantization, and a
container strip that removes what the interpreter does not need."""
import math

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow.lite.tools import flatbuffer_utils


def decay_after(epoch_start=12, factor=math.exp(-0.1)):
    """Learning rate x `factor` at every epoch from `epoch_start` (0-based epoch index)."""
    return tf.keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: lr * factor if epoch >= epoch_start else lr)


def prune_and_finetune(model, train_ds, val_ds, compile_kwargs, epochs, initial_sparsity=0.3,
                       final_sparsity=0.9, begin_epoch=5, end_epoch=15, frequency=100, callbacks=(),
                       verbose="auto"):
    """Magnitude pruning with a PolynomialDecay schedule from step len(train)*begin_epoch to
    len(train)*end_epoch (masks updated every `frequency` steps), fine-tuning for `epochs`;
    returns the stripped (plain Keras) model."""
    steps = int(train_ds.cardinality())
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=initial_sparsity, final_sparsity=final_sparsity,
        begin_step=steps * begin_epoch, end_step=steps * end_epoch, frequency=frequency)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    pruned.compile(**compile_kwargs)
    pruned.fit(train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose,
               callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), *callbacks])
    return tfmot.sparsity.keras.strip_pruning(pruned)


def sparsity(model):
    """Fraction of zeros among the weights of kernels (conv, dense, depthwise)."""
    kernels = [w.numpy() for w in model.weights if "kernel" in w.name]
    total = sum(k.size for k in kernels)
    return float(sum((k == 0).sum() for k in kernels) / total) if total else 0.0


def quantize_int8(model, representative_inputs, per_channel=True):
    """Full-integer post-training quantization; float32 model input and output, batch 1.

    `representative_inputs`: float32 array [N, ...] of training inputs for calibration.
    `per_channel=False` quantizes each weight tensor with one scale (TFLite's experimental
    converter switch): for tiny models the per-channel scales are a large part of the file.
    """
    def representative():
        for x in representative_inputs:
            yield [np.asarray(x, np.float32)[None, ...]]

    # A batch of 1 (what inference on a device runs) makes every shape static: no
    # Shape/StridedSlice/Pack ops to compute the batch size before the final Reshape.
    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    call = tf.function(lambda x: model(x, training=False), autograph=False)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [call.get_concrete_function(spec)], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter._experimental_disable_per_channel = not per_channel
    return converter.convert()


def strip_container(tflite_bytes):
    """Remove what the interpreter does not need: description, subgraph and tensor names,
    signature defs (flatbuffer_utils.strip_strings), the metadata entries (runtime version,
    conversion metadata) and the buffers left unreferenced, re-indexing the rest.
    The model still loads and computes bit-identical outputs (tested)."""
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    flatbuffer_utils.strip_strings(model)
    model.metadata = None
    model.metadataBuffer = None
    used = sorted({0} | {t.buffer for sg in model.subgraphs for t in sg.tensors})
    new_index = {old: new for new, old in enumerate(used)}
    model.buffers = [model.buffers[i] for i in used]
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.buffer = new_index[tensor.buffer]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def fold_output_scale(model, mean, std, steps):
    """Fold `y * std + mean` (per feature, tiled over `steps`) into the last Dense layer, so a
    model trained on normalized labels outputs original units with no extra op."""
    dense = [layer for layer in model.layers if isinstance(layer, tf.keras.layers.Dense)][-1]
    kernel, bias = dense.get_weights()
    scale, offset = np.tile(std, steps), np.tile(mean, steps)
    dense.set_weights([kernel * scale, bias * scale + offset])
    return model


def describe(spec, model, files):
    """The JSON fields common to every version: what was built and how big its files are."""
    return {
        "version": spec.version,
        "architecture": spec.architecture,
        "params": int(model.count_params()),
        "sparsity": round(sparsity(model), 4),
        "tflite_bytes": files["tflite_bytes"],
        "zip_bytes": files["zip_bytes"],
        "zlib_bytes": files["zlib_bytes"],
    }
