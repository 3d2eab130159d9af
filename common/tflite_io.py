"""Model file bytes: read a .tflite or .tflite.zip, make the zip, hash. No TensorFlow import."""

import hashlib
import io
import os
import zipfile
import zlib

TFLITE_MAGIC = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of a .tflite
# A model file, zipped or not, and the .tflite inside a zip, are at most this big: checked
# before reading (a zip member by its declared sizes; it is then inflated no further than it
# declares, and refused if it inflates to another size or fails its CRC).
# Far above this project's models and the course's float baselines.
MAX_MODEL_BYTES = 16 * 2**20


class ModelFileError(ValueError):
    """A model file that is not a .tflite flatbuffer or a zip holding exactly one."""


def _too_big(path, what, size):
    return ModelFileError(
        f"{path}: {what} is {size:,} bytes, over the bound of {MAX_MODEL_BYTES:,} "
        "bytes for a model; expected a .tflite or .tflite.zip of a tiny model"
    )


def _read_member(path, zf):
    """The bytes of the zip's one `.tflite`, its declared sizes checked before inflating it."""
    members = [i for i in zf.infolist() if i.filename.endswith(".tflite")]
    if len(members) != 1:
        names = zf.namelist()
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise ModelFileError(
            f"{path}: expected a zip holding exactly one .tflite, found "
            f"{len(names)} files ({shown or 'none'})"
        )
    info = members[0]
    for what, size in (
        ("its .tflite, inflated,", info.file_size),
        ("its .tflite, compressed,", info.compress_size),
    ):
        if size > MAX_MODEL_BYTES:
            raise _too_big(path, what, size)
    with zf.open(info) as member:  # inflated no further than it says (then its CRC is checked)
        data = member.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ModelFileError(
            f"{path}: its .tflite inflates to {len(data):,}+ bytes, not the "
            f"{info.file_size:,} its zip header says; expected an intact zip"
        )
    return data


def read_model_bytes(path):
    """Bytes of a `.tflite` file, or of the single `.tflite` inside a `.tflite.zip`; a file, or
    a zip member, over MAX_MODEL_BYTES is refused before it is read."""
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
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        RuntimeError,
        EOFError,
        OSError,
        zlib.error,
    ) as e:
        raise ModelFileError(
            f"{path}: unreadable ({type(e).__name__}: {e}); expected a .tflite or .tflite.zip"
        ) from None
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
    sizes = {
        "tflite_bytes": len(tflite),
        "zip_bytes": len(zipped),
        "zlib_bytes": len(zlib.compress(tflite, 9)),
        "tflite_sha256": sha256(tflite),
    }
    return files, sizes
