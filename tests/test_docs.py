"""The documentation quotes no figure typed by hand (docs/results.md says how). README.md has
at most 250 lines. In README.md and docs/*.md a quoted figure sits in a block
`<!-- figures: docs/results/FILE [docs/results/OTHER ...] --> ... <!-- /figures -->`, and each
number of the block is a value of its sources: a number of a markdown or text source's text
(thousands separators aside), or a numeric value of a JSON source, itself or as a percentage,
at the decimals quoted. Outside the blocks there is no measured figure (a number with a unit,
or a decimal) but specification, checked against the code defining it (common/constraints.TABLE,
the front-end settings, the versions' declarations, the constants of SPEC), and software
versions, checked against the requirements files. Every generated file in docs/results/ is
described in docs/results.md, every relative link of the documentation leads to a file, and
every test it names (`test_x.py::test_y`) exists."""

import dataclasses
import functools
import importlib
import inspect
import json
import re

import pytest

from conftest import ROOT
from common import constraints, forecast
from common.frontend_np import MFCC_8K, MFCC_16K, FrontEnd
from common.modelfile import COURSE_DEFAULTS

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RESULTS = ROOT / "docs" / "results"
MAX_README_LINES = 250

BLOCK = re.compile(r"<!-- figures: (?P<sources>[^>]+?) -->(?P<body>.*?)<!-- /figures -->", re.S)
UNITS = {  # unit as written -> (dimension, factor to the dimension's base unit)
    unit: (dimension, factor)
    for dimension, factors in {
        "percent": {"%": 1},
        "celsius": {"°C": 1},
        "bytes": {"B bytes": 1, "kB KB KiB": 2**10, "MB MiB": 2**20, "GB GiB": 2**30},
        "seconds": {"ms": 1e-3, "s": 1, "min": 60, "h": 3600},
        "hertz": {"Hz": 1, "kHz": 1000},
        "decibels": {"dB": 1},
        "factor": {"x ×": 1},
        "points": {"points point pt": 1},
    }.items()
    for units, factor in factors.items()
    for unit in units.split()
}
_UNIT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
# a number not glued to a word (ex2_a, int8, 16x8, a commit hash) nor part of a version (2.21.0)
NUMBER = re.compile(
    r"(?<![\w.,])(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?!\.\d)"
    rf"(?:\s?(?P<unit>{_UNIT})(?!\w)|(?!\w))"
)
VERSIONED = re.compile(r"([A-Za-z][\w.-]*)(?:\s+|==)$")  # 'Python 3.11', 'tflite-runtime 2.14'

# Specification outside common/constraints.TABLE, the front-end presets and the versions'
# declarations: "module.CONSTANT" -> the unit of its numbers (None: by their names, BY_NAME).
SPEC = {
    "common.wav.MAX_BYTES": "B",
    "common.wav.MIN_RATE": "Hz",
    "common.wav.MAX_RATE": "Hz",
    "common.wav.MAX_SECONDS": "s",
    "common.wav.BASE_RATE": "Hz",
    "common.tflite_io.MAX_MODEL_BYTES": "B",
    "common.modelfile.MAX_JSON_BYTES": "B",
    "common.kws_data.MAX_LIST_BYTES": "B",
    "common.jena.MAX_CSV_BYTES": "B",
    "common.download.TIMEOUT_S": "s",
    "common.download.LOCK_WAIT_S": "s",
    "common.frontend_np.BOUNDS": None,
    "common.jena.JENA_BYTES": "B",
    "common.jena.PLAUSIBLE": None,
    "common.jena.SPLITS": "share",
    "common.jena.MAX_DROPPED_SHARE": "share",
    "common.kws_data.ARCHIVE": "B",
    "common.litert.SOURCE_RATE": "Hz",
    "common.outputs.LOCK_WAIT_S": "s",
    "common.plots.STEP_MINUTES": "min",
    "tools.search_space.TARGETS": None,
    "tools.search_space.RATE": "Hz",
    "tools.mcu.BOARDS": "B",
    "common.forecast.plausible_levels": None,
    "common.constraints.KB": "B",
}
# the unit of a number by the name of its field
BY_NAME = {
    name: unit
    for unit, names in {
        "°C": ["mae_t", "T (degC)", "t_range"],
        "%": ["mae_rh", "rh (%)", "rh_range"],
        "B": ["zip_bytes"],
        "Hz": ["rate", "lower_frequency", "upper_frequency"],
        "x": ["invoke_ratio", "total_ratio"],
        "ms": ["shift_ms", "pi_inference_ms", "pi_total_ms"],
        "dB": ["gain_db"],
        "share": ["initial_sparsity", "final_sparsity"],
    }.items()
    for name in names
}


