"""Training schedule, magnitude pruning (tfmot), quantization-aware fine-tuning (tfmot),
BatchNormalization statistics, int8 post-training quantization, and a container strip that
removes what the interpreter does not need.

Libraries' APIs only, with one exception: per-tensor weight quantization (`per_channel=False`,
exercise 1) has no public converter switch in TensorFlow 2.21, so `quantize` sets the
converter's `_experimental_disable_per_channel`. Flatbuffer editing uses TensorFlow's
`tensorflow.lite.tools.flatbuffer_utils` and LiteRT's generated schema (operator codes).
"""

import math

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from ai_edge_litert.schema_py_generated import BuiltinOperator
from tensorflow.lite.tools import flatbuffer_utils


def decay_after(epoch_start=12, factor=None):
    """Learning rate x `factor` at every epoch from `epoch_start` (0-based epoch index)."""
    factor = math.exp(-0.1) if factor is None else factor
    return tf.keras.callbacks.LearningRateScheduler(
        lambda epoch, lr: lr * factor if epoch >= epoch_start else lr
    )


def pruning_schedule(
    steps_per_epoch, epochs, initial_sparsity, final_sparsity, begin=0.25, end=0.75, frequency=100
):
    """tfmot PolynomialDecay over the fraction [begin, end] of `epochs` fine-tuning epochs
    (the original report's recipe, epochs 5 to 15 of 20, is 0.25-0.75). The mask is updated every
    `frequency` steps (fewer for short runs, at least 10 updates) and the last update falls
    on the end step, so the final sparsity is reached however short the run."""
    first, last = round(steps_per_epoch * epochs * begin), round(steps_per_epoch * epochs * end)
    frequency = max(1, min(frequency, (last - first) // 10))
    last = first + (last - first) // frequency * frequency
    return tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=initial_sparsity,
        final_sparsity=final_sparsity,
        begin_step=first,
        end_step=last,
        frequency=frequency,
    )


def prune_and_finetune(
    model,
    train_ds,
    val_ds,
    compile_args,
    epochs,
    initial_sparsity=0.3,
    final_sparsity=0.9,
    begin=0.25,
    end=0.75,
    callbacks=(),
    verbose="auto",
):
    """Magnitude pruning (pruning_schedule) while fine-tuning `epochs` epochs; returns the
    stripped (plain Keras) model and the fine-tuning history {metric: [per epoch]}."""
    schedule = pruning_schedule(
        int(train_ds.cardinality()), epochs, initial_sparsity, final_sparsity, begin, end
    )
    pruned = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    pruned.compile(**compile_args)
    fit = pruned.fit(
        train_ds,
        validation_data=val_ds,
        epochs=epochs,
        verbose=verbose,
        callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), *callbacks],
    )
    return tfmot.sparsity.keras.strip_pruning(pruned), {k: list(v) for k, v in fit.history.items()}


def quantization_aware(model, train_ds, val_ds, compile_args, epochs, callbacks=(), verbose="auto"):
    """Quantization-aware fine-tuning of a trained model for `epochs` epochs: tfmot's default
    8-bit scheme, BatchNormalization frozen (its moving statistics, not each batch's). The model learns the int8 rounding of its input and
    activations that post-training quantization imposes afterwards. Returns the
    quantization-aware Keras model (convert it with `quantize`) and the history."""
    base = tf.keras.models.clone_model(model)
    base.set_weights(model.get_weights())
    for layer in base.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            layer.trainable = False
    aware = tfmot.quantization.keras.quantize_model(base)
    aware.compile(**compile_args)
    fit = aware.fit(
        train_ds, validation_data=val_ds, epochs=epochs, verbose=verbose, callbacks=list(callbacks)
    )
    return aware, {k: list(v) for k, v in fit.history.items()}


def reestimate_batchnorm(model, inputs, batch_size=256):
    """Set every BatchNormalization layer's moving mean and variance to the statistics of its
    input over all of `inputs` (e.g. the whole training split's features, no augmentation),
    layer after layer in graph order, each with the layers before it already re-estimated:
    the statistics inference will see, instead of a running average of training batches."""
    for layer in model.layers:
        if not isinstance(layer, tf.keras.layers.BatchNormalization):
            continue
        feed = tf.keras.Model(model.inputs, layer.input)
        total = total_sq = 0.0
        count = 0
        for start in range(0, len(inputs), batch_size):
            x = feed(inputs[start : start + batch_size], training=False).numpy().astype(np.float64)
            x = x.reshape(-1, x.shape[-1])
            total, total_sq, count = (
                total + x.sum(axis=0),
                total_sq + (x * x).sum(axis=0),
                count + len(x),
            )
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


