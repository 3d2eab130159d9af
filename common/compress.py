"""Learning-rate decay, pruning and quantization-aware fine-tuning (tfmot), BatchNormalization
statistics, post-training quantization, the container strip. Libraries' APIs only, but one:
per-tensor weight quantization (`per_channel=False`, exercise 1) has no public converter switch
in TensorFlow 2.21, so `quantize` sets the converter's `_experimental_disable_per_channel`."""

import math

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from ai_edge_litert.schema_py_generated import BuiltinOperator
from tensorflow.lite.tools import flatbuffer_utils


def decay_after(epoch_start):
    """Learning rate x exp(-0.1) at every epoch from `epoch_start` (0-based epoch index)."""
    return tf.keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: lr * math.exp(-0.1) if epoch >= epoch_start else lr
    )


def pruning_schedule(
    steps_per_epoch, epochs, initial_sparsity=0.3, final_sparsity=0.9, begin=0.25, end=0.75
):
    """tfmot PolynomialDecay over the fraction [begin, end] of `epochs`, the mask updated every 100
    steps (at least 10 updates), last on the end step: the final sparsity is always reached."""
    first, last = round(steps_per_epoch * epochs * begin), round(steps_per_epoch * epochs * end)
    frequency = max(1, min(100, (last - first) // 10))
    last = first + (last - first) // frequency * frequency
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=initial_sparsity,
        final_sparsity=final_sparsity,
        begin_step=first,
        end_step=last,
        frequency=frequency,
    )


def fit(model, compile_args, train_ds, val_ds, epochs, callbacks, verbose):
    """Compile and fit `model`; its history {metric: [per epoch]}."""
    model.compile(**compile_args)
    fit = model.fit(
        train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose, callbacks=callbacks
    )
    return {k: list(v) for k, v in fit.history.items()}


def prune_and_finetune(
    model, train_ds, val_ds, compile_args, epochs, callbacks=(), verbose="auto", **schedule
):
    """Fine-tune `epochs` epochs under magnitude pruning (`schedule`: pruning_schedule's
    arguments); returns the stripped (plain Keras) model and the history."""
    schedule = pruning_schedule(int(train_ds.cardinality()), epochs, **schedule)
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep(), *callbacks]
    history = fit(pruned, compile_args, train_ds, val_ds, epochs, callbacks, verbose)
    return tfmot.sparsity.keras.strip_pruning(pruned), history


def quantization_aware(model, train_ds, val_ds, compile_args, epochs, callbacks=(), verbose="auto"):
    """Quantization-aware fine-tuning (tfmot's 8-bit scheme, BatchNormalization frozen) of a
    copy of a trained model; returns that model (for `quantize`) and the history."""
    base = tf.keras.models.clone_model(model)
    base.set_weights(model.get_weights())
    for layer in base.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.trainable = False
    aware = tfmot.quantization.keras.quantize_model(base)
    history = fit(aware, compile_args, train_ds, val_ds, epochs, list(callbacks), verbose)
    return aware, history


def reestimate_batchnorm(model, inputs, batch_size=256):
    """Set each BatchNormalization layer's moving statistics, in graph order, to those of its
    input over all of `inputs`: what inference sees, not a running average of batches."""
    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.BatchNormalization):
            continue
        feed = tf.keras.Model(model.inputs, layer.input)
        total = total_sq = count = 0
        for start in range(0, len(inputs), batch_size):
            x = feed(inputs[start : start + batch_size], training=False).numpy().astype(np.float64)
            x = x.reshape(-1, x.shape[-1])
            total += x.sum(axis=0)
            total_sq += (x * x).sum(axis=0)
            count += len(x)
        mean = total / count
        variance = np.maximum(total_sq / count - mean * mean, 0.0)
        layer.moving_mean.assign(mean.astype(np.float32))
        layer.moving_variance.assign(variance.astype(np.float32))
    return model


