"""Every command's flags have a help text, and every message that names a `--flag` names one
that exists on the command it is about. The parsers are taken from the commands themselves
(their own parse_args call is stopped); the messages are every string literal of common/*.py,
tools/*.py (arm_check.py aside), kws_inference.py and ex*.py (f-strings with their literal
parts): a flag belongs to the command the string names before it (`python -m tools.X`,
`exN_v.py`, `kws_inference.py`) in the same clause (no `;`, `. `, backtick or line end
between), else to the commands of the module it is in (a command's own module; forecast.py and
kws.py: their scripts; cli.py, pipeline.py: the five scripts). A flag in any other module must
come after the command it belongs to."""

import argparse
import ast
import contextlib
import importlib
import re
from unittest import mock

import pytest

from conftest import ROOT

SCRIPTS = ("ex1_a.py", "ex1_b.py", "ex2_a.py", "ex2_b.py", "ex2_c.py")
TOOLS = ("run_all", "bench", "evaluate", "search", "seasons", "folds", "mcu")
MODULES = {m: f"python -m tools.{m}" for m in (*TOOLS, "c_export")}


class Grabbed(BaseException):
    """Raised instead of parsing."""


def entry_point(command):
    if command in SCRIPTS:
        from common import pipeline

        spec = importlib.import_module(command[:-3]).VERSION
        return lambda argv: pipeline.run(spec, argv)
    if command == "kws_inference.py":
        return importlib.import_module("kws_inference").run
    module = importlib.import_module(command.split()[-1])
    return getattr(module, "run", None) or module.main


COMMANDS = [*SCRIPTS, "kws_inference.py", *MODULES.values()]


@pytest.fixture(scope="module")
def parsers():
    """{command: argparse parser}, taken from each command's own parse_args call."""
    found = {}

    def grab(self, args=None, namespace=None):
        found[command] = self
        raise Grabbed

    with mock.patch.object(argparse.ArgumentParser, "parse_args", grab):
        for command in COMMANDS:
            with contextlib.suppress(Grabbed):
                entry_point(command)([])
    assert sorted(found) == sorted(COMMANDS)
    return found


def flags_of(parser):
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--")}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_flag_has_a_help_text(parsers, command):
    missing = [
        a.option_strings or [a.dest]
        for a in parsers[command]._actions
        if not (a.help and a.help.strip()) and a.help != argparse.SUPPRESS
    ]
    assert missing == [], f"{command}: no help text for {missing}"


def strings(path):
    """(line, text) of every string literal, f-strings with their fields as {}."""
    nodes = list(ast.walk(ast.parse(path.read_text())))
    parts = {
        id(v) for n in nodes if isinstance(n, ast.JoinedStr) for v in ast.walk(n) if v is not n
    }
    for node in (n for n in nodes if id(n) not in parts):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            yield node.lineno, text
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            yield node.lineno, node.value


NAMED = re.compile(r"python -m ((?:common|tools)\.\w+)|\b(ex[12]_[abc]\.py|kws_inference\.py)\b")
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


def module_commands(path):
    """The commands whose messages a module's strings are, when they name none."""
    if path.parent == ROOT:
        return [path.name]
    stem = path.stem
    if stem in MODULES and MODULES[stem] == f"python -m {path.parent.name}.{stem}":
        return [MODULES[stem]]
    scripts = {"forecast": SCRIPTS[:2], "kws": SCRIPTS[2:], "cli": SCRIPTS, "pipeline": SCRIPTS}
    return list(scripts.get(stem, []))


def claims():
    """(file:line, command, flag) for every flag named in a message."""
    # tools/arm_check.py is left out: it drives pip, mmdebstrap and the scripts, whose flags
    # its messages name without a command (tests/test_arm_check.py covers it)
    files = (
        sorted((ROOT / "common").glob("*.py"))
        + sorted(p for p in (ROOT / "tools").glob("*.py") if p.name != "arm_check.py")
        + [ROOT / "kws_inference.py"]
        + sorted(ROOT.glob("ex*_*.py"))
    )
    for path in files:
        for line, text in strings(path):
            if " " not in text:  # an argv item ("--data"), not a message
                continue
            marks = [
                (m.start(), f"python -m {m.group(1)}" if m.group(1) else m.group(2))
                for m in NAMED.finditer(text)
            ]
            for flag in FLAG.finditer(text):
                # a named command's flags follow it in the same clause
                before = [
                    c
                    for at, c in marks
                    if at < flag.start() and not re.search(r"[`;\n]|\. ", text[at : flag.start()])
                ]
                for command in [before[-1]] if before else module_commands(path) or [None]:
                    yield f"{path.relative_to(ROOT)}:{line}", command, flag.group()


def test_every_flag_named_in_a_message_exists_on_its_command(parsers):
    found = list(claims())
    assert len(found) > 40  # the scan sees the messages
    wrong = [
        f"{where}: {flag} ({command or 'no command named'})"
        for where, command, flag in found
        if command is None or flag not in flags_of(parsers[command]) | {"--help"}
    ]
    assert wrong == []


def test_the_scan_catches_a_flag_of_another_command(parsers):
    """The case of issue 22: a shared module's hint named kws_inference.py's flag bare."""
    assert "--ignore-metadata" in flags_of(parsers["kws_inference.py"])
    assert "--ignore-metadata" not in flags_of(parsers["python -m tools.evaluate"])
    text = "leave the flag out, or --ignore-metadata to run the flags instead"
    path = ROOT / "common" / "modelfile.py"
    assert module_commands(path) == []  # a shared module: such a hint would be reported
    named = "or kws_inference.py --ignore-metadata to run the flags instead"
    assert [m.group(2) for m in NAMED.finditer(named)] == ["kws_inference.py"]
    assert FLAG.findall(text) == ["--ignore-metadata"]
