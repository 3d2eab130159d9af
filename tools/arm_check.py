"""The Raspberry Pi side on emulated ARM: kws_inference.py, both modes, on every keyword-spotting
model, in Debian arm64 (and armhf) userlands under qemu-user, compared with this x86 host.

    python tools/arm_check.py --models models   # the shipped models (python -m tools.run_all ...)
    python tools/arm_check.py                   # models built here (the scripts, --epochs 1)

Needs Debian's qemu-user-static and mmdebstrap (`apt-get install qemu-user-static mmdebstrap`),
the host's Python with requirements.txt installed, and pip reaching PyPI. For each suite:
- a root of Debian's `python3` (and `base-files`, `libstdc++6`) for arm64 or armhf, resolved by
  apt and unpacked without running anything (mmdebstrap --variant=extract, i.e. dpkg -x of
  each .deb), with an ARM /proc/cpuinfo inside it: Debian 12's qemu 7.2 shows the guest the
  host's x86 one, and LiteRT's Interpreter() then segfaults;
- the wheels of the Pi requirements for that platform (pip download --platform ...
  --only-binary=:all: --python-version ...), installed for it with pip install --target;
- one guest Python, run by qemu with the CPU of a Raspberry Pi (cortex-a72: Pi 4, cortex-a76:
  Pi 5; qemu 7.2's default `max` CPU computes wrong int8 results in LiteRT, docs/raspberry-pi.md),
  calls kws_inference.main (latency mode, then --wav) for each model; the same code runs on x86.
Labels must equal x86's on arm64 (exit status 1 otherwise); armhf (tflite-runtime, 32-bit) is
reported without failing. Downloads and roots are cached under .cache/arm/ (gitignored):
a second run only emulates. Emulated times are not a Pi's.
"""

import argparse
import concurrent.futures
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST_PYTHON = "{}.{}".format(*sys.version_info[:2])
SCRIPTS = {"ex2_a.py": "kws_a", "ex2_b.py": "kws_b", "ex2_c.py": "kws_c"}
# an ARM /proc/cpuinfo (a Pi 4's Cortex-A72 cores, without the board's own lines)
CPUINFO = "".join(
    f"processor\t: {i}\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n"
    "CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: 0xd08\n"
    "CPU revision\t: 3\n\n"
    for i in range(4)
)
DRIVER = """import json, sys, time
import kws_inference
for argv in json.loads(sys.argv[1]):
    print("@@@ run " + json.dumps(argv), flush=True)
    started = time.perf_counter()
    status = kws_inference.main(argv)
    print(f"@@@ exit {status} {time.perf_counter() - started:.1f}", flush=True)
import numpy, scipy
print(f"@@@ versions numpy {numpy.__version__}, scipy {scipy.__version__}", flush=True)
"""


@dataclasses.dataclass
class Suite:
    name: str
    release: str  # Debian suite
    arch: str  # Debian architecture
    qemu: str  # qemu-user-static binary
    cpu: str  # qemu -cpu
    wheel_arch: str  # the wheels' platform tag suffix
    glibc: int  # glibc 2.N of the release: manylinux_2_17 ... 2_N wheels fit
    requirements: str  # the repository's Pi requirements file
    from_pypi: tuple = ()  # only these requirement names from PyPI (the others: Debian's)
    debian: tuple = ()  # more Debian packages in the root
    strict: bool = True  # labels must equal x86's

    @property
    def includes(self):
        return ("python3", "base-files", "libstdc++6", *self.debian)


SUITES = {
    s.name: s
    for s in (
        Suite(
            "trixie-arm64",
            "trixie",
            "arm64",
            "qemu-aarch64-static",
            "cortex-a76",
            "aarch64",
            41,
            "requirements-pi.txt",
        ),
        Suite(
            "bookworm-arm64",
            "bookworm",
            "arm64",
            "qemu-aarch64-static",
            "cortex-a72",
            "aarch64",
            36,
            "requirements-pi.txt",
        ),
        Suite(
            "bookworm-armhf",
            "bookworm",
            "armhf",
            "qemu-arm-static",
            "cortex-a15",
            "armv7l",
            36,
            "requirements-pi32.txt",
            from_pypi=("tflite-runtime",),
            debian=("python3-numpy", "python3-scipy"),
            strict=False,
        ),
    )
}


class CheckError(Exception):
    """A step that cannot be done; its message names what and why."""


