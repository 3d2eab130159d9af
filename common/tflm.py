"""TensorFlow Lite for Microcontrollers: the one module importing `tflite-micro`."""

import collections
import contextlib
import re

from .runtime import captured_native_stderr
from .tflite_io import ModelFileError

REQUIREMENTS = "requirements-mcu.txt"
# what TFLM prints: print_allocations(), and a failed kernel look-up while loading
ARENA_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
MISSING_OP = re.compile(r"Didn't find op for (?:builtin|custom) opcode '([^']*)'")


def package():
    """The `tflite_micro` package, or a one-line error naming the requirements file."""
    try:
        import tflite_micro
    except ImportError:
        raise ModelFileError(
            f"{REQUIREMENTS}: tflite-micro is not installed; expected `pip install -r "
            f"{REQUIREMENTS}` (TFLM's interpreter, Linux x86_64, Python 3.11)"
        ) from None
    return tflite_micro


def _load(data, arena_size=None):
    """(TFLM interpreter or None, what TFLM printed); arena_size None: 10 x the model's bytes."""
    runtime = package().runtime
    interpreter = None
    with captured_native_stderr() as log, contextlib.suppress(RuntimeError):
        interpreter = runtime.Interpreter.from_bytes(bytes(data), arena_size=arena_size)
    return interpreter, log[0].strip()


def loads(data, arena_size):
    """Whether TFLM loads the model (kernels found, tensors allocated) in `arena_size` bytes."""
    return _load(data, arena_size)[0] is not None


def _details(d, position):
    """TFLM's tensor details in LiteRT's form (position in the inputs/outputs as 'index')."""
    q = d["quantization_parameters"]
    scale = (float(q["scales"][0]), int(q["zero_points"][0])) if len(q["scales"]) else (0.0, 0)
    return {"index": position, "shape": d["shape"], "dtype": d["dtype"], "quantization": scale}


class Interpreter:
    """TFLM's interpreter behind the LiteRT calls of common.litert.Model (RuntimeError: no load)."""

    def __init__(self, data, arena_size=None):
        self._tflm, log = _load(data, arena_size)
        if self._tflm is None:
            raise RuntimeError(
                f"TFLM: {'; '.join(log.splitlines()[:2]) or 'failed to allocate tensors'}"
            )
        self._invoked = False

    def allocate_tensors(self):  # done when loading
        pass

    def get_input_details(self):
        return [_details(self._tflm.get_input_details(0), 0)]

    def get_output_details(self):
        return [_details(self._tflm.get_output_details(0), 0)]

    def set_tensor(self, index, value):
        self._tflm.set_input(value, index)

    def invoke(self):
        self._tflm.invoke()
        self._invoked = True

    def get_tensor(self, index):
        return self._tflm.get_output(index)

    def arena_bytes(self):
        """The tensor arena the model used after one invoke, in bytes (this host's pointers)."""
        if not self._invoked:
            raise RuntimeError("arena_bytes: invoke the model once first")
        with captured_native_stderr() as log:
            self._tflm.print_allocations()
        if not (found := ARENA_TOTAL.search(log[0])):
            raise RuntimeError(
                f"tflite-micro {package().__version__}: print_allocations() printed no 'Arena "
                f"allocation total' line ({log[0][:200]!r}); the pinned build of {REQUIREMENTS} "
                "prints it"
            )
        return int(found.group(1))


def _parse(data):
    """(TFLM's schema module, the model's object tree)."""
    package()
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema, schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(bytes(data), 0))


def _op_name(opcode, schema):
    if opcode.customCode:
        code = opcode.customCode
        return code.decode() if isinstance(code, bytes) else str(code)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return names.get(package().runtime.get_builtin_code_from_operator_code(opcode), "UNKNOWN")


def output_step(data):
    """The output's quantization step: its scale, or that of the int8 tensor it comes from."""
    schema, model = _parse(data)
    graph = model.subgraphs[0]
    tensor = graph.tensors[graph.outputs[0]]
    for op in graph.operators or []:
        opcode = model.operatorCodes[op.opcodeIndex]
        code = package().runtime.get_builtin_code_from_operator_code(opcode)
        if graph.outputs[0] in list(op.outputs) and code == schema.BuiltinOperator.DEQUANTIZE:
            tensor = graph.tensors[op.inputs[0]]
    q = tensor.quantization
    return float(q.scale[0]) if q is not None and q.scale is not None and len(q.scale) else None


def coverage(data):
    """{op name: [count, whether TFLM has a kernel]} of the model's operators, in order of first
    use (all subgraphs): each op TFLM lacks swapped for ADD, reloaded."""
    import flatbuffers

    schema, model = _parse(data)
    codes = [op.opcodeIndex for graph in model.subgraphs or [] for op in graph.operators or []]
    counts = collections.Counter(_op_name(model.operatorCodes[i], schema) for i in codes)
    missing, current = set(), bytes(data)
    for _ in range(len(model.operatorCodes) + 1):
        interpreter, log = _load(current)
        found = MISSING_OP.search(log)
        if interpreter is not None or not found or found.group(1) in missing:
            break
        missing.add(found.group(1))
        for opcode in model.operatorCodes:
            if _op_name(opcode, schema) == found.group(1):
                opcode.builtinCode = opcode.deprecatedBuiltinCode = schema.BuiltinOperator.ADD
                opcode.customCode = None
        builder = flatbuffers.Builder(2 * len(current))
        builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
        current = bytes(builder.Output())
    return {name: [count, name not in missing] for name, count in counts.items()}