def sparsity(model):
    """Fraction of zeros among the weights of kernels (conv, dense, depthwise)."""
    kernels = [w.numpy() for w in model.weights if "kernel" in w.name]
    total = sum(k.size for k in kernels)
    return float(sum((k == 0).sum() for k in kernels) / total) if total else 0.0


MODES = {  # quantize's modes: the converter's op set of each
    "int8": tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
    "16x8": tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
}


def quantize(model, representative_inputs, mode="int8", per_channel=True):
    """Full-integer quantization (float32 input and output, batch 1) calibrated on float32
    `representative_inputs`; `mode` int8 or 16x8 (int16 activations: °C and % share a scale).
    `per_channel=False`: one scale per weight tensor (the scales weigh on tiny models)."""
    if mode not in MODES:
        raise ValueError(f"quantization mode {mode!r}; expected 'int8' or '16x8'")
    representative = lambda: ([np.asarray(x, np.float32)[None]] for x in representative_inputs)
    # A batch of 1 (what a device runs) makes every shape static: no ops compute the batch size.
    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    call = tf.function(lambda x: model(x, training=False), autograph=False)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [call.get_concrete_function(spec)], model
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter._experimental_disable_per_channel = not per_channel  # the module docstring's switch
    converter.target_spec.supported_ops = [MODES[mode]]
    return converter.convert()


def strip_container(tflite_bytes):
    """Remove what the interpreter does not need: names, signature defs, metadata, Reshapes
    that only flatten a FullyConnected input, unused tensors, buffers and operator codes."""
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    flatbuffer_utils.strip_strings(model)
    model.metadata = None
    model.metadataBuffer = None
    for subgraph in model.subgraphs:
        _drop_flattening_reshapes(model, subgraph)
        _drop_unused_tensors(subgraph)
    used = {0} | {t.buffer for sg in model.subgraphs for t in sg.tensors}
    model.buffers, new = _keep(model.buffers, used)
    for tensor in (t for sg in model.subgraphs for t in sg.tensors):
        tensor.buffer = new[tensor.buffer]
    used = {op.opcodeIndex for sg in model.subgraphs for op in sg.operators}
    model.operatorCodes, new = _keep(model.operatorCodes, used)
    for op in (op for sg in model.subgraphs for op in sg.operators):
        op.opcodeIndex = new[op.opcodeIndex]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _keep(items, used):
    """(the items at the indices `used`, in order; {old index: new index})."""
    used = sorted(used)
    return [items[i] for i in used], {old: i for i, old in enumerate(used)}


def _opcode(model, op):
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _same_quantization(a, b):
    qa, qb = a.quantization, b.quantization
    if qa is None or qb is None or qa.scale is None or qb.scale is None:
        return qa is None and qb is None
    return np.array_equal(qa.scale, qb.scale) and np.array_equal(qa.zeroPoint, qb.zeroPoint)


def _drop_flattening_reshapes(model, subgraph):
    for op in list(subgraph.operators):
        if _opcode(model, op) != BuiltinOperator.RESHAPE or op.outputs[0] in subgraph.outputs:
            continue
        source, flat = op.inputs[0], op.outputs[0]
        users = [u for u in subgraph.operators if u is not op and flat in u.inputs]
        flattened_by_users = all(
            _opcode(model, u) == BuiltinOperator.FULLY_CONNECTED
            and list(u.inputs).index(flat) == 0
            and not u.builtinOptions.keepNumDims
            for u in users
        )
        same = _same_quantization(subgraph.tensors[source], subgraph.tensors[flat])
        if users and flattened_by_users and same:
            for u in users:
                u.inputs[0] = source
            subgraph.operators.remove(op)


def _drop_unused_tensors(subgraph):
    used = {i for op in subgraph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
    used |= set(subgraph.inputs) | set(subgraph.outputs)
    subgraph.tensors, new = _keep(subgraph.tensors, used)
    remap = lambda ids: np.array([new[i] if i >= 0 else i for i in ids], np.int32)
    for op in subgraph.operators:
        op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
    subgraph.inputs, subgraph.outputs = remap(subgraph.inputs), remap(subgraph.outputs)
