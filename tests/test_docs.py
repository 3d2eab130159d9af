"""The documentation quotes no figure typed by hand (docs/results.md says how).

- README.md has at most 250 lines.
- In README.md and docs/*.md a quoted figure sits in a block

      <!-- figures: docs/results/FILE [docs/results/OTHER ...] -->  ...  <!-- /figures -->

  and every number of the block is a value of its source files: a number of the text of a
  markdown or text source (thousands separators aside), or a numeric value of a JSON source,
  itself or as a percentage, at the number of decimals quoted.
- Outside the blocks there is no measured figure (a number with a unit, or a decimal), except
  what is specification, checked against the code that defines it: the limits
  (common/constraints.TABLE), the front-end settings, the five versions' declarations and the
  bounds and constants listed in SPEC below; and software versions, checked against the
  requirements files.
- Every generated file in docs/results/ is described in docs/results.md, and every relative
  link of the documentation leads to a file.
"""

import dataclasses
import importlib
import inspect
import json
import re

import pytest

from conftest import ROOT
from common import constraints, forecast
from common.frontend_np import MFCC_8K, MFCC_16K, FrontEnd

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "docs" / "results"
MAX_README_LINES = 250

BLOCK = re.compile(r"<!-- figures: (?P<sources>[^>]+?) -->(?P<body>.*?)<!-- /figures -->", re.S)
UNITS = {  # unit as written -> (dimension, factor to the dimension's base unit)
    "%": ("percent", 1),
    "°C": ("celsius", 1),
    "B": ("bytes", 1),
    "bytes": ("bytes", 1),
    "kB": ("bytes", 1024),
    "KB": ("bytes", 1024),
    "KiB": ("bytes", 1024),
    "MB": ("bytes", 2**20),
    "MiB": ("bytes", 2**20),
    "GB": ("bytes", 2**30),
    "GiB": ("bytes", 2**30),
    "ms": ("seconds", 1e-3),
    "s": ("seconds", 1),
    "min": ("seconds", 60),
    "h": ("seconds", 3600),
    "Hz": ("hertz", 1),
    "kHz": ("hertz", 1000),
    "dB": ("decibels", 1),
    "x": ("factor", 1),
    "×": ("factor", 1),
    "points": ("points", 1),
    "point": ("points", 1),
    "pt": ("points", 1),
}
_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
# a number not glued to a word (ex2_a, int8, 16x8, a commit hash) nor part of a version (2.21.0)
NUMBER = re.compile(
    r"(?<![\w.,])(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?!\.\d)"
    rf"(?:\s?(?P<unit>{_UNIT})(?!\w)|(?!\w))"
)
VERSIONED = re.compile(r"([A-Za-z][\w.-]*)(?:\s+|==)$")  # 'Python 3.11', 'tflite-runtime 2.14'

# Specification outside common/constraints.TABLE, the front-end presets and the versions'
# declarations: (module, constant, the unit of its numbers).
SPEC = [
    ("common.wav", "MAX_BYTES", "B"),
    ("common.wav", "MIN_RATE", "Hz"),
    ("common.wav", "MAX_RATE", "Hz"),
    ("common.wav", "MAX_SECONDS", "s"),
    ("common.wav", "BASE_RATE", "Hz"),
    ("common.tflite_io", "MAX_MODEL_BYTES", "B"),
    ("common.modelfile", "MAX_JSON_BYTES", "B"),
    ("common.frontend_np", "BOUNDS", None),
    ("common.jena", "JENA_BYTES", "B"),
    ("common.jena", "PLAUSIBLE", None),
    ("common.jena", "SPLITS", "share"),
    ("common.jena", "MAX_DROPPED_SHARE", "share"),
    ("common.kws_data", "ARCHIVE", "B"),
    ("common.litert", "SOURCE_RATE", "Hz"),
    ("common.outputs", "LOCK_WAIT_S", "s"),
    ("common.plots", "STEP_MINUTES", "min"),
    ("tools.search_space", "TARGETS", None),
    ("tools.search_space", "RATE", "Hz"),
    ("tools.mcu", "BOARDS", "B"),
    ("common.forecast", "plausible_levels", None),
    ("common.constraints", "KB", "B"),
]
BY_NAME = {
    "mae_t": "°C",
    "mae_rh": "%",
    "T (degC)": "°C",
    "rh (%)": "%",
    "zip_bytes": "B",
    "rate": "Hz",
    "invoke_ratio": "x",
    "total_ratio": "x",
    "shift_ms": "ms",
    "gain_db": "dB",
    "lower_frequency": "Hz",
    "upper_frequency": "Hz",
    "pi_inference_ms": "ms",
    "pi_total_ms": "ms",
    "initial_sparsity": "share",
    "final_sparsity": "share",
    "t_range": "°C",
    "rh_range": "%",
}