def say(text):
    print(text, flush=True)


def stamp_ok(folder, key):
    return (
        os.path.isfile(os.path.join(folder, ".stamp"))
        and open(os.path.join(folder, ".stamp")).read() == key
    )


def write_stamp(folder, key):
    with open(os.path.join(folder, ".stamp"), "w") as f:
        f.write(key)


def call(cmd, what, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise CheckError(
            f"{what} failed (exit status {r.returncode}): "
            + (r.stderr.strip() or r.stdout.strip())[-1500:]
        )
    return r


def debian_archive():
    """The Debian archive this host's apt uses (its main suite's URI), or None: mmdebstrap's
    default then, which adds the -security suite, whose index a mirror may be syncing."""
    r = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI) $(CODENAME)"],
        capture_output=True,
        text=True,
    )
    for line in r.stdout.splitlines():
        uri, _, codename = line.partition(" ")
        if codename and "-" not in codename:
            return uri
    return None


def link_alternatives(root):
    """The links that the BLAS and LAPACK packages' maintainer scripts would make (Debian's
    alternatives, not run when unpacking): lib/<triplet>/{blas,lapack}/libX.so.3 -> lib/<triplet>."""
    lib = os.path.join(root, "usr", "lib")
    for triplet in os.listdir(lib):
        for kind in ("blas", "lapack"):
            source = os.path.join(lib, triplet, kind, f"lib{kind}.so.3")
            link = os.path.join(lib, triplet, f"lib{kind}.so.3")
            if os.path.exists(source) and not os.path.lexists(link):
                os.symlink(os.path.join(kind, f"lib{kind}.so.3"), link)


def build_root(suite, cache):
    """The suite's Debian root (cached): Debian's packages unpacked, merged /usr, ARM cpuinfo."""
    folder = os.path.join(cache, "roots", suite.name)
    key = json.dumps([suite.release, suite.arch, suite.includes])
    if stamp_ok(folder, key):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.dirname(folder), exist_ok=True)
    archive = debian_archive()
    call(
        [
            "mmdebstrap",
            "--quiet",
            "--variant=extract",
            f"--architectures={suite.arch}",
            "--mode=root",
            "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
            "--include=" + ",".join(suite.includes),
            suite.release,
            folder,
            *([f"deb {archive} {suite.release} main"] if archive else []),
        ],
        f"mmdebstrap {suite.release} {suite.arch}",
    )
    link_alternatives(folder)
    os.makedirs(os.path.join(folder, "proc"), exist_ok=True)
    with open(os.path.join(folder, "proc", "cpuinfo"), "w") as f:
        f.write(CPUINFO)
    version = guest_python_version(folder)
    if (
        version == HOST_PYTHON
    ):  # bytecode does not depend on the machine: compiled here, not emulated
        subprocess.run(
            [
                sys.executable,
                "-m",
                "compileall",
                "-q",
                "-j",
                "0",
                "-s",
                folder,
                "-p",
                "/",
                os.path.join(folder, "usr", "lib", f"python{version}"),
                os.path.join(folder, "usr", "lib", "python3", "dist-packages"),
            ],
            capture_output=True,
        )
    write_stamp(folder, key)
    return folder


def guest_python_version(root):
    """'3.13' of the root's /usr/bin/python3 (a link to python3.N)."""
    target = os.readlink(os.path.join(root, "usr", "bin", "python3"))
    found = re.fullmatch(r"python(\d+\.\d+)", os.path.basename(target))
    if not found:
        raise CheckError(f"{root}/usr/bin/python3 -> {target}: expected python3.N")
    return found.group(1)


