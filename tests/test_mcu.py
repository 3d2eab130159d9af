"""The microcontroller side: common.tflm (TFLM's interpreter, requirements-mcu.txt), the check
`python -m tools.mcu`, the kernel choice of common.litert.Model, the C export read back by a
compiler, and the default path kept free of tflite-micro.

Figures are recomputed with the interpreters' own APIs (tflite_micro.runtime, ai_edge_litert),
not through the modules under test; the arena is checked by TFLM refusing a smaller one."""

import ast
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

tf = pytest.importorskip("tensorflow")
from common import cli, litert, modelfile  # noqa: E402
from common.frontend_np import LABELS, MFCC_8K, MFCC_16K, NumpyFrontEnd  # noqa: E402
from common.tflite_io import sha256  # noqa: E402
from common.wav import read_wav  # noqa: E402
from test_modelfile import embed, fc, tiny, write_set  # noqa: E402
from tools import c_export, mcu  # noqa: E402


@pytest.fixture(scope="session")
def tflm():
    """common.tflm with tflite-micro installed; skips without it, except in CI (CI=true), which
    installs requirements-mcu.txt and must run these tests."""
    try:
        import tflite_micro  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("tflite-micro not installed in CI: .ci/run installs requirements-mcu.txt")
        pytest.skip("tflite-micro not installed (pip install -r requirements-mcu.txt)")
    from common import tflm

    return tflm


@pytest.fixture(scope="module")
def untrained_kws(tmp_path_factory):
    """The untrained tiny DS-CNN of test_modelfile (ex2_a, 16 kHz MFCC), alone as tiny.tflite."""
    return write_set(tmp_path_factory.mktemp("untrained_kws"), tiny()["a"], name="tiny")


@pytest.fixture(scope="module")
def missing_ops_model(tmp_path_factory):
    """A float model with two ops TFLM has no kernel for (ATAN2, TOPK_V2) and one it has (ADD)."""
    fn = tf.function(
        lambda x: tf.math.top_k(tf.math.atan2(x, x + 1.0), 3).values,
        input_signature=[tf.TensorSpec([1, 16], tf.float32)],
    )
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], fn)
    path = tmp_path_factory.mktemp("ops") / "missing.tflite"
    path.write_bytes(converter.convert())
    return path


def in_process(capsys, run_function, *argv):
    """`cli.exit_status(run_function, argv)` in this process: (status, stdout, stderr)."""
    return (cli.exit_status(run_function, [str(a) for a in argv]), *capsys.readouterr())


def direct(data, rows, resolver=None):
    """Outputs for `rows` of the interpreters called directly: LiteRT's with `resolver` (None:
    its default), or TFLM's for resolver "tflm"."""
    from ai_edge_litert.interpreter import Interpreter
    from tflite_micro import runtime

    if resolver == "tflm":
        m = runtime.Interpreter.from_bytes(data)
        put, get = (lambda x: m.set_input(x, 0)), (lambda: m.get_output(0))
    else:
        options = {} if resolver is None else {"experimental_op_resolver_type": resolver}
        m = Interpreter(model_content=data, num_threads=1, **options)
        m.allocate_tensors()
        i, o = m.get_input_details()[0]["index"], m.get_output_details()[0]["index"]
        put, get = (lambda x: m.set_tensor(i, x)), (lambda: m.get_tensor(o))
    out = []
    for row in rows:
        put(row[None])
        m.invoke()
        out.append(get()[0])
    return np.stack(out)


