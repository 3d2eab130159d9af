"""The microcontroller side: common.tflm (TFLM's interpreter, requirements-mcu.txt), the check
`python -m tools.mcu`, the kernel choice of common.litert.Model, the C export read back by a
compiler, the benchmark's board table, and the default path kept free of tflite-micro.

Figures are recomputed with the interpreters' own APIs (tflite_micro.runtime, ai_edge_litert),
not through the modules under test; the arena is checked by TFLM refusing a smaller one."""

import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT

tf = pytest.importorskip("tensorflow")
from common import litert, report, tflite_io  # noqa: E402
from tools import c_export  # noqa: E402
from common.frontend_np import LABELS, MFCC_16K, NumpyFrontEnd  # noqa: E402
from common.wav import read_wav  # noqa: E402


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


def split_waves(data, split_file):
    lines = split_file.read_text().split()
    waves = np.stack([read_wav(str(data / ln.split("/")[-2] / ln.split("/")[-1])) for ln in lines])
    return waves, np.array([LABELS.index(ln.split("/")[-2]) for ln in lines])


def small_ds_cnn(features, label_ids=None):
    """A small DS-CNN (the versions' op set), trained 4 epochs on `features` when given their
    `label_ids` (BatchNorm statistics then re-estimated), else as initialised."""
    from common import compress, kws

    tf.keras.utils.set_random_seed(0)
    spec = kws.KWSVersion("ex2_a", MFCC_16K, filters=(8, 8, 8), extra_depthwise=1)
    model = kws.build_model(spec)
    if label_ids is not None:
        model.compile(**kws.classifier_compile_args(3e-3))
        model.fit(features, label_ids, epochs=4, batch_size=32, verbose=0)
        compress.reestimate_batchnorm(model, features)  # 4 epochs: statistics of the trained model
    return kws.to_int8(spec, model, features[:64])


def with_sidecar(folder, tflite):
    """`tflite` written as tiny.tflite in `folder`, with its sidecar: the .tflite path."""
    (folder / "tiny.tflite").write_bytes(tflite)
    (folder / "tiny.json").write_bytes(
        report.sidecar_bytes(
            {
                "version": "ex2_a",
                "tflite_sha256": tflite_io.sha256(tflite),
                "labels": LABELS,
                "frontend": {**MFCC_16K.to_dict(), "input_shape": MFCC_16K.input_shape},
            }
        )
    )
    return folder / "tiny.tflite"


@pytest.fixture(scope="module")
def tiny_kws(subset, tmp_path_factory):
    """The small DS-CNN trained a few epochs on the subset's training wavs, int8 with float
    input/output, with its sidecar: the .tflite path (for the tests that compare labels)."""
    data, split_dir = subset
    waves, label_ids = split_waves(data, split_dir / "kws_split_train.txt")
    frontend = NumpyFrontEnd(MFCC_16K)
    features = np.stack([frontend(w) for w in waves])
    return with_sidecar(tmp_path_factory.mktemp("tiny_kws"), small_ds_cnn(features, label_ids))


@pytest.fixture(scope="module")
def untrained_kws(subset, tmp_path_factory):
    """The small DS-CNN as initialised, int8 calibrated on 64 real training clips, with its
    sidecar: the .tflite path (for the tests where the weights do not matter)."""
    data, split_dir = subset
    waves, _ = split_waves(data, split_dir / "kws_split_train.txt")
    frontend = NumpyFrontEnd(MFCC_16K)
    features = np.stack([frontend(w) for w in waves[:64]])
    return with_sidecar(tmp_path_factory.mktemp("untrained_kws"), small_ds_cnn(features))


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


def run(*args, timeout=300, env=None):
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env
    )


