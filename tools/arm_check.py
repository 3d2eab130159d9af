"""The Raspberry Pi side on emulated ARM: kws_inference.py, both modes, on every keyword-spotting
model, in Debian arm64 (and armhf) userlands under qemu-user, compared with this x86 host.

    python tools/arm_check.py --models models   # the shipped models (python -m tools.run_all ...)
    python tools/arm_check.py                   # models built here (the scripts, --epochs 1)

Labels must equal x86's on arm64 (exit status 1 otherwise); armhf is reported without failing.
Needs Debian's qemu-user-static and mmdebstrap. Details: docs/raspberry-pi.md.
"""

import argparse
import concurrent.futures
import dataclasses
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # run as python tools/arm_check.py: kws_inference is ROOT's
import kws_inference  # noqa: E402
from common import cli  # noqa: E402

CACHE = os.path.join(ROOT, ".cache", "arm")
SHARED = os.path.join(ROOT, "..", "shared", "data")
EMULATED = "emulated: not a Pi's figure"
HOST_PYTHON = "{}.{}".format(*sys.version_info[:2])
SCRIPTS = {"ex2_a.py": "kws_a", "ex2_b.py": "kws_b", "ex2_c.py": "kws_c"}
QEMU = {"arm64": "qemu-aarch64-static", "armhf": "qemu-arm-static"}
WHEEL_ARCH = {"arm64": "aarch64", "armhf": "armv7l"}  # the wheels' platform tag suffix
GLIBC = {"bookworm": 36, "trixie": 41}  # glibc 2.N of the release: manylinux_2_17 ... 2_N fit
PYTHON = {"bookworm": "3.11", "trixie": "3.13"}  # the release's python3
GUEST_ENV = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1"}
# an ARM /proc/cpuinfo (a Pi 4's Cortex-A72 cores, without the board's own lines): Debian 12's
# qemu shows the guest the host's x86 one, and LiteRT's Interpreter() then segfaults
CPUINFO = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
    "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
    "CPU revision\t: 3\n\n"
    for i in range(4)
)
# one line [argv, exit status, what it printed] for each run, then numpy's and scipy's versions
DRIVER = """import contextlib, io, json, sys
import kws_inference
for argv in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        status = kws_inference.main(argv)
    print(json.dumps([argv, status, printed.getvalue()]), flush=True)
import numpy, scipy
print(f"numpy {numpy.__version__}, scipy {scipy.__version__}", flush=True)
"""


@dataclasses.dataclass(frozen=True)
class Suite:
    """A Debian release and architecture, emulated with the CPU of a Raspberry Pi."""

    release: str
    arch: str  # Debian architecture
    cpu: str  # qemu -cpu
    requirements: str = "requirements-pi.txt"
    from_pypi: tuple = ()  # only these requirement names from PyPI (the others: Debian's)
    debian: tuple = ()  # more Debian packages in the root
    strict: bool = True  # labels must equal x86's

    @property
    def name(self):
        return f"{self.release}-{self.arch}"


PI32 = {"from_pypi": ("tflite-runtime",), "debian": ("python3-numpy", "python3-scipy")}
SUITES = {
    s.name: s
    for s in (
        Suite("trixie", "arm64", "cortex-a76"),
        Suite("bookworm", "arm64", "cortex-a72"),
        Suite("bookworm", "armhf", "cortex-a15", "requirements-pi32.txt", strict=False, **PI32),
    )
}


class CheckError(Exception):
    """A step that cannot be done; its message names what and why."""


