"""Training schedule, magnitude pruning (tfmot), int8 post-training quantization, and a
container strip that removes what the interpreter does not need."""
import math

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
from tensorflow.lite.python.schema_py_generated import BuiltinOperator
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
        if users and all(_opcode(model, u) == ops.FULLY_CONNECTED and list(u.inputs).index(flat) == 0
                         and not u.builtinOptions.keepNumDims for u in users) \
                and _same_quantization(subgraph.tensors[source], subgraph.tensors[flat]):
            for u in users:
                u.inputs[0] = source
            subgraph.operators.remove(op)


def _drop_unused_tensors(subgraph):
    used = sorted({i for op in subgraph.operators for i in (*op.inputs, *op.outputs) if i >= 0}
                  | set(subgraph.inputs) | set(subgraph.outputs))
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
