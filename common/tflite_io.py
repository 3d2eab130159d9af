"""Model file bytes: read a .tflite or .tflite.zip, make the zip, hash. No TensorFlow import."""

import hashlib
import io
import os
import zipfile
import zlib

TFLITE_MAGIC = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of a .tflite
# The bound of a model file and of the .tflite in a zip (by its header's sizes), checked before
# reading: far above this project's models and the course's float baselines.
MAX_MODEL_BYTES = 16 * 2**20
# what reading a broken file or zip raises (RuntimeError includes NotImplementedError)
BROKEN = (zipfile.BadZipFile, zipfile.LargeZipFile, RuntimeError, EOFError, OSError, zlib.error)


class ModelFileError(ValueError):
    """A model file that is not a .tflite flatbuffer or a zip holding exactly one."""


def _too_big(path, what, size):
    return ModelFileError(
        f"{path}: {what} is {size:,} bytes, over the bound of {MAX_MODEL_BYTES:,} "
        "bytes for a model; expected a .tflite or .tflite.zip of a tiny model"
    )


def _read_member(path, zf):
    """The zip's one `.tflite`, inflated no further than its header says, its CRC checked."""
    members = [i for i in zf.infolist() if i.filename.endswith(".tflite")]
    if len(members) != 1:
        names = zf.namelist()
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise ModelFileError(
            f"{path}: expected a zip holding exactly one .tflite, found "
            f"{len(names)} files ({shown or 'none'})"
        )
    info = members[0]
    if info.file_size > MAX_MODEL_BYTES:
        raise _too_big(path, "its .tflite, inflated,", info.file_size)
    if info.compress_size > MAX_MODEL_BYTES:
        raise _too_big(path, "its .tflite, compressed,", info.compress_size)
    with zf.open(info) as member:
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ModelFileError(
            f"{path}: its .tflite inflates to {len(data):,}+ bytes, not the "
            f"{info.file_size:,} its zip header says; expected an intact zip"
        )
    return data


def read_model_bytes(path):
    """Bytes of a `.tflite`, or of the one `.tflite` in a `.tflite.zip`, within MAX_MODEL_BYTES."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file (expected a .tflite or .tflite.zip)")
    try:
        size = os.path.getsize(path)
        if size > MAX_MODEL_BYTES:
            raise _too_big(path, "the file", size)
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                data = _read_member(path, zf)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_MODEL_BYTES + 1)
            if len(data) > MAX_MODEL_BYTES:  # grew since it was measured
                raise _too_big(path, "the file", len(data))
    except BROKEN as e:
        raise ModelFileError(
            f"{path}: unreadable ({type(e).__name__}: {e}); expected a .tflite or .tflite.zip"
        ) from None
    if data[4:8] != TFLITE_MAGIC:
        raise ModelFileError(f"{path}: not a TFLite flatbuffer (missing 'TFL3' identifier)")
    return data


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def zip_bytes_of(name, data):
    """A reproducible deflate zip (level 9, fixed date) holding `data` as member `name`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, data, zipfile.ZIP_DEFLATED, 9)
    return buf.getvalue()


def model_files(name, tflite):
    """({file name: bytes} of `<name>.tflite` and `<name>.tflite.zip`, their sizes and hash)."""
    zipped = zip_bytes_of(f"{name}.tflite", tflite)
    files = {f"{name}.tflite": tflite, f"{name}.tflite.zip": zipped}
    sizes = {
        "tflite_bytes": len(tflite),
        "zip_bytes": len(zipped),
        "zlib_bytes": len(zlib.compress(tflite, 9)),
        "tflite_sha256": sha256(tflite),
    }
    return files, sizes