def numbers(text):
    """(line number, the number as written, its value, its unit or None, the text before it)
    of every number."""
    for m in NUMBER.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        yield (
            line,
            m["number"],
            float(m["number"].replace(",", "")),
            m["unit"],
            text[max(0, m.start() - 40) : m.start()],
        )


def in_fence(text, position):
    """Whether `position` is inside a fenced code block (``` lines)."""
    return len(re.findall(r"^```", text[:position], re.M)) % 2 == 1


def blocks(text):
    """(first line, source patterns, source paths, body) of every figures block; a block shown
    inside a fenced code example is none."""
    for m in BLOCK.finditer(text):
        if in_fence(text, m.start()):
            continue
        sources = [p for pattern in m["sources"].split() for p in sorted(ROOT.glob(pattern))]
        yield text.count("\n", 0, m.start()) + 1, m["sources"].split(), sources, m["body"]


def outside_blocks(text):
    """The text with every block blanked (its line breaks kept, so line numbers hold)."""
    return BLOCK.sub(
        lambda m: m.group(0) if in_fence(text, m.start()) else "\n" * m.group(0).count("\n"), text
    )


def source_values(path):
    """What a number quoted from `path` may be: its numbers as written (markdown, text), or a
    function telling whether a quoted number is one of its values (JSON)."""
    if path.suffix == ".json":
        values = []

        def walk(v):
            if isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                values.append(v)

        walk(json.loads(path.read_text()))
        return lambda written: any(
            f"{x:.{decimals(written)}f}" == written.replace(",", "")
            for v in values
            for x in (v, 100 * v)
        )
    found = {n.replace(",", "") for _, n, _, _, _ in numbers(path.read_text())}
    return lambda written: written.replace(",", "") in found


def decimals(written):
    return len(written.split(".")[1]) if "." in written else 0


def quantity(value, unit):
    dimension, factor = UNITS[unit] if unit else ("plain", 1)
    return dimension, round(value * factor, 6)


def leaves(obj):
    """(field name or None, number) of every number in a constant or declaration."""
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            for name, v in leaves(getattr(obj, f.name)):
                yield name or f.name, v
    elif isinstance(obj, dict):
        for key, value in obj.items():
            for name, v in leaves(value):
                yield name or str(key), v
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from leaves(value)
    elif callable(obj):  # a function: its defaults
        yield from leaves(
            {
                name: p.default
                for name, p in inspect.signature(obj).parameters.items()
                if p.default is not inspect.Parameter.empty
            }
        )
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield None, obj


def spec_quantities():
    """Every specified value, in each dimension it may be written in."""
    found = set()

    def add(value, unit):
        value = abs(value)
        found.add(quantity(value, None))
        if unit == "share":
            found.add(quantity(100 * value, "%"))
        elif unit is not None:
            found.add(quantity(value, unit))

    for e in constraints.TABLE:
        for metric, limit in e.limits.items():
            add(
                100 * limit if metric == "accuracy" else limit,
                "%" if metric == "accuracy" else BY_NAME[metric],
            )
    from tools import declared

    from common.modelfile import COURSE_DEFAULTS

    front_ends = [MFCC_16K, MFCC_8K, FrontEnd(), COURSE_DEFAULTS]
    front_ends += [v.frontend for v in declared.DECLARED.values() if hasattr(v, "frontend")]
    recipes = [forecast.seed_recipe(e.version, "", None) for e in constraints.of_exercise("ex1")]
    for fe in front_ends:
        for name in ("frame_length", "frame_step", "fft_length"):  # samples, and as a duration
            add(getattr(fe, name) / fe.rate, "s")
        seconds = next(
            s
            for s in (1, 2, 3)
            if fe.num_frames == 1 + (s * fe.rate - fe.frame_length) // fe.frame_step
        )
        add(seconds, "s")  # the length of a clip
    for obj in [*front_ends, *declared.DECLARED.values(), *recipes]:
        for name, v in leaves(obj):
            add(v, BY_NAME.get(name))
    for module, constant, unit in SPEC:
        for name, v in leaves(getattr(importlib.import_module(module), constant)):
            add(v, unit or BY_NAME.get(name))
    return found


def pinned_versions():
    """'name' -> the versions the requirements files name for it (pins and their comments)."""
    text = "\n".join(p.read_text() for p in ROOT.glob("requirements*.txt")).lower()
    found = {}
    for name, version in re.findall(r"([a-z][\w.-]*)(?:\[\w+\])?(?:==|\s+)(\d+(?:\.\d+)+)", text):
        found.setdefault(name.replace("_", "-"), set()).add(version)
    return found


def is_pinned_version(written, before, pins):
    m = VERSIONED.search(before)
    if not m or "." not in written:
        return False
    return any(
        v == written or v.startswith(written + ".")
        for v in pins.get(m[1].lower().replace("_", "-"), ())
    )


