"""The benchmark on a tiny configuration: it runs, and writes a table with both rows."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_bench_tiny(shared_data, subset, tmp_path):
    data, split_dir = subset
    out = tmp_path / "bench.md"
    run = subprocess.run(
        [sys.executable, "-m", "common.bench", "--versions", "ex1_b,ex2_c", "--epochs-ex1", "1",
         "--epochs-ex2", "1", "--runs", "5", "--seeds", "0", "--jena",
         str(shared_data / "jena_climate_2009_sample.csv"), "--kws-data", str(data),
         "--split-dir", str(split_dir), "--out", str(out), "--work-dir", str(tmp_path / "w")],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| ex")]
    assert [r.split("|")[2].strip() for r in rows] == ["seed recipe", "this project"] * 2
    assert "(1.00)" in rows[0] and "MAE T" in rows[0] and "test" in rows[2]
    assert "diff" in rows[1] and "diff" in rows[3] and "diff" not in rows[2]
    cells = [c.strip() for c in rows[3].split("|")]
    assert cells[10].endswith(")") and cells[11] != "-"  # numpy-FE total with its ratio, TF-FE total
