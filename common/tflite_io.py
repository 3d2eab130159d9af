"""Read, write and run .tflite models with LiteRT. No TensorFlow import (runs on a Pi)."""
import os
import tempfile
import zipfile
import zlib

import numpy as np

TFLITE_MAGIC = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of a .tflite


class ModelFileError(ValueError):
    """A model file that is not a .tflite flatbuffer or a zip holding exactly one."""


def read_model_bytes(path):
    """Bytes of a `.tflite` file, or of the single `.tflite` inside a `.tflite.zip`."""
    path = str(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file (expected a .tflite or .tflite.zip)")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.endswith(".tflite")]
            if len(names) != 1:
                raise ModelFileError(
                    f"{path}: expected a zip holding exactly one .tflite, found {zf.namelist()}")
            data = zf.read(names[0])
    else:
        with open(path, "rb") as f:
            data = f.read()
    if data[4:8] != TFLITE_MAGIC:
        raise ModelFileError(f"{path}: not a TFLite flatbuffer (missing 'TFL3' identifier)")
    return data


def write_atomic(path, data):
    """Write bytes to `path` through a temporary file and a rename: a failed run never
    leaves a half-written file where a good one was."""
    path = str(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def zip_bytes_of(name, data):
    """The bytes of a deflate zip (level 9) holding `data` as member `name`."""
    import io
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible bytes
        info.compress_type = zipfile.ZIP_DEFLATED
        zf.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def write_model_files(tflite_bytes, out_dir, name):
    """Write `<name>.tflite` and `<name>.tflite.zip` atomically; return paths and sizes."""
    tflite_path = os.path.join(out_dir, f"{name}.tflite")
    zip_path = tflite_path + ".zip"
    zipped = zip_bytes_of(f"{name}.tflite", tflite_bytes)
    write_atomic(tflite_path, tflite_bytes)
    write_atomic(zip_path, zipped)
    return {
        "tflite_path": tflite_path,
        "zip_path": zip_path,
        "tflite_bytes": os.path.getsize(tflite_path),
        "zip_bytes": os.path.getsize(zip_path),
        "zlib_bytes": len(zlib.compress(tflite_bytes, 9)),
    }


def make_interpreter(model, num_threads=1):
    """A LiteRT interpreter, tensors allocated, from bytes or a .tflite/.tflite.zip path."""
    from ai_edge_litert.interpreter import Interpreter
    data = model if isinstance(model, (bytes, bytearray)) else read_model_bytes(model)
    interpreter = Interpreter(model_content=bytes(data), num_threads=num_threads)
    interpreter.allocate_tensors()
    return interpreter


def run_batches(interpreter, inputs):
    """Run the interpreter on each row of `inputs` (float32 [N, ...]); return [N, ...]."""
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    results = []
    for x in inputs:
        interpreter.set_tensor(inp["index"], np.asarray(x, np.float32)[None, ...])
        interpreter.invoke()
        results.append(interpreter.get_tensor(out["index"])[0].copy())
    return np.stack(results)
