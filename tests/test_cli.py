"""The command line, run as a user runs it."""

import json
import subprocess
import sys

from vgrad.cli import build_config
from vgrad.run import Run


def _vgrad(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "vgrad", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_presets_table():
    out = _vgrad("presets")
    assert out.returncode == 0
    assert "notebook-deep-sigmoid" in out.stdout and "rnn-lstm" in out.stdout


def test_train_prints_a_layer_table_and_writes_files(tmp_path):
    (tmp_path / "cfg.json").write_text(json.dumps({"hidden_layers": 3}))
    out = _vgrad("train", "--preset", "notebook-deep-sigmoid", "--config", str(tmp_path / "cfg.json"),
                 "--set", "epochs=2", "--out", str(tmp_path / "run.json"), "--csv", str(tmp_path / "steps.csv"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert any(line.startswith("dense_1") for line in lines) and any(line.startswith("output") for line in lines)
    assert "attenuation" in out.stdout and "status: finished" in out.stdout
    run = Run.from_json((tmp_path / "run.json").read_text())
    assert run.config.hidden_layers == 3 and run.config.epochs == 2 and len(run.steps) == 6
    header = (tmp_path / "steps.csv").read_text().splitlines()[0]
    assert header.startswith("step,epoch,layer,layer_index,grad_norm")


def test_bad_input_is_one_clear_line(tmp_path):
    cases = [
        (["train", "--set", "hidden_layers=100"], "hidden_layers: expected an integer from 1 to 64"),
        (["train", "--preset", "nope"], "unknown preset"),
        (["train", "--set", "units"], "FIELD=VALUE"),
        (["train", "--set", "colour=red"], "unknown field"),
        (["train", "--config", str(tmp_path / "missing.json")], "cannot read"),
        (["train", "--out", str(tmp_path / "no" / "dir" / "run.json")], "no such directory"),
    ]
    for args, words in cases:
        out = _vgrad(*args)
        assert out.returncode == 2, args
        assert words in out.stderr and "Traceback" not in out.stderr
        assert len(out.stderr.strip().splitlines()) == 1


def test_build_config_layers_preset_file_and_sets(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"config": {"units": 4}, "steps": []}))
    config = build_config("notebook-deep-relu", str(path), ["seed=3"])
    assert (config.activation, config.units, config.seed) == ("relu", 4, 3)