def call(cmd, what, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        output = r.stderr.strip() or r.stdout.strip()
        raise CheckError(f"{what} failed (exit status {r.returncode}): {output[-1500:]}")
    return r


def cached(folder, key, build):
    """Make `folder` with build() unless its stamp says it was made for `key` already."""
    stamp = os.path.join(folder, ".stamp")
    if os.path.isfile(stamp) and open(stamp).read() == key:
        return
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    build()
    with open(stamp, "w") as f:
        f.write(key)


def debian_archive():
    """The URI of this host's apt main suite, or None (mmdebstrap's default, with -security)."""
    targets = call(["apt-get", "indextargets", "--format", "$(REPO_URI) $(CODENAME)"], "apt-get")
    for line in targets.stdout.splitlines():
        uri, _, codename = line.partition(" ")
        if codename and "-" not in codename:
            return uri
    return None


def build_root(suite, root, packages):
    """Debian's `packages` unpacked (nothing run), with the BLAS/LAPACK links and ARM cpuinfo."""
    archive = debian_archive()
    options = ["--quiet", "--variant=extract", f"--architectures={suite.arch}", "--mode=root"]
    hooks = "/usr/share/mmdebstrap/hooks/merged-usr"
    options += [f"--hook-dir={hooks}", "--include=" + ",".join(packages)]
    mirror = [f"deb {archive} {suite.release} main"] if archive else []
    what = f"mmdebstrap {suite.release} {suite.arch}"
    call(["mmdebstrap", *options, suite.release, root, *mirror], what)
    for kind in ("blas", "lapack"):
        for source in glob.glob(os.path.join(root, "usr", "lib", "*", kind, f"lib{kind}.so.3")):
            link = os.path.join(os.path.dirname(os.path.dirname(source)), f"lib{kind}.so.3")
            if not os.path.lexists(link):
                os.symlink(os.path.join(kind, f"lib{kind}.so.3"), link)
    os.makedirs(os.path.join(root, "proc"), exist_ok=True)
    with open(os.path.join(root, "proc", "cpuinfo"), "w") as f:
        f.write(CPUINFO)


def requirement_lines(suite):
    """The lines of the suite's Pi requirements file that it takes from PyPI."""
    lines = [ln.strip() for ln in open(os.path.join(ROOT, suite.requirements))]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if suite.from_pypi:
        lines = [ln for ln in lines if re.split(r"[=<>!~; ]", ln)[0] in suite.from_pypi]
    return lines


def install_wheels(suite, root, lines):
    """The wheels of `lines` for the suite, installed into <root>/opt/pi-site by this host's pip."""
    arch, version = WHEEL_ARCH[suite.arch], PYTHON[suite.release]
    platforms = [f"manylinux_2_{n}_{arch}" for n in range(GLIBC[suite.release], 16, -1)]
    platforms.append(f"manylinux2014_{arch}")
    target = ["--only-binary=:all:", "--python-version", version, "--implementation", "cp"]
    target += [option for p in platforms for option in ("--platform", p)]
    if suite.from_pypi:
        target.append("--no-deps")
    wheels = os.path.join(CACHE, "wheels", f"cp{version.replace('.', '')}-{arch}")
    site = os.path.join(root, "opt", "pi-site")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    what = f"pip download for {suite.name} (cp{version}, {arch})"
    call([*pip, "download", "--dest", wheels, *target, *lines], what)
    install = [*pip, "install", "--no-index", "--no-compile", "--find-links", wheels]
    call([*install, "--target", site, *target, *lines], f"pip install for {suite.name}")
    if version == HOST_PYTHON:  # bytecode is the same on any machine: compiled here, not emulated
        compileall = [sys.executable, "-m", "compileall", "-q", "-j", "0", "-s", root, "-p", "/"]
        subprocess.run([*compileall, os.path.join(root, "usr", "lib"), site], capture_output=True)


def prepare(suite):
    """(command, environment) of the suite's guest Python, and the seconds preparing it took."""
    started = time.perf_counter()
    root = os.path.join(CACHE, "roots", suite.name)
    packages = ["python3", "base-files", "libstdc++6", *suite.debian]
    key = json.dumps([suite.release, suite.arch, packages])
    cached(root, key, lambda: build_root(suite, root, packages))
    site, lines = os.path.join(root, "opt", "pi-site"), requirement_lines(suite)
    key = json.dumps([PYTHON[suite.release], lines])
    cached(site, key, lambda: install_wheels(suite, root, lines))
    python = os.path.join(root, "usr", "bin", "python3")
    command = [shutil.which(QEMU[suite.arch]), "-cpu", suite.cpu, "-L", root, python]
    return command, {**GUEST_ENV, "PYTHONPATH": site}, time.perf_counter() - started


def runs_of(models, wav_dir, latency_runs, alone_dir):
    """kws_inference.py argvs: each model's latency mode, then --wav on a copy of it alone."""
    os.makedirs(alone_dir, exist_ok=True)
    argvs = []
    for m in models:
        alone = os.path.join(alone_dir, os.path.basename(m))
        shutil.copyfile(m, alone)
        zipped = m + ".zip" if os.path.isfile(m + ".zip") else m
        argvs.append(["--model", zipped, "--runs", str(latency_runs), "--json"])
        argvs.append(["--model", alone, "--wav", wav_dir, "--json"])
    return argvs


def run_driver(command, argvs, env=None):
    """DRIVER run by `command`: [(argv, status, its --json or None)], versions, stderr, seconds."""
    started = time.perf_counter()
    driver = [*command, "-c", DRIVER, json.dumps(argvs)]
    r = subprocess.run(driver, cwd=ROOT, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    lines = r.stdout.splitlines()
    if r.returncode != 0 or len(lines) != len(argvs) + 1:
        raise CheckError(
            f"{' '.join(command[:2])}: the guest stopped (exit status {r.returncode}) after "
            f"{min(len(lines), len(argvs))} of {len(argvs)} runs: {r.stderr.strip()[-1500:]}"
        )
    results = []
    for line in lines[:-1]:
        argv, status, printed = json.loads(line)
        results.append((argv, status, json.loads(printed) if printed else None))
    return results, lines[-1], r.stderr, seconds


def wav_rows(report):
    """{path: (label, score)} of a --wav run."""
    return {f["path"]: (f["label"], f["score"]) for f in report["wav"]["files"]}


def os_words(results):
    """The OS side (distribution, userland, Python, interpreter) that the runs reported."""
    return next((r["machine"]["os"] for _, _, r in results if r), "?")


def compare(x86, arm):
    """Report lines and problems (a list; a strict suite fails on any)."""
    lines, problems = [], []
    for (argv, status, out), (_, ref_status, ref) in zip(arm, x86):
        model = os.path.basename(argv[1]) + (" (alone)" if "--wav" in argv else "")
        if status != 0 or ref_status != 0 or out is None:
            flags = " ".join(argv[2:])
            problems.append(f"{model} {flags}: exit status {status} (x86: {ref_status})")
            continue
        if (out["frontend"], out["labels"]) != (ref["frontend"], ref["labels"]):
            other = f"{out['frontend']}, {out['labels']}"
            problems.append(f"{model}: another front end or labels than on x86: {other}")
        if "--wav" not in argv:
            ms = [r["latency"]["inference_ms"]["mean"] for r in (out, ref)]
            latency = f"Inference Latency {ms[0]:.2f}ms ({EMULATED}; x86 LiteRT: {ms[1]:.2f}ms)"
            lines.append(f"  {model} latency mode: exit 0, {latency}")
            lines.append(f"    {kws_inference.limit_line(out)}")
            continue
        rows, ref_rows = wav_rows(out), wav_rows(ref)
        same = sum(rows.get(p, (None,))[0] == lab for p, (lab, _) in ref_rows.items())
        diffs = [abs(rows[p][1] - s) for p, (_, s) in ref_rows.items() if p in rows]
        diff = max(diffs, default=float("nan"))
        accuracy = [r["wav"]["accuracy"] for r in (out, ref)]
        accuracy = ["-" if a is None else f"{100 * a:.2f}" for a in accuracy]
        n = len(ref_rows)
        lines.append(
            f"  {model} --wav: {len(rows)} of {n} files labelled, labels equal to x86: "
            f"{same}/{n} ({100 * (n - same) / max(n, 1):.2f} % differ), "
            f"largest score difference {diff:.3f}, accuracy {accuracy[0]} % (x86 {accuracy[1]} %)"
        )
        if same != n or len(rows) != n:
            problems.append(f"{model} --wav: {n - same} of {n} labels differ from x86")
    return lines, problems


def check(suite, argvs, x86, guest):
    """(header, problems, lines) of the runs in the suite's guest (a prepare() future)."""
    label = f"{suite.name} (qemu -cpu {suite.cpu})"
    try:
        command, env, prepared = guest.result()
        runs, versions, _, seconds = run_driver(command, argvs, env)
    except CheckError as e:
        return label, [str(e)], []
    lines, problems = compare(x86, runs)
    timing = f"prepared in {prepared:.0f} s, emulated runs {seconds:.0f} s"
    return f"{label}: {os_words(runs)}; {versions}; {timing}", problems, lines


def build_models(shared, out, every):
    """The three scripts' models, --epochs 1, on every `every`-th line of the shared split files."""
    split = os.path.join(out, "split")
    os.makedirs(split)
    for which in ("train", "val", "test"):
        name = f"kws_split_{which}.txt"
        lines = open(os.path.join(shared, "mini_speech_commands_split", name)).read().split()
        with open(os.path.join(split, name), "w") as f:
            f.write("\n".join(lines[::every]) + "\n")
    models = os.path.join(out, "models")
    data = os.path.join(shared, "mini_speech_commands")
    flags = ["--data", data, "--split-dir", split, "--out-dir", models, "--epochs", "1"]
    for script, name in SCRIPTS.items():
        started = time.perf_counter()
        command = [sys.executable, script, *flags, "--latency-runs", "5", "--quiet"]
        call(command, f"{script} --epochs 1", cwd=ROOT)
        print(
            f"built {name}.tflite ({script} --epochs 1, every {every}th file of the shared split): "
            f"{time.perf_counter() - started:.0f} s"
        )
    return models


def wav_folder(shared, out, split_file):
    """A folder of <label>/<file>.wav links to the files of a split file."""
    folder = os.path.join(out, "wavs")
    for line in open(split_file).read().split():
        label, name = line.split("/")[-2:]
        os.makedirs(os.path.join(folder, label), exist_ok=True)
        wav = os.path.join(shared, "mini_speech_commands", label, name)
        os.symlink(wav, os.path.join(folder, label, name))
    return folder


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python tools/arm_check.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--models", help="folder of kws_*.tflite (default: build them, --epochs 1)")
    p.add_argument("--shared", default=SHARED, help="the shared data (default: ../shared/data)")
    p.add_argument("--suites", nargs="*", default=list(SUITES), choices=list(SUITES))
    p.add_argument("--wavs", help="a <label>/<file>.wav folder or split file (default: test split)")
    every = "models on every N-th file, N from 1 to 1,000 (default: 4)"
    p.add_argument("--every", type=cli.within(1, 1000), default=4, help=every)
    runs = f"timed runs of each model, 1 to {cli.MAX_RUNS:,} (default: 20)"
    p.add_argument("--latency-runs", type=cli.within(1, cli.MAX_RUNS), default=20, help=runs)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    shared = os.path.abspath(args.shared)
    if args.models and not os.path.isdir(args.models):
        raise CheckError(f"{args.models}: no such folder; expected kws_*.tflite in it (--models)")
    needs_shared = not args.models or not (args.wavs and os.path.isdir(args.wavs))
    if needs_shared and not os.path.isdir(os.path.join(shared, "mini_speech_commands")):
        raise CheckError(
            f"{shared}: no mini_speech_commands/ in it; expected the shared data folder "
            "(--shared), or --models and a --wavs folder"
        )
    if args.wavs and not os.path.exists(args.wavs):
        raise CheckError(f"{args.wavs}: no such folder or split file (--wavs)")
    suites = [SUITES[name] for name in args.suites]
    for tool in ["mmdebstrap", *sorted({QEMU[s.arch] for s in suites})]:
        if not shutil.which(tool):
            raise CheckError(
                f"{tool}: not found; expected Debian's qemu-user-static and mmdebstrap "
                "(apt-get install qemu-user-static mmdebstrap)"
            )
    failed = []
    with (
        tempfile.TemporaryDirectory(prefix="arm_check.") as tmp,
        concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool,
    ):
        # roots and wheels are prepared (downloads, unpacking) while the models are built
        guests = [pool.submit(prepare, s) for s in suites]
        models_dir = args.models or build_models(shared, tmp, args.every)
        models = sorted(glob.glob(os.path.join(os.path.abspath(models_dir), "kws_*.tflite")))
        if not models:
            raise CheckError(f"{models_dir}: no kws_*.tflite; expected the keyword-spotting models")
        wavs = args.wavs or os.path.join(shared, "mini_speech_commands_split", "kws_split_test.txt")
        wav_dir = os.path.abspath(wavs) if os.path.isdir(wavs) else wav_folder(shared, tmp, wavs)
        argvs = runs_of(models, wav_dir, args.latency_runs, os.path.join(tmp, "alone"))
        x86, x86_versions, _, seconds = run_driver([sys.executable], argvs)
        print(
            f"x86 reference: {len(models)} models ({', '.join(map(os.path.basename, models))}), "
            f"{len(wav_rows(x86[1][2]))} wavs, {x86_versions} ({seconds:.0f} s)"
        )
        checks = [pool.submit(check, s, argvs, x86, g) for s, g in zip(suites, guests)]
        for suite, future in zip(suites, checks):  # in the order asked
            header, problems, lines = future.result()
            verdict = "FAIL" if suite.strict else "DIFFERS (reported, not failing)"
            print(f"{header}: {verdict if problems else 'PASS'}")
            for line in lines + [f"  problem: {p}" for p in problems]:
                print(line)
            if problems and suite.strict:
                failed.append(suite.name)
    verdict = "FAIL: " + ", ".join(failed) if failed else "PASS"
    print(f"ARM check: {verdict} ({time.perf_counter() - started:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.stdout.reconfigure(line_buffering=True)  # each line into CI's log as it comes
    try:
        sys.exit(main())
    except CheckError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
