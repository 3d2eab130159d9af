"""Model file bytes: read a .tflite or .tflite.zip, make the zip, hash. No TensorFlow import."""
import hashlib
import io
import os
import zipfile
import zlib

TFLITE_MAGIC = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of a .tflite


class ModelFileError(ValueError):
    """A model file that is not a .tflite flatbuffer or a zip holding exactly one."""


def read_model_bytes(path):
    """Bytes of a `.tflite` file, or of the single `.tflite` inside a `.tflite.zip`."""
    path = str(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file (expected a .tflite or .tflite.zip)")
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith(".tflite")]
                if len(names) != 1:
                    raise ModelFileError(f"{path}: expected a zip holding exactly one .tflite, "
                                         f"found {zf.namelist()}")
                data = zf.read(names[0])
        else:
            with open(path, "rb") as f:
                data = f.read()
    except (zipfile.BadZipFile, OSError) as e:
        raise ModelFileError(f"{path}: unreadable ({e}); expected a .tflite or .tflite.zip") from None
    if data[4:8] != TFLITE_MAGIC:
        raise ModelFileError(f"{path}: not a TFLite flatbuffer (missing 'TFL3' identifier)")
    return data


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def zip_bytes_of(name, data):
    """The bytes of a deflate zip (level 9) holding `data` as member `name`, reproducible
    (fixed member date)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        zf.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def model_files(name, tflite):
    """({file name: bytes} of `<name>.tflite` and `<name>.tflite.zip`, their sizes and hash)."""
    zipped = zip_bytes_of(f"{name}.tflite", tflite)
    files = {f"{name}.tflite": tflite, f"{name}.tflite.zip": zipped}
    sizes = {"tflite_bytes": len(tflite), "zip_bytes": len(zipped),
             "zlib_bytes": len(zlib.compress(tflite, 9)), "tflite_sha256": sha256(tflite)}
    return files, sizes
