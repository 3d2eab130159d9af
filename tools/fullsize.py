"""A SYNTHETIC keyword-spotting folder of the official dataset's size, to time the scripts at full
scale and measure their peak memory: never commit it, never quote an accuracy on it."""

import glob
import os
import shutil
import sys

from common import cli, outputs
from common.kws_data import resolve_data_dir
from common.splits import read_file_list


def synthetic_wav_folder(out, names, wavs):
    """Write `out/<label>/<file>.wav` for each of `names`, copies of `wavs`' files; how many."""
    source = resolve_data_dir(wavs)
    pools = {}
    for label in sorted({name.split("/")[0] for name in names}):
        pools[label] = sorted(glob.glob("*.wav", root_dir=os.path.join(source, label)))
        if not pools[label]:
            raise cli.UsageError(f"{source}/{label}: no wav to copy for the label {label!r}")
    for i, name in enumerate(names):
        label = name.split("/")[0]
        pool = pools[label]
        os.makedirs(os.path.join(out, label), exist_ok=True)
        shutil.copyfile(os.path.join(source, label, pool[i % len(pool)]), os.path.join(out, name))
    return len(names)


def run(argv=None):
    p = cli.Parser(prog="python -m tools.fullsize", description=__doc__.split("\n\n")[0])
    p.add_argument("--kws-out", required=True, help="the folder to write (name it SYNTHETIC_...)")
    p.add_argument("--files", required=True, help="the official list of <label>/<file>.wav")
    p.add_argument("--wavs", required=True, help="a folder of real <label>/<file>.wav to copy from")
    args = p.parse_args(argv)
    outputs.check_out_dir(args.kws_out, "--kws-out")
    n = synthetic_wav_folder(args.kws_out, read_file_list(args.files), args.wavs)
    what = "copies of real wavs under the official names (for timing only)"
    print(f"wrote {args.kws_out}: {n:,} {what}")
    return 0


if __name__ == "__main__":
    sys.exit(cli.exit_status(run))
