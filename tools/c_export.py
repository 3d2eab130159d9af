"""A keyword spotter for a board: `<name>_model.cc` / `<name>_model.h`, the .tflite as an aligned
C array and the front end's settings and labels as constants, for a TensorFlow Lite for
Microcontrollers project (C++). No TensorFlow, no tflite-micro needed.

    python -m tools.c_export models/kws_a.tflite [--out-dir DIR]   # default: beside the model

The front end and labels are those the model carries (read by common.modelfile).
"""

import os
import re
import sys

import common  # noqa: F401

from common import cli, modelfile, outputs
from common.tflite_io import sha256

BYTES_PER_LINE = 12


def identifier(name):
    """A C identifier from a file stem: 'kws-a.v2' -> 'kws_a_v2'."""
    ident = re.sub(r"\W", "_", name, flags=re.ASCII)
    return ident if re.match(r"[A-Za-z_]", ident) else f"m_{ident}"


def c_float(value):
    return f"{float(value)!r}f"


def header(ident, data, cfg, labels, source):
    guard = f"{ident.upper()}_MODEL_H_"
    const = [
        ("int", "sample_rate", cfg.rate, "Hz; 1 s of audio per inference"),
        ("int", "frame_length", cfg.frame_length, "samples, periodic Hann window"),
        ("int", "frame_step", cfg.frame_step, "samples"),
        ("int", "fft_length", cfg.fft_size, "the frame zero-padded to this length"),
        ("int", "num_frames", cfg.num_frames, "STFT frames"),
        (
            "bool",
            "mfcc",
            "true" if cfg.mfcc else "false",
            "true: |STFT| -> HTK mel -> log(x + 1e-6) -> DCT-II / sqrt(2 * mel bins); false: |STFT|",
        ),
        (
            "int",
            "resize",
            cfg.resize or 0,
            "without MFCC: 0, or |STFT| resized (bilinear) to [resize, resize]",
        ),
        ("int", "num_mel_bins", cfg.num_mel_bins, ""),
        ("float", "lower_frequency_hz", c_float(cfg.lower_frequency), "mel filter bank edges"),
        ("float", "upper_frequency_hz", c_float(cfg.upper_frequency), ""),
        ("int", "num_coefficients", cfg.num_coefficients, "MFCCs kept"),
        ("int", "num_labels", len(labels), "output scores, in the order of *_labels"),
    ]
    lines = [
        f"// {ident}: a keyword spotter for TensorFlow Lite for Microcontrollers.",
        f"// Written by python -m tools.c_export from {source}",
        f"// (sha256 {sha256(data)}); do not edit.",
        f"// Input: float [1, {', '.join(map(str, cfg.input_shape))}] features of the front end"
        f" below; output: float [1, {len(labels)}] scores (logits).",
        f"#ifndef {guard}",
        f"#define {guard}",
        "",
        "#include <cstddef>",
        "",
        "// The .tflite flatbuffer; 16-byte aligned, as TFLM wants it.",
        f"extern const unsigned char {ident}_model_data[];",
        f"extern const std::size_t {ident}_model_data_len;  // {len(data):,} bytes",
        "",
        "// The front end the model was trained with (common/frontend_np.py).",
    ]
    for ctype, name, value, note in const:
        lines.append(
            f"constexpr {ctype} {ident}_{name} = {value};" + (f"  // {note}" if note else "")
        )
    lines += [
        f"extern const char* const {ident}_labels[{ident}_num_labels];",
        "",
        f"#endif  // {guard}",
        "",
    ]
    return "\n".join(lines)


def source_file(ident, data, labels):
    body = [
        ", ".join(f"0x{b:02x}" for b in data[i : i + BYTES_PER_LINE])
        for i in range(0, len(data), BYTES_PER_LINE)
    ]
    quoted = ", ".join(
        '"' + label.replace("\\", "\\\\").replace('"', '\\"') + '"' for label in labels
    )
    return "\n".join(
        [
            f'#include "{ident}_model.h"',
            "",
            f"alignas(16) const unsigned char {ident}_model_data[] = {{",
            *(f"    {line}," for line in body),
            "};",
            f"const std::size_t {ident}_model_data_len = {len(data)};",
            "",
            f"const char* const {ident}_labels[{ident}_num_labels] = {{{quoted}}};",
            "",
        ]
    )


def export(model_path, out_dir=None):
    """Write `<name>_model.cc` and `.h` for the keyword spotter at `model_path`; their paths."""
    described = modelfile.open_model(model_path, kind="kws")
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
