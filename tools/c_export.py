"""A keyword spotter for a board: the .tflite as an aligned C array and the front end and labels
it carries as constants (`<name>_model.cc` / `.h`), for a TFLM project. No TensorFlow needed.

    python -m tools.c_export models/kws_a.tflite [--out-dir DIR]   # default: beside the model
"""

import os
import re
import sys

import common  # noqa: F401

from common import cli, modelfile, outputs
from common.litert import Model
from common.tflite_io import sha256

BYTES_PER_LINE = 12


def identifier(name):
    """A C identifier from a file stem: itself if it is one, else made one, its hash added."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    ident = ident if re.match(r"[A-Za-z_]", ident) else f"m_{ident}"
    return ident if ident == name else f"{ident}_{sha256(os.fsencode(name))[:8]}"


def c_string(text):
    """`text` as a C string literal: printable ASCII as is, the rest (and \\ " ?) octal bytes."""
    octal = lambda c: "".join(f"\\{b:03o}" for b in os.fsencode(c))  # noqa: E731
    return '"' + "".join(c if " " <= c <= "~" and c not in '\\"?' else octal(c) for c in text) + '"'


def c_float(value):
    return f"{float(value)!r}f"


def header(ident, data, cfg, labels, source):
    guard, shape = f"{ident.upper()}_MODEL_H_", ", ".join(map(str, cfg.input_shape))
    mfcc = "true: |STFT| -> HTK mel -> log(x + 1e-6) -> DCT-II / sqrt(2 * mel bins)"
    const = [
        ("int", "sample_rate", cfg.rate, "Hz; 1 s of audio per inference"),
        ("int", "frame_length", cfg.frame_length, "samples, periodic Hann window"),
        ("int", "frame_step", cfg.frame_step, "samples"),
        ("int", "fft_length", cfg.fft_size, "the frame zero-padded to this length"),
        ("int", "num_frames", cfg.num_frames, "STFT frames"),
        ("bool", "mfcc", str(cfg.mfcc).lower(), f"{mfcc}; false: |STFT|"),
        ("int", "resize", cfg.resize or 0, "without MFCC: 0, or |STFT| resized (bilinear) to RxR"),
        ("int", "num_mel_bins", cfg.num_mel_bins, "mel filter bank bands"),
        ("float", "lower_frequency_hz", c_float(cfg.lower_frequency), "mel filter bank edges"),
        ("float", "upper_frequency_hz", c_float(cfg.upper_frequency), "mel filter bank edges"),
        ("int", "num_coefficients", cfg.num_coefficients, "MFCCs kept"),
        ("int", "num_labels", len(labels), "output scores, in the order of *_labels"),
    ]
    constants = "\n".join(f"constexpr {t} {ident}_{n} = {v};  // {note}" for t, n, v, note in const)
    return f"""\
// {ident}: a keyword spotter for TensorFlow Lite for Microcontrollers.
// Written by python -m tools.c_export from {c_string(source)}
// (sha256 {sha256(data)}); do not edit.
// Input: float [1, {shape}] features of the front end below;
// output: float [1, {len(labels)}] scores (logits).
#ifndef {guard}
#define {guard}

#include <cstddef>

// The .tflite flatbuffer; 16-byte aligned, as TFLM wants it.
extern const unsigned char {ident}_model_data[];
extern const std::size_t {ident}_model_data_len;  // {len(data):,} bytes

// The front end the model was trained with (common/frontend_np.py).
{constants}
extern const char* const {ident}_labels[{ident}_num_labels];

#endif  // {guard}
"""


def source_file(ident, data, labels):
    rows = [data[i : i + BYTES_PER_LINE] for i in range(0, len(data), BYTES_PER_LINE)]
    body = "".join(f"    {', '.join(f'0x{b:02x}' for b in row)},\n" for row in rows)
    quoted = ", ".join(map(c_string, labels))
    return f"""\
#include "{ident}_model.h"

alignas(16) const unsigned char {ident}_model_data[] = {{
{body}}};
const std::size_t {ident}_model_data_len = {len(data)};

const char* const {ident}_labels[{ident}_num_labels] = {{{quoted}}};
"""


def export(model_path, out_dir=None):
    """Write `<name>_model.cc` and `.h` for the keyword spotter at `model_path`; their paths."""
    described = modelfile.open_model(model_path, kind="kws")
    Model(described.data, name=model_path)  # what the interpreter cannot load is not exported
    name = os.path.basename(modelfile.json_path(model_path))[: -len(".json")]
    ident = identifier(name)
    out_dir = outputs.check_out_dir(out_dir or os.path.dirname(os.path.abspath(model_path)))
    data, cfg, labels = described.data, described.frontend, described.labels
    files = {
        f"{ident}_model.h": header(ident, data, cfg, labels, os.path.basename(model_path)).encode(),
        f"{ident}_model.cc": source_file(ident, data, labels).encode(),
    }
    return outputs.write_set(out_dir, files)


def run(argv=None):
    p = cli.Parser(prog="python -m tools.c_export", description=__doc__.split("\n\n")[0])
    p.add_argument("model", help=".tflite or .tflite.zip of a keyword spotter")
    p.add_argument("--out-dir", help="where the two files go (default: beside the model)")
    args = p.parse_args(argv)
    print("wrote " + ", ".join(export(args.model, args.out_dir)))
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