def test_the_pinned_build_is_installed_and_numpy_keeps_its_pin(tflm):
    pin = re.search(r"^tflite-micro==(\S+)$", (ROOT / "requirements-mcu.txt").read_text(), re.M)
    assert tflm.package().__version__.split("-")[0] == pin.group(1)
    numpy_pin = re.search(r"^numpy==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M)
    assert np.__version__ == numpy_pin.group(1)


def test_coverage_names_every_op_tflm_lacks(missing_ops_model, tflm):
    data = missing_ops_model.read_bytes()
    assert tflm.coverage(data) == {"ADD": [1, True], "ATAN2": [1, False], "TOPK_V2": [1, False]}
    out = "\n".join(mcu.lines(str(missing_ops_model), mcu.footprint(data)))
    assert re.search(r"ATAN2 +x1 +NO TFLM KERNEL", out) and re.search(r"ADD +x1 +TFLM kernel", out)
    assert "arena: - (TFLM cannot run the model)" in out


def test_the_check_of_a_model_without_front_end(missing_ops_model, tflm, capsys):
    status, out, err = in_process(capsys, mcu.run, missing_ops_model)
    assert (status, err) == (2, "") and re.search(r"ATAN2 +x1 +NO TFLM KERNEL", out)


def test_check_on_a_split_and_the_kernel_choice(untrained_kws, subset, tflm, tmp_path, capsys):
    """The check's figures against TFLM and LiteRT's kernels called directly on the numpy front
    end (the one the model carries) of the split's wavs; litert.Model(kernels=...) the same;
    the arena the least TFLM accepts."""
    from ai_edge_litert.interpreter import OpResolverType as Resolver

    wavs, split = subset[0], subset[1] / "kws_split_test.txt"
    status, out, err = in_process(capsys, mcu.run, untrained_kws, "--data", wavs, "--split", split)
    assert status == 0 and err == "", err
    found = [wavs.joinpath(*ln.split("/")[-2:]) for ln in split.read_text().split()]
    truth = np.array([LABELS.index(p.parent.name) for p in found])
    feats = np.stack([NumpyFrontEnd(MFCC_16K)(read_wav(str(p))) for p in found])
    data = untrained_kws.read_bytes()
    with pytest.raises(RuntimeError, match="invoke the model once first"):
        tflm.Interpreter(data).arena_bytes()
    resolvers = {"tflm": "tflm", "reference": Resolver.BUILTIN_REF, "default": None}
    scores = {k: direct(data, feats, r) for k, r in resolvers.items()}
    scores["optimized"] = direct(data, feats, Resolver.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    for kernels, expected in scores.items():
        np.testing.assert_array_equal(litert.Model(data, kernels=kernels).run_all(feats), expected)
    with pytest.raises(ValueError, match="kernels 'fast': expected one of default, optimized"):
        litert.Model(data, kernels="fast")
    labels = {k: v.argmax(1) for k, v in scores.items()}
    arena = int(re.search(r"arena: ([\d,]+) B", out)[1].replace(",", ""))
    assert f"flash: {len(data):,} B" in out and "the model loads in exactly that arena" in out
    assert 0 < arena < 64 * 1024 and tflm.loads(data, arena) and not tflm.loads(data, arena - 64)
    margins = f"flash {1024**2 - len(data):+,} B, RAM {256 * 1024 - arena:+,} B"
    assert f"  1 MB flash / 256 KB RAM  fits (margin {margins})" in out
    head = f"TFLM against LiteRT on {len(truth)} files of {split} (score step of the int8 output: "
    step = float(re.search(re.escape(head) + r"([\d.]+)\):", out)[1])
    pct = lambda a, b: f"{100 * np.mean(a == b):.2f}"
    micro = labels["tflm"]
    for name in ("reference", "default", "optimized"):
        row = rf"^  {name} +([\d.]+) % +([\d.]+) \((\d+) steps?\) +([\d.]+) % +([\d.]+) %$"
        same, shown, steps, accuracy, accuracy_tflm = re.search(row, out, re.M).groups()
        lab, diff = labels[name], np.abs(scores[name] - scores["tflm"]).max()
        assert (same, shown, int(steps)) == (pct(lab, micro), f"{diff:.4f}", round(diff / step))
        assert (accuracy, accuracy_tflm) == (pct(lab, truth), pct(micro, truth))
    # TFLM's kernels are the reference ones: the same labels on every file (of a model that
    # does not give one label to all)
    assert np.array_equal(labels["reference"], labels["tflm"]) and len(set(labels["tflm"])) >= 3
    # the front end the model carries: an 8 kHz model's features are those of 8 kHz audio
    c8 = modelfile.open_model(write_set(tmp_path, tiny()["c8"]))
    features, label_ids, what = mcu.split_inputs(c8, wavs, split)
    expected = [NumpyFrontEnd(MFCC_8K)(read_wav(str(p), rate=8000)) for p in found]
    np.testing.assert_allclose(features, np.stack(expected), atol=1e-5)
    assert (list(label_ids), what) == (list(truth), f"{len(found)} files of {split}")


def test_check_and_export_errors_are_one_line(untrained_kws, tmp_path, capsys):
    """What only these two refuse (the refusals of every reader: test_modelfile.py)."""
    status, out, err = in_process(capsys, mcu.run, untrained_kws, "--data", tmp_path)
    assert (status, err) == (1, "error: python -m tools.mcu: --data and --split go together\n")
    th = write_set(tmp_path, tiny()["th"], fc(sha256(tiny()["th"])), name="th_a")
    status, out, err = in_process(capsys, c_export.run, th)
    assert status == 1 and err.startswith(f"error: {th}: a forecaster (its JSON ")
    assert err.count("\n") == 1 and len(os.listdir(tmp_path)) == 3  # nothing written
    assert c_export.identifier("kws_a") == "kws_a" and c_export.identifier("2x").startswith("m_2x_")


BLOCKED = "import sys; sys.modules['tflite_micro'] = None; "  # as if not installed


def test_without_tflite_micro_the_default_path_works_and_the_check_says_what_to_install(
    untrained_kws,
):
    """The scripts' and the Pi's modules import and run a model without tflite-micro; the
    check is one error line naming the requirements file."""
    path = str(untrained_kws)
    code = f"""{BLOCKED}
import numpy as np, kws_inference, common.kws, tools.bench, tools.c_export
from common import cli; from common.litert import Model; from tools import mcu
print(Model({path!r}).run_all(np.zeros([1, 49, 10, 1], np.float32)).shape)
sys.exit(cli.exit_status(mcu.run, [{path!r}]))"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 1 and out.stdout.splitlines()[0] == "(1, 8)", out.stderr[-2000:]
    assert out.stderr == (
        "error: requirements-mcu.txt: tflite-micro is not installed; expected `pip install "
        "-r requirements-mcu.txt` (TFLM's interpreter, Linux x86_64, Python 3.11)\n"
    )


def test_only_common_tflm_imports_tflite_micro():
    for path in [*ROOT.glob("*.py"), *ROOT.glob("common/*.py"), *ROOT.glob("tools/*.py")]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        assert ("tflite_micro" in names) == (path.name == "tflm.py"), path.name


@pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ (.ci/run installs it)")
def test_c_export_takes_names_and_labels_as_data(tmp_path, capsys):
    """A file name and labels that hold newlines, quotes, `#include`, a trigraph and non-ASCII
    read back by g++ as they were; two names that differ only in punctuation and a 236-byte
    name (the longest whose .tflite.zip fits the 255-byte limit) export beside them."""
    labels = ['yes"\n#include "/etc/passwd"\n', "no\\", "??=up", "caf\xe9", *LABELS[4:]]
    evil = embed(tiny()["a"], "ex2_a", MFCC_16K, labels)
    names = ["evil\n#error injected\nx", "kws-a", "kws.a", "k" * 236]
    models = [
        write_set(tmp_path / "in", evil if n == names[0] else tiny()["a"], name=n) for n in names
    ]
    for model in models:
        assert in_process(capsys, c_export.run, model, "--out-dir", tmp_path / "c")[0] == 0
    written = sorted(os.listdir(tmp_path / "c"))
    assert len(written) == 8 and "#error" not in (tmp_path / "c" / written[0]).read_text()
    ident = c_export.identifier(names[0])
    (tmp_path / "main.cc").write_text(f"""#include <cstdio>
#include "{ident}_model.h"
int main() {{ for (auto label : {ident}_labels) std::printf("%s|", label); }}""")
    sources = [
        str(tmp_path / "main.cc"),
        *(str(tmp_path / "c" / n) for n in written if n.endswith(".cc")),
    ]
    exe = str(tmp_path / "labels")
    build = subprocess.run(
        ["g++", "-std=c++17", "-Wall", "-Werror", "-I", str(tmp_path / "c"), "-o", exe, *sources],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    assert subprocess.run([exe], capture_output=True).stdout == "|".join([*labels, ""]).encode()


@pytest.mark.skipif(shutil.which("g++") is None, reason="no g++ (.ci/run installs it)")
def test_c_export_compiles_to_the_same_bytes_and_front_end(untrained_kws, tmp_path, capsys):
    """The .cc/.h compiled by g++ into a program that writes the array and the constants out."""
    status, out, err = in_process(capsys, c_export.run, untrained_kws, "--out-dir", tmp_path)
    assert status == 0 and err == "", err
    assert sorted(os.listdir(tmp_path)) == ["tiny_model.cc", "tiny_model.h"]
    (tmp_path / "main.cc").write_text(r"""
#include <cstdint>
#include <cstdio>
#include "tiny_model.h"
int main(int, char** argv) {
  std::FILE* f = std::fopen(argv[1], "wb");
  std::fwrite(tiny_model_data, 1, tiny_model_data_len, f);
  std::fclose(f);
  std::printf("%d %d %d %d %d %d %d %g %g %d %d %d", int(reinterpret_cast<std::uintptr_t>(tiny_model_data) % 16),
              tiny_sample_rate, tiny_frame_length, tiny_frame_step, tiny_fft_length, tiny_num_frames,
              tiny_num_mel_bins, tiny_lower_frequency_hz, tiny_upper_frequency_hz, tiny_num_coefficients,
              int(tiny_mfcc), tiny_num_labels);
  for (int i = 0; i < tiny_num_labels; ++i) std::printf(" %s", tiny_labels[i]);
}
""")
    exe, sources = tmp_path / "dump", [str(tmp_path / "main.cc"), str(tmp_path / "tiny_model.cc")]
    flags = ["-std=c++17", "-Wall", "-Wextra", "-Werror", "-o", str(exe)]
    build = subprocess.run(["g++", *flags, *sources], capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    dump = subprocess.run([str(exe), str(tmp_path / "bytes.bin")], capture_output=True, text=True)
    assert (tmp_path / "bytes.bin").read_bytes() == untrained_kws.read_bytes()
    c = MFCC_16K
    expected = [0, c.rate, c.frame_length, c.frame_step, c.fft_size, c.num_frames, c.num_mel_bins]
    expected += [f"{c.lower_frequency:g}", f"{c.upper_frequency:g}", c.num_coefficients, 1, 8]
    assert dump.stdout.split() == [str(v) for v in (*expected, *LABELS)]
