"""Sweeps: axes and their limits, the local process pool, the CSV log and resuming, the command line."""

import dataclasses
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vgrad import RunConfig, theory
from vgrad.executors import InlineExecutor, LocalExecutor, ThreadExecutor
from vgrad.sweep import CsvLog, SweepError, make_spec, parse_axis, plan, read_csv, run_sweep

ROOT = Path(__file__).resolve().parents[1]


def test_axis_forms():
    assert parse_axis("hidden_layers=2,4,8").values == (2, 4, 8)
    assert parse_axis("init_gain=0.5:3:6").values == (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
    assert parse_axis("learning_rate=1e-3:1:4:log").values == (0.001, 0.01, 0.1, 1.0)
    assert parse_axis("hidden_layers=2:32:5:log").values == (2, 4, 8, 16, 32)
    assert parse_axis("activation=tanh, ReLU").values == ("tanh", "relu")
    assert parse_axis("standardize=true,false").values == (True, False)
    assert parse_axis("init_gain=2:2:1").values == (2.0,)


@pytest.mark.parametrize("axes, axis, words", [
    (["init_gain=0.5:3:100", "hidden_layers=1:64:64", "units=1:256:200"], "units", "VGRAD_MAX_SWEEP_CELLS"),
    (["init_gain="], "init_gain", "no values"),
    (["init_gain=1:1:5"], "init_gain", "empty range"),
    (["init_gain=3:0.5:11"], "init_gain", "backwards"),
    (["colour=red,blue"], "colour", "unknown field"),
    (["units=4,8", "units=16"], "units", "twice"),
    (["units=4,8", "hidden_layers=2", "init_gain=1,2", "learning_rate=0.1"], "axis", "at most 3"),
    (["hidden_layers=0,4"], "hidden_layers", "outside the field's range"),
    (["init_gain=0.001:1:3"], "init_gain", "outside the field's range"),
    (["activation=tanh,swishy"], "activation", "one of"),
    (["seed=1,2"], "seed", "--seeds"),
    (["hidden_layers"], "hidden_layers", "FIELD=VALUES"),
    (["init_gain=0.5:3:0"], "init_gain", "count"),
    (["learning_rate=0:1:3:log"], "learning_rate", "start > 0"),
    (["hidden_layers=1:3:10"], "hidden_layers", "repeat after rounding"),
    (["units=4,4"], "units", "twice"),
    (["activation=tanh:relu:2"], "activation", "numeric field"),
    (["init_gain=0.5:3:1001"], "init_gain", "VGRAD_MAX_AXIS_VALUES"),
    ([], "axis", "at least one axis"),
], ids=lambda v: str(v)[:40] if isinstance(v, str) else None)
def test_hostile_axes_are_refused_with_a_sentence_naming_the_axis(axes, axis, words):
    with pytest.raises(SweepError) as err:
        make_spec(RunConfig(), axes)
    assert err.value.axis == axis and words in str(err.value)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


def test_cells_that_are_not_valid_configs_and_limits_on_seeds_and_steps():
    with pytest.raises(SweepError, match="axis clipnorm: the cell clipnorm=1.0 is not a valid config: clipnorm: set only one") as err:
        make_spec(RunConfig(clipvalue=0.5), ["clipnorm=1"])
    assert err.value.axis == "clipnorm"
    with pytest.raises(SweepError, match="VGRAD_MAX_SWEEP_SEEDS"):
        make_spec(RunConfig(), ["units=4"], seeds=51)
    with pytest.raises(SweepError, match="VGRAD_MAX_SWEEP_STEPS"):
        make_spec(RunConfig(), ["units=4"], steps=6000)
    limits = {"VGRAD_MAX_SWEEP_CELLS": 10, "VGRAD_MAX_SWEEP_SEEDS": 5, "VGRAD_MAX_SWEEP_TRAININGS": 12,
              "VGRAD_MAX_SWEEP_STEPS": 100, "VGRAD_MAX_AXIS_VALUES": 20}
    with pytest.raises(SweepError, match="VGRAD_MAX_SWEEP_TRAININGS"):
        make_spec(RunConfig(), ["units=1:10:5"], seeds=3, steps=10, limits=limits)


def test_plan_stacks_an_architecture_and_sends_the_rest_alone():
    spec = make_spec(RunConfig(activation="tanh"), ["init_gain=0.5:3:12", "hidden_layers=2,4"], seeds=2, steps=10)
    tasks = plan(spec, spec.cells(), workers=1)
    assert sorted(len(t.cells) for t in tasks) == [12, 12] and all(t.stacked for t in tasks)
    tasks = plan(spec, spec.cells(), workers=4)  # split so that every worker has a task
    assert len(tasks) == 4 and sum(len(t.cells) for t in tasks) == 24
    spec = make_spec(RunConfig(), ["dropout=0,0.2", "units=4,8"], steps=10)
    tasks = plan(spec, spec.cells())
    assert sorted((t.stacked, len(t.cells)) for t in tasks) == [(False, 1), (False, 1), (True, 1), (True, 1)]


def test_a_sweep_through_the_local_process_pool():
    base = RunConfig(activation="tanh", hidden_layers=3)
    spec = make_spec(base, ["init_gain=0.5,2", "dropout=0,0.1"], seeds=2, steps=12)
    seen = []
    result = run_sweep(spec, LocalExecutor(_runner(), workers=2), on_cell=seen.append, workers=2)
    assert result.complete and len(seen) == 4 and sorted(c.cell for c in seen) == [0, 1, 2, 3]
    for cell in result.cells:
        engines = {m.engine for m in cell.measures}
        assert engines == ({"sequential"} if cell.values["dropout"] else {"stacked"})
        assert [m.seed for m in cell.measures] == [0, 1]
        for m in cell.measures:
            assert m.status == "finished" and m.steps == 12
            assert m.ratio_start > 0 and m.ratio_end > 0 and 0 <= m.accuracy <= 1 and m.loss > 0
            assert m.ratio_start == pytest.approx(m.grad_first_start / m.grad_last_start)
        s = cell.summary()["loss"]
        assert s.n == 2 and s.low <= s.median <= s.high
        mf = theory.from_config(dataclasses.replace(base, **cell.values))
        assert cell.chi_1 == pytest.approx(mf.chi_1)


UNGUARDED = """
import vgrad
from vgrad.sweep import make_spec, run_sweep
from vgrad.executors import LocalExecutor
from vgrad.train.sweep_cells import run_task

spec = make_spec(vgrad.RunConfig(activation="tanh"), ["hidden_layers=2,4"], seeds=1, steps=10)
result = run_sweep(spec, LocalExecutor(run_task, workers=2), should_stop=lambda: False)
print("cells", len(result.cells), result.complete, sorted(c.values["hidden_layers"] for c in result.cells))
"""


def test_a_script_without_a_main_guard_runs_its_sweep_on_the_local_pool(tmp_path):
    """README's sweep example pasted into a script as it is: no `if __name__ == "__main__":`. The
    spawned workers must not import the script again (they would start the sweep in every worker, and
    the pool would respawn them for ever)."""
    script = tmp_path / "my_sweep.py"
    script.write_text(UNGUARDED)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "cells 2 True [2, 4]"
    assert "bootstrapping phase" not in done.stderr


def test_two_threads_give_the_numbers_of_one():
    spec = make_spec(RunConfig(activation="tanh"), ["init_gain=0.5,1,2", "hidden_layers=2,3"], steps=15)
    alone = run_sweep(spec, InlineExecutor(_runner()))
    seen = []
    both = run_sweep(spec, ThreadExecutor(_runner(), workers=2), on_cell=seen.append, workers=2)
    assert both.complete and sorted(c.cell for c in seen) == list(range(6))
    assert {m.engine for c in both.cells for m in c.measures} == {"stacked"}
    for a, b in zip(alone.cells, both.cells, strict=True):
        assert a.cell == b.cell and a.measures[0].to_dict() == b.measures[0].to_dict()
    with pytest.raises(ValueError, match="workers"):
        ThreadExecutor(_runner(), workers=0)


def test_init_mode_measures_a_thousand_cells_in_seconds_and_keeps_them_small(tmp_path):
    spec = make_spec(RunConfig(activation="tanh"), ["init_gain=0.1:4:200", "hidden_layers=1:5:5"], mode="init")
    t0 = time.perf_counter()
    result = run_sweep(spec, InlineExecutor(_runner()))
    seconds = time.perf_counter() - t0
    assert result.complete and len(result.cells) == 1000 and seconds < 60
    assert all(m.engine == "stacked" and m.ratio_start > 0 for c in result.cells for m in c.measures)
    deep = [c for c in result.cells if c.values["hidden_layers"] == 5]
    small, big = deep[10], deep[-1]
    assert small.chi_1 < 1 < big.chi_1 and small.phase == "ordered" and big.phase == "chaotic"
    assert len({round(c.measures[0].ratio_start, 6) for c in deep}) > 150  # each cell measured on its own
    doc = result.to_json()
    assert len(doc) < 1_500_000  # ~1 KB a cell: summaries, not runs
    log = CsvLog(tmp_path / "init.csv", spec)
    log.open()
    for cell in result.cells:
        log.append(cell)
    assert (tmp_path / "init.csv").stat().st_size < 400_000
    assert [c.measures for c in read_csv(tmp_path / "init.csv", spec)] == [c.measures for c in result.cells]


def test_the_csv_log_drops_a_torn_row_and_refuses_another_sweep(tmp_path):
    spec = make_spec(RunConfig(), ["units=4,8"], seeds=2, mode="init")
    result = run_sweep(spec, InlineExecutor(_runner()))
    path = tmp_path / "s.csv"
    log = CsvLog(path, spec)
    assert log.open() == []
    log.append(result.cells[0])
    log.append(result.cells[1])
    text = path.read_text()
    path.write_text(text[:-30])  # killed while writing the last row: cell 1 has one seed and a half
    back = CsvLog(path, spec).open()
    assert [c.cell for c in back] == [0] and back[0].measures == result.cells[0].measures
    assert path.read_text().count("\n") == 2 + 2  # header, columns, cell 0's two rows
    other = make_spec(RunConfig(), ["units=4,16"], seeds=2, mode="init")
    with pytest.raises(SweepError, match="holds another sweep .its axes differ"):
        CsvLog(path, other).open()
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SweepError, match="not a vgrad sweep file"):
        CsvLog(tmp_path / "x.csv", spec).open()