def quantize(model, representative_inputs, mode="int8", per_channel=True):
    """Full-integer post-training quantization; float32 model input and output, batch 1.

    `representative_inputs`: float32 array [N, ...] of training inputs for calibration.
    mode "int8": int8 weights and activations (int32 biases); "16x8": int8 weights, int16
    activations (TFLite's 16x8 mode, int64 biases): 256 x finer activation steps, for models
    whose outputs in °C and % share one scale.
    `per_channel=False` quantizes each weight tensor with one scale (TFLite's experimental
    converter switch): for tiny models the per-channel scales are a large part of the file.
    """
    if mode not in ("int8", "16x8"):
        raise ValueError(f"quantization mode {mode!r}; expected 'int8' or '16x8'")

    def representative():
        for x in representative_inputs:
            yield [np.asarray(x, np.float32)[None, ...]]

    # A batch of 1 (what inference on a device runs) makes every shape static: no
    # Shape/StridedSlice/Pack ops to compute the batch size before the final Reshape.
    spec = tf.TensorSpec([1, *model.input_shape[1:]], tf.float32)
    call = tf.function(lambda x: model(x, training=False), autograph=False)
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [call.get_concrete_function(spec)], model
    )
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter._experimental_disable_per_channel = (
        not per_channel
    )  # no public switch (module docstring)
    if mode == "int8":
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    else:
        converter.target_spec.supported_ops = [
            tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8
        ]
    return converter.convert()


def strip_container(tflite_bytes):
    """Remove what the interpreter does not need: description, subgraph and tensor names,
    signature defs (flatbuffer_utils.strip_strings), the metadata entries (runtime version,
    conversion metadata), Reshape ops that only flatten a FullyConnected input (the op
    flattens its input itself), and the tensors, buffers and operator codes left unused.
    The model still loads and computes bit-identical outputs (tested)."""
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(tflite_bytes))
    flatbuffer_utils.strip_strings(model)
    model.metadata = None
    model.metadataBuffer = None
    for subgraph in model.subgraphs:
        _drop_flattening_reshapes(model, subgraph)
        _drop_unused_tensors(subgraph)
    _drop_unused_buffers(model)
    _drop_unused_opcodes(model)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def _opcode(model, op):
    code = model.operatorCodes[op.opcodeIndex]
    return max(code.builtinCode, code.deprecatedBuiltinCode)


def _same_quantization(a, b):
    qa, qb = a.quantization, b.quantization
    if qa is None or qb is None or qa.scale is None or qb.scale is None:
        return qa is None and qb is None
    return np.array_equal(qa.scale, qb.scale) and np.array_equal(qa.zeroPoint, qb.zeroPoint)


def _drop_flattening_reshapes(model, subgraph):
    ops = BuiltinOperator
    for op in list(subgraph.operators):
        if _opcode(model, op) != ops.RESHAPE or op.outputs[0] in subgraph.outputs:
            continue
        source, flat = op.inputs[0], op.outputs[0]
        users = [u for u in subgraph.operators if u is not op and flat in u.inputs]
        if (
            users
            and all(
                _opcode(model, u) == ops.FULLY_CONNECTED
                and list(u.inputs).index(flat) == 0
                and not u.builtinOptions.keepNumDims
                for u in users
            )
            and _same_quantization(subgraph.tensors[source], subgraph.tensors[flat])
        ):
            for u in users:
                u.inputs[0] = source
            subgraph.operators.remove(op)


def _drop_unused_tensors(subgraph):
    used = sorted(
        {i for op in subgraph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
        | set(subgraph.inputs)
        | set(subgraph.outputs)
    )
    new = {old: i for i, old in enumerate(used)}
    subgraph.tensors = [subgraph.tensors[i] for i in used]
    remap = lambda ids: np.array([new[i] if i >= 0 else i for i in ids], np.int32)  # noqa: E731
    for op in subgraph.operators:
        op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
    subgraph.inputs, subgraph.outputs = remap(subgraph.inputs), remap(subgraph.outputs)


def _drop_unused_buffers(model):
    used = sorted({0} | {t.buffer for sg in model.subgraphs for t in sg.tensors})
    new = {old: i for i, old in enumerate(used)}
    model.buffers = [model.buffers[i] for i in used]
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.buffer = new[tensor.buffer]


def _drop_unused_opcodes(model):
    used = sorted({op.opcodeIndex for sg in model.subgraphs for op in sg.operators})
    new = {old: i for i, old in enumerate(used)}
    model.operatorCodes = [model.operatorCodes[i] for i in used]
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            op.opcodeIndex = new[op.opcodeIndex]


def describe(architecture, model, pruned):
    """The JSON fields that say what was built: architecture, parameters, and the sparsity
    that pruning left (`pruned`), null when no pruning ran: an unpruned model can hold
    structural zeros that no pruning made (the residual forecaster's kernel rows for the
    last step, whose differences are always 0: 24 of th_b's 144 weights)."""
    return {
        "architecture": architecture,
        "params": int(model.count_params()),
        "sparsity": round(sparsity(model), 4) if pruned else None,
    }