def requirement_lines(suite):
    lines = [
        ln.strip()
        for ln in open(os.path.join(ROOT, suite.requirements))
        if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if suite.from_pypi:
        lines = [ln for ln in lines if re.split(r"[=<>!~; ]", ln)[0] in suite.from_pypi]
    return lines


def install_wheels(suite, root, cache):
    """The requirements' wheels for the suite's platform and Python, installed (cached) into
    <root>/opt/pi-site; returns that folder."""
    version = guest_python_version(root)
    site, lines = os.path.join(root, "opt", "pi-site"), requirement_lines(suite)
    key = json.dumps([version, lines])
    if stamp_ok(site, key):
        return site
    platforms = [f"manylinux_2_{n}_{suite.wheel_arch}" for n in range(suite.glibc, 16, -1)]
    platforms += [f"manylinux2014_{suite.wheel_arch}", f"linux_{suite.wheel_arch}"]
    target = [
        "--only-binary=:all:",
        "--python-version",
        version,
        "--implementation",
        "cp",
        *[a for p in platforms for a in ("--platform", p)],
    ]
    wheels = os.path.join(cache, "wheels", f"cp{version.replace('.', '')}-{suite.wheel_arch}")
    os.makedirs(wheels, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(lines) + "\n")
    no_deps = ["--no-deps"] if suite.from_pypi else []
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    try:
        call(
            [*pip, "download", "--dest", wheels, *target, *no_deps, "-r", f.name],
            f"pip download for {suite.name} (cp{version}, {suite.wheel_arch})",
        )
        shutil.rmtree(site, ignore_errors=True)
        # bytecode compiled by this Python when it has the guest's version, else by the guest
        call(
            [
                *pip,
                "install",
                "--no-index",
                "--find-links",
                wheels,
                "--target",
                site,
                *target,
                *no_deps,
                *([] if version == HOST_PYTHON else ["--no-compile"]),
                "-r",
                f.name,
            ],
            f"pip install for {suite.name}",
        )
    finally:
        os.unlink(f.name)
    write_stamp(site, key)
    return site


def runs_of(models, wav_dir, latency_runs, alone_dir):
    """The kws_inference.py command lines, for each model: latency mode on its .tflite.zip with
    its JSON beside it (when there is one), then --wav on a copy of its .tflite alone in a
    folder (as a student copies it to the Pi)."""
    os.makedirs(alone_dir, exist_ok=True)
    argvs = []
    for m in models:
        alone = os.path.join(alone_dir, os.path.basename(m))
        shutil.copyfile(m, alone)
        zipped = m + ".zip" if os.path.isfile(m + ".zip") else m
        argvs += [
            ["--model", zipped, "--runs", str(latency_runs)],
            ["--model", alone, "--wav", wav_dir],
        ]
    return argvs


def run_driver(command, argvs, env=None):
    """Run DRIVER with `command` (a Python, maybe under qemu): [(argv, status, stdout lines)],
    versions line, stderr, seconds."""
    started = time.perf_counter()
    r = subprocess.run(
        [*command, "-c", DRIVER, json.dumps(argvs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    seconds = time.perf_counter() - started
    results, versions, current = [], "", None
    for line in r.stdout.splitlines():
        if line.startswith("@@@ run "):
            current = (json.loads(line[len("@@@ run ") :]), [])
        elif line.startswith("@@@ exit ") and current:
            results.append((current[0], int(line.split()[2]), current[1]))
            current = None
        elif line.startswith("@@@ versions "):
            versions = line[len("@@@ versions ") :]
        elif current:
            current[1].append(line)
    if r.returncode != 0 or len(results) != len(argvs):
        raise CheckError(
            f"{' '.join(command[:2])}: the guest stopped (exit status {r.returncode}) after "
            f"{len(results)} of {len(argvs)} runs: {r.stderr.strip()[-1500:]}"
        )
    return results, versions, r.stderr, seconds


def guest_command(suite, root, site):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONPATH": site,
        "PYTHONNOUSERSITE": "1",
    }
    return [
        shutil.which(suite.qemu),
        "-cpu",
        suite.cpu,
        "-L",
        root,
        os.path.join(root, "usr", "bin", "python3"),
    ], env


def wav_rows(lines, wav_dir):
    """{path: (label, score)} of --wav's `path label score` lines."""
    rows = {}
    for line in lines:
        parts = line.rsplit(" ", 2)
        if line.startswith(wav_dir) and len(parts) == 3:
            rows[parts[0]] = (parts[1], float(parts[2]))
    return rows


def os_words(results):
    """The OS side of the Pi-limit line (distribution, userland, Python, interpreter)."""
    return next(
        (
            ln.split("; ran on ", 1)[-1].split("; ", 1)[-1]
            for _, _, out in results
            for ln in out
            if ln.startswith("Pi limit")
        ),
        "?",
    )


def compare(x86, arm, wav_dir, where="emulated: not a Pi's figure"):
    """Report lines and problems (a list; a strict suite fails on any)."""
    lines, problems = [], []
    for (argv, status, out), (_, ref_status, ref_out) in zip(arm, x86):
        model = os.path.basename(argv[1]) + (" (alone)" if "--wav" in argv else "")
        if status != 0 or ref_status != 0:
            problems.append(
                f"{model} {' '.join(argv[2:])}: exit status {status} (x86: {ref_status})"
            )
            continue
        if out[0] != ref_out[0]:
            problems.append(f"{model}: front-end line differs: {out[0]!r} vs x86 {ref_out[0]!r}")
        if "--wav" not in argv:
            limit = next((ln for ln in out if ln.startswith("Pi limit")), "")
            latency = [
                next(ln for ln in o if ln.startswith("Inference Latency")) for o in (out, ref_out)
            ]
            lines.append(
                f"  {model} latency mode: exit 0, {latency[0]} ({where}; x86 LiteRT: "
                f"{latency[1].split()[-1]})"
            )
            lines.append(f"    {limit}")
            continue
        rows, ref = wav_rows(out, wav_dir), wav_rows(ref_out, wav_dir)
        same = sum(rows.get(p, (None,))[0] == lab for p, (lab, _) in ref.items())
        diff = max(
            (abs(rows[p][1] - s) for p, (_, s) in ref.items() if p in rows), default=float("nan")
        )
        accuracy = [
            next((ln.split()[1] for ln in o if ln.startswith("Accuracy ")), "-")
            for o in (out, ref_out)
        ]
        lines.append(
            f"  {model} --wav: {len(rows)} of {len(ref)} files labelled, labels equal to x86: "
            f"{same}/{len(ref)} ({100 * (len(ref) - same) / max(len(ref), 1):.2f} % differ), "
            f"largest score difference {diff:.3f}, accuracy {accuracy[0]} % (x86 {accuracy[1]} %)"
        )
        if same != len(ref) or len(rows) != len(ref):
            problems.append(
                f"{model} --wav: {len(ref) - same} of {len(ref)} labels differ from x86"
            )
    return lines, problems


def build_models(shared, out, every):
    """The three scripts, --epochs 1, on every `every`-th line of the shared split files."""
    split = os.path.join(out, "split")
    os.makedirs(split)
    for which in ("train", "val", "test"):
        lines = (
            open(os.path.join(shared, "mini_speech_commands_split", f"kws_split_{which}.txt"))
            .read()
            .split()
        )
        with open(os.path.join(split, f"kws_split_{which}.txt"), "w") as f:
            f.write("\n".join(lines[::every]) + "\n")
    models = os.path.join(out, "models")
    for script, name in SCRIPTS.items():
        started = time.perf_counter()
        call(
            [
                sys.executable,
                os.path.join(ROOT, script),
                "--data",
                os.path.join(shared, "mini_speech_commands"),
                "--split-dir",
                split,
                "--out-dir",
                models,
                "--epochs",
                "1",
                "--latency-runs",
                "5",
                "--quiet",
            ],
            f"{script} --epochs 1",
            cwd=ROOT,
        )
        say(
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
        os.symlink(
            os.path.join(shared, "mini_speech_commands", label, name),
            os.path.join(folder, label, name),
        )
    return folder


def prepare_suite(suite, cache):
    """(root, site, seconds) of a suite: its Debian root and wheels, built or from the cache."""
    started = time.perf_counter()
    root = build_root(suite, cache)
    return root, install_wheels(suite, root, cache), time.perf_counter() - started


def check_suite(suite, prepared, argvs, x86, wav_dir):
    """(name, header, problems, lines) of one emulated suite (`prepared`: prepare_suite's future)."""
    try:
        root, site, seconds_prepared = prepared.result()
        command, env = guest_command(suite, root, site)
        arm, versions, _, seconds = run_driver(command, argvs, env)
    except CheckError as e:
        return suite.name, f"{suite.name} (qemu -cpu {suite.cpu})", [str(e)], []
    lines, problems = compare(x86, arm, wav_dir)
    return (
        suite.name,
        (
            f"{suite.name} (qemu -cpu {suite.cpu}): {os_words(arm)}; {versions}; prepared "
            f"in {seconds_prepared:.0f} s, emulated runs {seconds:.0f} s"
        ),
        problems,
        lines,
    )


def check_python(python, argvs, x86, wav_dir):
    """(name, header, problems, lines) of another Python of this host."""
    try:
        other, versions, _, seconds = run_driver([python], argvs)
    except CheckError as e:
        return python, python, [str(e)], []
    lines, problems = compare(x86, other, wav_dir, "this host")
    return python, f"{python}: {os_words(other)}; {versions}; runs {seconds:.0f} s", problems, lines


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python tools/arm_check.py", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--models", help="folder of kws_*.tflite (default: build them, --epochs 1)")
    p.add_argument(
        "--shared",
        default=os.path.join(ROOT, "..", "shared", "data"),
        help="the shared data folder (default: ../shared/data)",
    )
    p.add_argument("--suites", nargs="*", default=list(SUITES), choices=list(SUITES))
    p.add_argument(
        "--also-python",
        nargs="*",
        default=[],
        metavar="PYTHON",
        help="other Pythons of this host to compare the same way, reported without failing "
        "(e.g. a venv with tflite-runtime: docs/raspberry-pi.md)",
    )
    p.add_argument(
        "--wavs",
        help="a folder of <label>/<file>.wav, or a split file naming them "
        "(default: the shared test split)",
    )
    p.add_argument(
        "--every", type=int, default=4, help="models built on every N-th file (default: 4)"
    )
    p.add_argument(
        "--cpu",
        help="qemu -cpu for every suite (default: each suite's Pi CPU); e.g. max, "
        "which Debian 12's qemu 7.2 emulates wrongly for LiteRT",
    )
    p.add_argument("--latency-runs", type=int, default=20)
    p.add_argument("--cache", default=os.path.join(ROOT, ".cache", "arm"))
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    started = time.perf_counter()
    shared, cache = os.path.abspath(args.shared), os.path.abspath(args.cache)
    if args.models and not os.path.isdir(args.models):
        raise CheckError(
            f"{args.models}: no such folder; expected a folder of kws_*.tflite (--models)"
        )
    needs_shared = not args.models or not (args.wavs and os.path.isdir(args.wavs))
    if needs_shared and not os.path.isdir(os.path.join(shared, "mini_speech_commands")):
        raise CheckError(
            f"{shared}: no mini_speech_commands/ in it; expected the shared data folder "
            "(--shared), or --models and a --wavs folder"
        )
    if args.wavs and not os.path.exists(args.wavs):
        raise CheckError(f"{args.wavs}: no such folder or split file (--wavs)")
    for tool in ["mmdebstrap", *sorted({SUITES[s].qemu for s in args.suites})]:
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
        suites = [
            dataclasses.replace(SUITES[n], cpu=args.cpu or SUITES[n].cpu) for n in args.suites
        ]
        prepared = {s.name: pool.submit(prepare_suite, s, cache) for s in suites}
        models_dir = args.models or build_models(shared, tmp, args.every)
        models = sorted(
            os.path.join(os.path.abspath(models_dir), f)
            for f in os.listdir(models_dir)
            if re.fullmatch(r"kws_.*\.tflite", f)
        )
        if not models:
            raise CheckError(f"{models_dir}: no kws_*.tflite; expected the keyword-spotting models")
        wavs = args.wavs or os.path.join(shared, "mini_speech_commands_split", "kws_split_test.txt")
        wav_dir = os.path.abspath(wavs) if os.path.isdir(wavs) else wav_folder(shared, tmp, wavs)
        argvs = runs_of(models, wav_dir, args.latency_runs, os.path.join(tmp, "alone"))
        x86, x86_versions, _, seconds = run_driver([sys.executable], argvs)
        say(
            f"x86 reference: {len(models)} models ({', '.join(map(os.path.basename, models))}), "
            f"{len(wav_rows(x86[1][2], wav_dir))} wavs, {x86_versions} ({seconds:.0f} s)"
        )
        checks = [
            (s.strict, pool.submit(check_suite, s, prepared[s.name], argvs, x86, wav_dir))
            for s in suites
        ]
        checks += [
            (False, pool.submit(check_python, p, argvs, x86, wav_dir)) for p in args.also_python
        ]
        for strict, future in checks:  # in the order asked
            name, header, problems, lines = future.result()
            verdict = (
                "PASS"
                if not problems
                else ("FAIL" if strict else "DIFFERS (reported, not failing)")
            )
            say(f"{header}: {verdict}")
            for line in lines + [f"  problem: {p}" for p in problems]:
                say(line)
            if problems and strict:
                failed.append(name)
    say(
        f"ARM check: {'FAIL: ' + ', '.join(failed) if failed else 'PASS'} "
        f"({time.perf_counter() - started:.0f} s)"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CheckError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