def problems(path, text, spec, pins):
    """What is wrong with the figures of one document, one line each."""
    found = []
    name = path.relative_to(ROOT)
    for line, patterns, sources, body in blocks(text):
        if not sources or any(not s.is_relative_to(RESULTS) for s in sources):
            found.append(
                f"{name}:{line}: block sources {patterns}: expected files in docs/results/"
            )
            continue
        checks = [source_values(s) for s in sources]
        quoted = list(numbers(body))
        if not quoted:
            found.append(f"{name}:{line}: a figures block without a number")
        for offset, written, _, _, _ in quoted:
            if not any(check(written) for check in checks):
                found.append(
                    f"{name}:{line + offset - 1}: {written} is not a value of {', '.join(patterns)}"
                )
    for line, written, value, unit, before in numbers(outside_blocks(text)):
        if unit is None and "." not in written:
            continue  # a count, a seed, an option value: not a measured figure
        if unit is None and is_pinned_version(written, before, pins):
            continue
        if quantity(value, unit) not in spec:
            found.append(
                f"{name}:{line}: {written}{' ' + unit if unit else ''} typed outside a figures "
                "block, and not a limit, setting or bound of the code"
            )
    return found


@pytest.fixture(scope="module")
def spec():
    return spec_quantities()


@pytest.fixture(scope="module")
def pins():
    return pinned_versions()


def test_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= MAX_README_LINES


def test_ci_runs_the_readmes_test_command():
    """The README's command 2 ends with the test command; .ci/run runs exactly that line."""
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"^# 2\..*\n(.+)$", readme, re.M)[1].split(" && ")[-1]
    assert command.startswith("python -m pytest")
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_figure_comes_from_a_generated_file_or_the_code(path, spec, pins):
    found = problems(path, path.read_text(), spec, pins)
    assert not found, "\n" + "\n".join(found)


def test_the_check_fails_on_a_typed_figure(spec, pins):
    """A figure typed outside a block, a block number its file does not hold, a limit that is
    not the table's: each is found. The limits and the file's own numbers pass."""
    page = (RESULTS / "RESULTS.md").read_text()
    quoted = next(w for _, w, _, _, _ in numbers(page) if "." in w)
    altered = quoted[:-1] + str((int(quoted[-1]) + 1) % 10)
    assert altered.replace(",", "") not in {w.replace(",", "") for _, w, _, _, _ in numbers(page)}
    doc = ROOT / "docs" / "example.md"
    ok = (
        f"Size limit of ex2_a: < 25 kB; accuracy > 90 %.\n<!-- figures: docs/results/RESULTS.md -->\n"
        f"| {quoted} |\n<!-- /figures -->\nPython 3.11, tflite-runtime 2.14.\n"
    )
    assert problems(doc, ok, spec, pins) == []
    typed = f"The model reaches {quoted} % on the test split.\n"
    assert problems(doc, typed, spec, pins) == [
        f"docs/example.md:1: {quoted} % typed outside a figures block, and not a limit, setting or "
        "bound of the code"
    ]
    wrong = f"<!-- figures: docs/results/RESULTS.md -->\n| {altered} |\n<!-- /figures -->\n"
    assert problems(doc, wrong, spec, pins) == [
        f"docs/example.md:2: {altered} is not a value of docs/results/RESULTS.md"
    ]
    assert (
        len(problems(doc, "Size limit of ex2_a: < 26 kB; Python 3.10; 0.15x.\n", spec, pins)) == 3
    )


def test_a_json_value_is_matched_at_the_quoted_decimals(spec, pins):
    source = RESULTS / "folds" / "ex2_a.m099re.json"
    value = json.loads(source.read_text())["int8"]
    block = f"<!-- figures: {source.relative_to(ROOT)} -->\n| {100 * value:.2f} % | {value:.3f} |\n<!-- /figures -->\n"
    assert problems(ROOT / "docs" / "x.md", block, spec, pins) == []
    off = block.replace(f"{100 * value:.2f}", f"{100 * value + 0.01:.2f}")
    assert len(problems(ROOT / "docs" / "x.md", off, spec, pins)) == 1


def test_every_generated_file_is_described():
    described = (ROOT / "docs" / "results.md").read_text()
    for path in sorted(p for p in RESULTS.rglob("*") if p.is_file()):
        relative = str(path.relative_to(ROOT / "docs"))
        folder = str(path.parent.relative_to(ROOT / "docs")) + "/"
        assert relative in described or (folder != "results/" and folder in described), relative


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_relative_links_lead_to_files(path):
    for target in re.findall(r"\]\(([^)#\s]+)", path.read_text()):
        if not re.match(r"[a-z]+:", target):
            assert (path.parent / target).exists(), f"{path.name}: {target}"