def test_should_stop_ends_a_sweep_between_cells_and_keeps_no_half_cell():
    spec = make_spec(RunConfig(), ["units=4,8,16"], seeds=2, mode="init")
    seen = []
    result = run_sweep(spec, InlineExecutor(_runner()), on_cell=seen.append, should_stop=lambda: bool(seen))
    assert len(seen) == 1 and result.cells == seen and not result.complete


def _runner():
    from vgrad.train.sweep_cells import run_task

    return run_task


# --- the command line ----------------------------------------------------------------------------------
def _env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}


def _vgrad(*args):
    return subprocess.run([sys.executable, "-m", "vgrad", *args], capture_output=True, text=True, timeout=300,
                          cwd=str(ROOT), env=_env())


# Three architectures (one stacked task each), so the interrupt lands between tasks, not after the last.
SWEEP = ["sweep", "--set", "activation=tanh", "--set", "hidden_layers=3", "--axis", "init_gain=0.5:2:3",
         "--axis", "units=4,6,8", "--seeds", "2", "--steps", "120", "--workers", "1"]
CELLS = 9


def test_cli_resumes_an_interrupted_sweep_from_its_csv(tmp_path):
    out = tmp_path / "sweep.csv"
    args = [sys.executable, "-m", "vgrad", *SWEEP, "--out", str(out)]
    # SIGINT's default action, whatever pytest inherited: a shell without job control starts background
    # commands with SIGINT ignored, and a child whose SIGINT is ignored keeps ignoring it.
    proc = subprocess.Popen(args, cwd=str(ROOT), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # interrupt once the first cells are written
        if out.exists() and out.read_text().count("\n") >= 2 + 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err, err
    first = read_csv(out)
    assert 1 <= len(first) < CELLS
    again = _vgrad(*SWEEP, "--out", str(out), "--json", str(tmp_path / "s.json"))
    assert again.returncode == 0, again.stderr
    assert f"resuming {out}: {len(first)} of {CELLS} cells done" in again.stderr
    cells = read_csv(out)
    assert sorted(c.cell for c in cells) == list(range(CELLS)) and all(len(c.measures) == 2 for c in cells)
    by_cell = {c.cell: c.measures for c in cells}
    assert all(by_cell[c.cell] == c.measures for c in first)  # the cells done before are kept, not redone
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["complete"] and doc["resumed"] == len(first) and len(doc["cells"]) == CELLS
    assert set(doc["cells"][0]["summary"]) >= {"ratio_start", "ratio_end", "loss", "accuracy", "diverged"}
    assert "ratio@0" in again.stdout and f"wrote {out}" in again.stdout
    assert "sweep [" not in again.stderr  # no progress bar: stderr is not a terminal
    other = _vgrad(*SWEEP[:-4], "--seeds", "3", "--steps", "120", "--workers", "1", "--out", str(out))
    assert other.returncode == 2 and "holds another sweep (its seeds differ)" in other.stderr
    assert len(other.stderr.strip().splitlines()) == 1


def test_cli_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    from vgrad.cli import main

    cases = [
        (["sweep", "--axis", "init_gain=3:0.5:11"], "axis init_gain: the range runs backwards"),
        (["sweep", "--axis", "colour=1,2"], "axis colour: unknown field"),
        (["sweep", "--axis", "hidden_layers=1:64:64", "--axis", "units=1:256:256"], "VGRAD_MAX_SWEEP_CELLS"),
        (["sweep"], "at least one --axis"),
        (["sweep", "--axis", "units=4", "--out", str(tmp_path / "no" / "s.csv")], "no such directory"),
        (["sweep", "--axis", "units=4", "--executor", "ray"], "--address"),
        (["sweep", "--axis", "units=4", "--seeds", "0"], "seeds must be"),
        (["sweep", "--axis", "units=4", "--workers", "0"], "--workers"),
    ]
    for args, words in cases:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1, err
    out = _vgrad("sweep", "--axis", "init_gain=3:0.5:11")  # and as a user runs it
    assert out.returncode == 2 and out.stderr.strip() == ("vgrad: error: axis init_gain: the range runs backwards "
                                                          "(3 > 0.5); give start <= stop")


def test_cli_progress_bar_on_a_terminal_only():
    """(Without a terminal there is no bar: the resume test reads stderr through a pipe.)"""
    args = [*SWEEP[:-8], "--axis", "units=4,6", "--mode", "init", "--json"]
    leader, follower = pty.openpty()  # stderr on a pseudo-terminal: the bar is drawn and redrawn in place
    proc = subprocess.Popen([sys.executable, "-m", "vgrad", *args], cwd=str(ROOT), env=_env(),
                            stdout=subprocess.PIPE, stderr=follower, text=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    stdout, _ = proc.communicate(timeout=120)
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "\rsweep [" in text and "6/6 cells" in text
    assert len(json.loads(stdout)["cells"]) == 6