def test_the_pinned_build_is_installed_and_numpy_keeps_its_pin(tflm):
    pin = re.search(
        r"^tflite-micro==(\S+)$", (ROOT / "requirements-mcu.txt").read_text(), re.M
    ).group(1)
    assert tflm.version().split("-")[0] == pin
    numpy_pin = re.search(r"^numpy==(\S+)$", (ROOT / "requirements.txt").read_text(), re.M).group(1)
    assert np.__version__ == numpy_pin


@pytest.mark.slow
def test_kernel_choice_runs_the_interpreters_own_resolvers(tiny_kws, tflm):
    """litert.Model(kernels=...) gives what the interpreters give when called directly."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    data = tiny_kws.read_bytes()
    x = np.random.RandomState(1).normal(0, 4, [5, *MFCC_16K.input_shape]).astype(np.float32)
    for kernels, resolver in (
        ("reference", OpResolverType.BUILTIN_REF),
        ("optimized", OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES),
        ("default", None),
    ):
        options = {} if resolver is None else {"experimental_op_resolver_type": resolver}
        direct = Interpreter(model_content=data, num_threads=1, **options)
        direct.allocate_tensors()
        expected = []
        for row in x:
            direct.set_tensor(direct.get_input_details()[0]["index"], row[None])
            direct.invoke()
            expected.append(direct.get_tensor(direct.get_output_details()[0]["index"])[0])
        np.testing.assert_array_equal(
            litert.Model(data, kernels=kernels).run_all(x), np.stack(expected)
        )
    micro = runtime.Interpreter.from_bytes(data)
    expected = []
    for row in x:
        micro.set_input(row[None], 0)
        micro.invoke()
        expected.append(micro.get_output(0)[0])
    np.testing.assert_array_equal(litert.Model(data, kernels="tflm").run_all(x), np.stack(expected))
    with pytest.raises(ValueError, match="kernels 'fast': expected one of default, optimized"):
        litert.Model(data, kernels="fast")


def test_arena_is_the_least_tflm_accepts(untrained_kws, tflm):
    data = untrained_kws.read_bytes()
    interpreter = tflm.Interpreter(data)
    with pytest.raises(RuntimeError, match="invoke the model once first"):
        interpreter.arena_bytes()
    interpreter.set_tensor(0, np.zeros([1, *MFCC_16K.input_shape], np.float32))
    interpreter.invoke()
    arena = interpreter.arena_bytes()
    assert 0 < arena < 64 * 1024
    assert tflm.loads(data, arena) and not tflm.loads(data, arena - 64)


def test_coverage_names_every_op_tflm_lacks(missing_ops_model, tflm):
    data = missing_ops_model.read_bytes()
    assert tflm.operators(data) == {"ADD": 1, "ATAN2": 1, "TOPK_V2": 1}
    assert tflm.coverage(data) == {"ADD": True, "ATAN2": False, "TOPK_V2": False}
    out = run("-m", "tools.mcu", str(missing_ops_model))
    assert out.returncode == 2, out.stderr
    assert re.search(r"ATAN2 +x1 +NO TFLM KERNEL", out.stdout) and re.search(
        r"ADD +x1 +TFLM kernel", out.stdout
    )
    assert "arena: - (TFLM cannot run the model)" in out.stdout


@pytest.mark.slow
def test_check_on_a_split(tiny_kws, subset, tflm):
    """The check's figures against TFLM and LiteRT's reference and default kernels called
    directly on the numpy front end of the split's wavs."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro import runtime

    data_dir, split_dir = subset
    split = split_dir / "kws_split_test.txt"
    out = run("-m", "tools.mcu", str(tiny_kws), "--data", str(data_dir), "--split", str(split))
    assert out.returncode == 0 and out.stderr == "", out.stderr[-2000:]
    data = tiny_kws.read_bytes()
    waves, truth = split_waves(data_dir, split)
    frontend = NumpyFrontEnd(MFCC_16K)
    feats = np.stack([frontend(w) for w in waves])[:, None]
    micro = runtime.Interpreter.from_bytes(data)
    scores = {"tflm": []}
    for x in feats:
        micro.set_input(x, 0)
        micro.invoke()
        scores["tflm"].append(micro.get_output(0)[0])
    for name, resolver in (
        ("reference", OpResolverType.BUILTIN_REF),
        ("default", OpResolverType.AUTO),
    ):
        lite = Interpreter(
            model_content=data, num_threads=1, experimental_op_resolver_type=resolver
        )
        lite.allocate_tensors()
        scores[name] = []
        for x in feats:
            lite.set_tensor(lite.get_input_details()[0]["index"], x)
            lite.invoke()
            scores[name].append(lite.get_tensor(lite.get_output_details()[0]["index"])[0])
    scores = {k: np.stack(v) for k, v in scores.items()}
    labels = {k: v.argmax(1) for k, v in scores.items()}
    assert f"flash: {len(data):,} B" in out.stdout
    arena = int(re.search(r"arena: ([\d,]+) B", out.stdout).group(1).replace(",", ""))
    assert "the model loads in exactly that arena" in out.stdout
    assert (
        f"  1 MB flash / 256 KB RAM  fits (margin flash {1024**2 - len(data):+,} B, "
        f"RAM {256 * 1024 - arena:+,} B)" in out.stdout
    )
    assert f"TFLM against LiteRT on {len(truth)} files of {split} (score step" in out.stdout
    step = re.search(r"score step of the int8 output: ([\d.]+)", out.stdout).group(1)
    for name in ("reference", "default"):
        row = re.search(
            rf"^  {name} +([\d.]+) % +([\d.]+) \((\d+) steps?\) +([\d.]+) % +([\d.]+) %$",
            out.stdout,
            re.M,
        ).groups()
        diff = np.abs(scores[name] - scores["tflm"]).max()
        assert row[0] == f"{100 * np.mean(labels[name] == labels['tflm']):.2f}"
        assert row[1] == f"{diff:.4f}" and int(row[2]) == round(diff / float(step))
        assert row[3] == f"{100 * np.mean(labels[name] == truth):.2f}"
        assert row[4] == f"{100 * np.mean(labels['tflm'] == truth):.2f}"
    # TFLM's kernels are the reference ones: the same labels on every file (of a model that
    # does not give one label to all)
    assert np.array_equal(labels["reference"], labels["tflm"]) and len(set(labels["tflm"])) >= 3


