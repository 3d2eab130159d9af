"""The benchmark on a tiny configuration: every row, and its ratios checked against the
files the runs wrote."""
import json
import subprocess
import sys

from conftest import ROOT


def test_bench_tiny(shared_data, subset, tmp_path):
    data, split_dir = subset
    out, work = tmp_path / "bench.md", tmp_path / "w"
    run = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--versions", "ex1_b,ex2_c", "--epochs-ex1", "1",
         "--epochs-ex2", "1", "--runs", "5", "--seeds", "0", "--jena",
         str(shared_data / "jena_climate_2009_sample.csv"), "--kws-data", str(data),
         "--split-dir", str(split_dir), "--out", str(out), "--work-dir", str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    main, boards = out.read_text().split("\nMicrocontroller: ")
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in main.splitlines()
            if line.startswith("| ex")]
    assert [(r[0], r[1]) for r in rows] == [("ex1_b", "persistence"), ("ex1_b", "seed recipe"),
                                            ("ex1_b", "this project"), ("ex2_c", "seed recipe"),
                                            ("ex2_c", "this project")]
    side = {name: json.loads((work / "seed0" / f"{name}.json").read_text())
            for name in ("seed_th_b", "th_b", "seed_kws_8k", "kws_c")}
    base = side["th_b"]["baseline"]["persistence"]
    assert rows[0][7] == f"MAE T {base['mae_t']:.3f}, RH {base['mae_rh']:.3f}" and rows[0][6] == "-"
    for row, (ours, seed) in ((rows[2], ("th_b", "seed_th_b")), (rows[4], ("kws_c", "seed_kws_8k"))):
        size_ratio = side[ours]["zip_bytes"] / side[seed]["zip_bytes"]
        assert row[6] == f"{side[ours]['zip_bytes']:,} ({size_ratio:.2f})"
    m = side["th_b"]["metrics"]
    assert rows[2][7].endswith(f"ratio to persistence {m['mae_t'] / base['mae_t']:.2f} / "
                               f"{m['mae_rh'] / base['mae_rh']:.2f}")
    acc = side["kws_c"]["metrics"]["accuracy"] - side["seed_kws_8k"]["metrics"]["accuracy"]
    assert rows[4][7].endswith(f"diff {100 * acc:+.2f} pt")
    assert rows[4][9].endswith(")") and rows[4][10] != "-"  # numpy-FE total with its ratio, TF-FE total
    assert (tmp_path / "bench.png").read_bytes()[:4] == b"\x89PNG"
    # flash (the .tflite) and arena of each model beside the boards: the arena is TFLM's
    # (tools.mcu), or said to be unmeasured without tflite-micro
    board_rows = [[c.strip() for c in line.split("|")[1:-1]] for line in boards.splitlines()
                  if line.startswith("| ex")]
    names = {("ex1_b", "seed recipe"): "seed_th_b", ("ex1_b", "this project"): "th_b",
             ("ex2_c", "seed recipe"): "seed_kws_8k", ("ex2_c", "this project"): "kws_c"}
    assert [(r[0], r[1]) for r in board_rows] == list(names)
    for r in board_rows:
        size = (work / "seed0" / f"{names[r[0], r[1]]}.tflite").stat().st_size
        assert r[2] == f"{size:,}"
        if r[3] == "not measured":
            assert r[4] == f"flash fits (margin {1024 ** 2 - size:+,} B); RAM not measured"
        else:
            arena = int(r[3].replace(",", ""))
            assert 0 < arena < 64 * 1024
            assert r[4] == f"fits (margin flash {1024 ** 2 - size:+,} B, RAM {256 * 1024 - arena:+,} B)"
