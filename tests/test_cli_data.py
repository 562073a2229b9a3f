"""The command line on other data: the catalog, and training on a CSV file of one's own."""

import os
import subprocess
import sys

import numpy as np

from vgrad.run import Run


def _vgrad(*args, env_dir=None):
    env = dict(os.environ, VGRAD_DATA_DIR=str(env_dir)) if env_dir else None
    return subprocess.run([sys.executable, "-m", "vgrad", *args], capture_output=True, text=True, timeout=300,
                          env=env)


def _flowers(path) -> None:
    rng = np.random.default_rng(3)
    lines = ["petal;sepal;colour;species"]
    for name, centre in {"rose": -2.0, "tulip": 2.0, "daisy": 0.0}.items():
        for a, b in rng.normal(centre, 0.5, size=(40, 2)):
            colour = "red" if a > 0 else "white"
            lines.append(f"{a:.3f};{b:.3f};{colour};{name}".replace(".", ",", 1))  # a decimal comma in column 1
    lines[5] = "NA;1,0;red;rose"  # one missing cell
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_datasets_lists_the_catalog():
    out = _vgrad("datasets")
    assert out.returncode == 0, out.stderr
    for name in ("classification", "moons", "iris", "digits", "diabetes", "playground_spirals"):
        assert name in out.stdout
    assert "regression" in out.stdout and "multiclass" in out.stdout


def test_train_on_a_csv_file(tmp_path):
    _flowers(tmp_path / "flowers.csv")
    out = _vgrad("train", "--data", str(tmp_path / "flowers.csv"), "--target", "species", "--missing", "impute",
                 "--set", "epochs=3", "--set", "hidden_layers=2", "--out", str(tmp_path / "run.json"),
                 env_dir=tmp_path / "data")
    assert out.returncode == 0, out.stderr
    assert "120 rows" in out.stdout and "3 classes" in out.stdout  # the table's summary before training
    assert "status: finished" in out.stdout
    run = Run.from_json((tmp_path / "run.json").read_text())
    assert run.config.dataset == "csv" and len(run.config.data_id) == 64
    assert run.config.target == "species" and run.config.missing == "impute"
    assert run.config.n_classes == 3 and run.config.n_features == 4  # petal, sepal, colour=red, colour=white
    assert run.start.classes == ("daisy", "rose", "tulip")
    # The table is stored where the app finds it: the run's link opens on this machine's server.
    assert (tmp_path / "data" / "datasets" / f"{run.config.data_id}.csv").exists()


def test_bad_data_files_are_one_clear_line(tmp_path):
    (tmp_path / "one.csv").write_text("a,b\n1,x\n2,x\n3,x\n")
    (tmp_path / "bin.csv").write_bytes(b"%PDF-1.4 \x00\x01\x02")
    cases = [
        (["train", "--data", str(tmp_path / "none.csv")], "cannot read"),
        (["train", "--data", str(tmp_path / "one.csv")], "at least two classes"),
        (["train", "--data", str(tmp_path / "bin.csv")], "binary"),
        (["train", "--data", str(tmp_path / "one.csv"), "--target", "zzz"], "zzz"),
        (["train", "--target", "a"], "--data"),
        (["train", "--data", str(tmp_path / "one.csv"), "--missing", "guess"], "missing"),
    ]
    for args, words in cases:
        out = _vgrad(*args, env_dir=tmp_path / "data")
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert words in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_a_regression_run_reports_r2_not_accuracy():
    out = _vgrad("train", "--set", "dataset=diabetes", "--set", "epochs=2", "--set", "hidden_layers=2",
                 "--set", "standardize=true", "--set", "learning_rate=0.01", "--quiet")
    assert out.returncode == 0, out.stderr
    final = [line for line in out.stdout.splitlines() if line.startswith("final loss")][0]
    assert " r2 " in final and "val_r2" in final and "accuracy" not in final