def test_check_errors_are_one_line(untrained_kws, tmp_path):
    out = run("-m", "tools.mcu", str(untrained_kws), "--data", str(tmp_path))
    assert (
        out.returncode == 1
        and out.stderr == "error: python -m tools.mcu: --data and --split go together\n"
    )
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(untrained_kws.read_bytes())
    out = run(
        "-m", "tools.mcu", str(lone), "--data", str(tmp_path), "--split", str(tmp_path / "x.txt")
    )
    if out.stderr.startswith("error: requirements-mcu.txt"):
        pytest.skip("tflite-micro not installed")
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert out.stderr.startswith(f"error: {tmp_path / 'lone.json'}: no sidecar JSON")


BLOCKED = "import sys; sys.modules['tflite_micro'] = None; "  # as if not installed


def test_without_tflite_micro_the_default_path_works_and_the_check_says_what_to_install(
    untrained_kws,
):
    """The scripts' and the Pi's modules import and run a model without tflite-micro; the
    check is one error line naming the requirements file."""
    code = (
        BLOCKED + "import numpy as np, kws_inference, common.kws, tools.bench, tools.c_export; "
        "from common.litert import Model; "
        f"print(Model({str(untrained_kws)!r}).run_all(np.zeros([1, 49, 10, 1], np.float32)).shape)"
    )
    out = run("-c", code)
    assert out.returncode == 0 and out.stdout.strip() == "(1, 8)", out.stderr[-2000:]
    code = (
        BLOCKED
        + f"from common import cli; from tools import mcu; sys.exit(cli.exit_status(mcu.run, [{str(untrained_kws)!r}]))"
    )
    out = run("-c", code)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (
        "error: requirements-mcu.txt: tflite-micro is not installed; expected `pip install "
        "-r requirements-mcu.txt` (TFLM's interpreter, Linux x86_64, Python 3.11)\n"
    )