def numbers(text):
    """(line number, the number as written, its unit or None, the text before it) of every
    number."""
    for m in NUMBER.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        yield line, m["number"], m["unit"], text[max(0, m.start() - 40) : m.start()]


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
        values = [x for _, v in leaves(json.loads(path.read_text())) for x in (v, 100 * v)]

        def holds(written):
            decimals = len(written.partition(".")[2])
            return any(f"{x:.{decimals}f}" == written.replace(",", "") for x in values)

        return holds
    found = {n.replace(",", "") for _, n, _, _ in numbers(path.read_text())}
    return lambda written: written.replace(",", "") in found


def quantity(value, unit):
    dimension, factor = UNITS[unit] if unit else ("plain", 1)
    return dimension, round(value * factor, 6)


def leaves(obj):
    """(field name or None, number) of every number in a constant or declaration."""
    if dataclasses.is_dataclass(obj):
        obj = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    elif callable(obj):  # a function: its defaults
        parameters = inspect.signature(obj).parameters.items()
        obj = {n: p.default for n, p in parameters if p.default is not p.empty}
    if isinstance(obj, dict):
        for key, value in obj.items():
            for name, v in leaves(value):
                yield name or str(key), v
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from leaves(value)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        yield None, obj


@functools.cache
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
            share = metric == "accuracy"
            add(100 * limit if share else limit, "%" if share else BY_NAME[metric])
    from tools import declared

    front_ends = [MFCC_16K, MFCC_8K, FrontEnd(), COURSE_DEFAULTS]
    front_ends += [v.frontend for v in declared.DECLARED.values() if hasattr(v, "frontend")]
    recipes = [forecast.seed_recipe(e.version, "", None) for e in constraints.of_exercise("ex1")]
    for fe in front_ends:
        for name in ("frame_length", "frame_step", "fft_length"):  # samples, and as a duration
            add(getattr(fe, name) / fe.rate, "s")
        frames = {1 + (s * fe.rate - fe.frame_length) // fe.frame_step: s for s in (3, 2, 1)}
        add(frames[fe.num_frames], "s")  # the length of a clip
    for obj in [*front_ends, *declared.DECLARED.values(), *recipes]:
        for name, v in leaves(obj):
            add(v, BY_NAME.get(name))
    for where, unit in SPEC.items():
        module, constant = where.rsplit(".", 1)
        for name, v in leaves(getattr(importlib.import_module(module), constant)):
            add(v, unit or BY_NAME.get(name))
    return found


@functools.cache
def pinned_versions():
    """'name' -> the versions the requirements files name for it (pins and their comments)."""
    text = "\n".join(p.read_text() for p in ROOT.glob("requirements*.txt")).lower()
    found = {}
    for name, version in re.findall(r"([a-z][\w.-]*)(?:\[\w+\])?(?:==|\s+)(\d+(?:\.\d+)+)", text):
        found.setdefault(name.replace("_", "-"), set()).add(version)
    return found


def is_pinned_version(written, before):
    m = VERSIONED.search(before)
    pins = pinned_versions().get(m[1].lower().replace("_", "-"), ()) if m else ()
    return "." in written and any(v == written or v.startswith(written + ".") for v in pins)


def problems(path, text):
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
        for offset, written, _, _ in quoted:
            if not any(check(written) for check in checks):
                found.append(
                    f"{name}:{line + offset - 1}: {written} is not a value of {', '.join(patterns)}"
                )
    for line, written, unit, before in numbers(outside_blocks(text)):
        if unit is None and "." not in written:
            continue  # a count, a seed, an option value: not a measured figure
        if unit is None and is_pinned_version(written, before):
            continue
        if quantity(float(written.replace(",", "")), unit) not in spec_quantities():
            found.append(
                f"{name}:{line}: {written}{' ' + unit if unit else ''} typed outside a figures "
                "block, and not a limit, setting or bound of the code"
            )
    return found


def test_readme_is_short_and_ci_runs_its_test_command():
    """The README's command 2 ends with the test command; .ci/run runs exactly that line."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= MAX_README_LINES
    command = re.search(r"^# 2\..*\n(.+)$", readme, re.M)[1].split(" && ")[-1]
    assert command.startswith("python -m pytest")
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_every_figure_comes_from_a_generated_file_or_the_code_and_links_lead_to_files(path):
    text = path.read_text()
    found = problems(path, text)
    for target in re.findall(r"\]\(([^)#\s]+)", text):
        if not re.match(r"[a-z]+:", target) and not (path.parent / target).exists():
            found.append(f"{path.name}: the link {target} leads to no file")
    for line in text.splitlines():  # `test_x.py::test_y`, then `::test_z` of the same file
        module = None
        for named, test in re.findall(r"(test_\w+\.py)?::(test_\w+)", line):
            module = named or module
            if not re.search(rf"^def {test}\(", (ROOT / "tests" / module).read_text(), re.M):
                found.append(f"{path.name}: {module}::{test} names no test")
    assert not found, "\n" + "\n".join(found)


def block(source, body):
    """A figures block quoting `body` from `source`, a path relative to the repository."""
    return f"<!-- figures: {source} -->\n| {body} |\n<!-- /figures -->\n"


def test_the_check_fails_on_a_typed_figure():
    """A figure typed outside a block, a block number its file does not hold (a JSON value at
    other decimals), a limit that is not the table's: each is found. The limits and the
    file's own numbers pass."""
    page = (RESULTS / "RESULTS.md").read_text()
    quoted = next(w for _, w, _, _ in numbers(page) if "." in w)
    altered = quoted[:-1] + str((int(quoted[-1]) + 1) % 10)
    assert altered.replace(",", "") not in {w.replace(",", "") for _, w, _, _ in numbers(page)}
    doc, source = ROOT / "docs" / "example.md", "docs/results/RESULTS.md"
    limits = "Size limit of ex2_a: < 25 kB; accuracy > 90 %.\n"
    assert problems(doc, limits + block(source, quoted) + "Python 3.11, tflite-runtime 2.14.") == []
    assert problems(doc, f"The model reaches {quoted} % on the test split.\n") == [
        f"docs/example.md:1: {quoted} % typed outside a figures block, and not a limit, setting or "
        "bound of the code"
    ]
    assert problems(doc, block(source, altered)) == [
        f"docs/example.md:2: {altered} is not a value of {source}"
    ]
    assert len(problems(doc, "Size limit of ex2_a: < 26 kB; Python 3.10; 0.15x.\n")) == 3
    # a JSON source: its value, itself or as a percentage, at the quoted decimals
    source = "docs/results/folds/ex2_a.m099re.json"
    value = json.loads((ROOT / source).read_text())["int8"]
    assert problems(doc, block(source, f"{100 * value:.2f} % | {value:.3f}")) == []
    assert len(problems(doc, block(source, f"{100 * value + 0.01:.2f} % | {value:.3f}"))) == 1


def test_every_generated_file_is_described():
    described = (ROOT / "docs" / "results.md").read_text()
    for path in sorted(p for p in RESULTS.rglob("*") if p.is_file()):
        relative = str(path.relative_to(ROOT / "docs"))
        folder = str(path.parent.relative_to(ROOT / "docs")) + "/"
        assert relative in described or (folder != "results/" and folder in described), relative