def test_only_common_tflm_imports_tflite_micro():
    import ast

    for path in [
        *ROOT.glob("*.py"),
        *(ROOT / "common").glob("*.py"),
        *(ROOT / "tools").glob("*.py"),
    ]:
        names = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module.split(".")[0])
        assert ("tflite_micro" in names) == (path.name == "tflm.py"), path.name


def test_board_table_with_and_without_tflite_micro(untrained_kws, tflm):
    rows = {
        "ex2_a": [{"role": "this project", "model_path": str(untrained_kws)}, {"role": "no model"}]
    }
    code = (
        BLOCKED + "import json; from tools import bench; "
        f"print(bench.board_table(json.loads({json.dumps(json.dumps(rows))})))"
    )
    out = run("-c", code)
    assert out.returncode == 0, out.stderr[-2000:]
    size = untrained_kws.stat().st_size
    assert (
        f"| ex2_a | this project | {size:,} | not measured | flash fits (margin "
        f"{1024**2 - size:+,} B); RAM not measured |"
    ) in out.stdout
    assert "Arena not measured: requirements-mcu.txt: tflite-micro is not installed" in out.stdout
    from tools import bench, mcu

    arena = mcu.footprint(untrained_kws.read_bytes())["arena_bytes"]
    line = bench.board_table(rows).splitlines()[2]
    assert line.startswith(f"| ex2_a | this project | {size:,} | {arena:,} | fits (margin flash ")
    assert line.endswith(f"RAM {512 * 1024 - arena:+,} B) |")


@pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler")
def test_c_export_compiles_to_the_same_bytes_and_front_end(untrained_kws, tmp_path):
    """The .cc/.h compiled by g++ into a program that writes the array and the constants out."""
    out = run("-m", "tools.c_export", str(untrained_kws), "--out-dir", str(tmp_path))
    assert out.returncode == 0 and out.stderr == "", out.stderr
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
    exe = tmp_path / "dump"
    build = subprocess.run(
        [
            "g++",
            "-std=c++17",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-o",
            str(exe),
            str(tmp_path / "main.cc"),
            str(tmp_path / "tiny_model.cc"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert build.returncode == 0, build.stderr
    dump = subprocess.run(
        [str(exe), str(tmp_path / "bytes.bin")], capture_output=True, text=True, timeout=30
    )
    assert (tmp_path / "bytes.bin").read_bytes() == untrained_kws.read_bytes()
    c = MFCC_16K
    assert dump.stdout.split() == [
        str(v)
        for v in (
            0,
            c.rate,
            c.frame_length,
            c.frame_step,
            c.fft_size,
            c.num_frames,
            c.num_mel_bins,
            f"{c.lower_frequency:g}",
            f"{c.upper_frequency:g}",
            c.num_coefficients,
            1,
            len(LABELS),
            *LABELS,
        )
    ]


def test_c_export_needs_the_sidecar(untrained_kws, tmp_path):
    lone = tmp_path / "lone.tflite"
    lone.write_bytes(untrained_kws.read_bytes())
    out = run("-m", "tools.c_export", str(lone))
    assert out.returncode == 1 and out.stderr.count("\n") == 1
    assert out.stderr.startswith(
        f"error: {tmp_path / 'lone.json'}: no sidecar JSON with a 'frontend'"
    )
    assert sorted(os.listdir(tmp_path)) == ["lone.tflite"]
    assert c_export.identifier("kws-a.v2") == "kws_a_v2" and c_export.identifier("2x") == "m_2x"
