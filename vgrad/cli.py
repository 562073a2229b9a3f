"""Command line: `python -m vgrad presets | datasets | train | sweep | serve`.

    python -m vgrad presets
    python -m vgrad datasets
    python -m vgrad train --preset notebook-deep-sigmoid --set epochs=50 --out run.json --csv steps.csv
    python -m vgrad train --data flowers.csv --target species --missing impute
    python -m vgrad sweep --set activation=tanh --axis hidden_layers=2,4,8 --axis init_gain=0.5:3:11 --out s.csv
    python -m vgrad serve --port 8501
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from vgrad.config import ConfigError, RunConfig
from vgrad.presets import PRESETS, preset
from vgrad.records import Record, Status, StepRecord
from vgrad.run import Run
from vgrad.sweep import CellResult, CsvLog, SweepError, SweepResult, SweepSpec, make_spec, run_sweep
from vgrad.text import MISSING, num, orders_short, pct


class UsageError(Exception):
    """Bad input on the command line; printed as one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other (subcommands inherit the class)."""

    def error(self, message: str):
        print(f"vgrad: error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(2)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "presets":
            return cmd_presets()
        if args.command == "datasets":
            return cmd_datasets()
        if args.command == "train":
            return cmd_train(args)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "sweep":
            return cmd_sweep(args)
    except (ConfigError, UsageError, SweepError) as exc:
        print(f"vgrad: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nvgrad: interrupted", file=sys.stderr)
        return 130
    parser.print_help()
    return 2


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vgrad", description="An interactive lab for the vanishing gradient problem.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("presets", help="list the named experiments")
    sub.add_parser("datasets", help="list the data sets that ship (train on a CSV file with train --data)")
    train = sub.add_parser("train", help="train one experiment and print per-layer gradients")
    train.add_argument("--preset", help="start from this preset (see `vgrad presets`)")
    train.add_argument("--config", help="JSON file of field: value pairs (or a run JSON with a config)")
    train.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="override one field")
    train.add_argument("--data", metavar="FILE.csv", help="train on this CSV file (header row first; stored in "
                       "VGRAD_DATA_DIR/datasets, so the run's link opens in the app on this machine)")
    train.add_argument("--target", help="the CSV's target column (default: the last one)")
    train.add_argument("--missing", choices=("drop", "impute"), help="rows with missing cells: drop them "
                       "(default) or impute (median / most frequent)")
    train.add_argument("--out", help="write the run as JSON here")
    train.add_argument("--csv", help="write the per-step x layer table as CSV here")
    train.add_argument("--quiet", action="store_true", help="no live progress line")
    sweep = sub.add_parser("sweep", help="train a grid of configs (1-3 axes x seeds) and summarise each cell")
    sweep.add_argument("--preset", help="the base config starts from this preset")
    sweep.add_argument("--config", help="JSON file of field: value pairs for the base config")
    sweep.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="set one base field")
    sweep.add_argument("--axis", action="append", default=[], metavar="FIELD=VALUES",
                       help="a swept field: a,b,c (a list), a:b:n (n evenly spaced values) or a:b:n:log")
    sweep.add_argument("--seeds", type=int, default=1, help="trainings per cell (seed, seed+1, ...)")
    sweep.add_argument("--steps", type=int, default=0, help="optimizer steps per cell (0: the base config's)")
    sweep.add_argument("--mode", choices=("trained", "init"), default="trained",
                       help="trained: train each cell; init: one gradient measurement at initialisation")
    sweep.add_argument("--threshold", type=float, default=0.3, help="training loss that steps_to_loss counts to")
    sweep.add_argument("--out", help="CSV file, one row per cell and seed, appended as cells finish; run the "
                       "same sweep again with the same --out to resume")
    sweep.add_argument("--json", nargs="?", const="-", metavar="PATH",
                       help="write the result (cells, summaries, seeds) as JSON to PATH, or to stdout")
    sweep.add_argument("--executor", choices=("local", "ray"), default=None,
                       help="local: a process pool on this machine (default); ray: a Ray cluster (--address)")
    sweep.add_argument("--address", default=None, help="Ray cluster address HOST:PORT or auto "
                       "(default VGRAD_RAY_ADDRESS); implies --executor ray")
    sweep.add_argument("--workers", type=int, default=None, help="local processes (default: one per core; "
                       "1 = this process)")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    serve = sub.add_parser("serve", help="start the dashboard and its training backend")
    serve.add_argument("--port", type=int, default=_env_int("VGRAD_PORT", 8501))
    serve.add_argument("--host", default=os.environ.get("VGRAD_HOST", "localhost"),
                       help="address the dashboard listens on (0.0.0.0 in Docker)")
    serve.add_argument("--backend-port", type=int, default=_env_int("VGRAD_BACKEND_PORT", 0),
                       help="backend port (0 = a free one)")
    return parser


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        print(f"vgrad: warning: {name}={text[:40]!r} is not a port number; using {default}", file=sys.stderr)
        return default


def cmd_presets() -> int:
    width = max(len(n) for n in PRESETS)
    print(f"{'name':{width}}  family  description")
    for p in PRESETS.values():
        print(f"{p.name:{width}}  {p.config.family:6}  {p.description}")
    return 0


def cmd_datasets() -> int:
    from vgrad import datasets

    print(datasets.describe())
    print("\nOr your own table: vgrad train --data FILE.csv [--target COLUMN] [--missing drop|impute]")
    return 0


def data_config(path: str, target: str | None, missing: str | None, sets: list[str]) -> list[str]:
    """--data: store the CSV file where the app finds it and return the --set items that train on it."""
    from vgrad import csvdata, settings
    from vgrad.uploads import UploadError, UploadStore

    try:
        with open(path, "rb") as f:
            raw = csvdata.read_limited(f, settings.max_upload_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read --data {path}: {exc.strerror or exc}") from None
    except csvdata.CsvError as exc:
        raise UsageError(f"--data {path}: {exc}") from None
    try:
        meta = UploadStore().save(raw, Path(path).name, target=target or "")
    except UploadError as exc:
        raise UsageError(f"--data {path}: {exc}") from None
    items = ["dataset=csv", f"data_id={meta.id}", f"target={target or ''}", f"missing={missing or 'drop'}"]
    if not any(s.partition("=")[0].strip() == "n_samples" for s in sets):  # all its rows, up to the field's cap
        items.append(f"n_samples={max(20, min(meta.rows, 20000))}")
    return items


def table_line(config: RunConfig) -> str:
    """The table a dataset=csv run trains on, in one line."""
    from vgrad.uploads import UploadStore

    table = UploadStore().table(config)
    s = table.summary()
    what = "regression" if s["task"] == "regression" else f"{s['classes']} classes"
    extra = [f"{s['rows_dropped']} rows with missing cells dropped"] if s.get("rows_dropped") else []
    extra += [f"{s['cells_imputed']} cells imputed"] if s.get("cells_imputed") else []
    line = f"table {config.data_id[:12]}…: {s['rows']} rows, {s['features']} features, target {s['target']}: {what}"
    return line + "".join(f"; {e}" for e in extra)


def build_config(preset_name: str | None, config_file: str | None, sets: list[str]) -> RunConfig:
    """Preset, then config file, then --set overrides; ConfigError/UsageError on bad input."""
    base = preset(preset_name) if preset_name else RunConfig()
    fields = base.to_dict()
    if config_file:
        try:
            data = json.loads(Path(config_file).read_text())
        except OSError as exc:
            raise UsageError(f"cannot read --config {config_file}: {exc.strerror}") from None
        except (ValueError, RecursionError) as exc:
            raise UsageError(f"--config {config_file} is not valid JSON ({str(exc)[:80]})") from None
        if isinstance(data, dict) and isinstance(data.get("config"), dict):
            data = data["config"]
        if not isinstance(data, dict):
            raise UsageError(f"--config {config_file} must hold a JSON object of field: value pairs")
        fields.update(data)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects FIELD=VALUE, got {item!r}")
        fields[key.strip()] = value
    return RunConfig.from_dict(fields)


def cmd_train(args: argparse.Namespace) -> int:
    sets = list(args.set)
    if args.data:
        sets = data_config(args.data, args.target, args.missing, sets) + sets
    elif args.target is not None or args.missing is not None:
        raise UsageError("--target and --missing describe a CSV file: give it with --data FILE.csv")
    config = build_config(args.preset, args.config, sets)
    if config.dataset == "csv":
        from vgrad.uploads import UploadError, with_table

        try:
            config = with_table(config)
            print(table_line(config))
        except UploadError as exc:
            raise UsageError(str(exc)) from None
    for path in (args.out, args.csv):
        if path and not Path(path).resolve().parent.is_dir():
            raise UsageError(f"cannot write {path}: no such directory")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from vgrad.train import tfsetup

    try:
        tfsetup.configure()  # first: it imports TensorFlow without its start-up notices
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    from vgrad.train.engine import train

    progress = Progress(config, enabled=not args.quiet and sys.stderr.isatty())
    run = train(config, on_record=progress)
    progress.close()
    print(summary(run))
    if args.out:
        Path(args.out).write_text(run.to_json())
        print(f"wrote {args.out}")
    if args.csv:
        run.to_csv(args.csv)
        print(f"wrote {args.csv}")
    return 1 if run.status == Status.FAILED else 0


def cmd_sweep(args: argparse.Namespace) -> int:
    base = build_config(args.preset, args.config, args.set)
    if not args.axis:
        raise UsageError("sweep needs at least one --axis FIELD=VALUES (e.g. --axis hidden_layers=2,4,8)")
    spec = make_spec(base, args.axis, seeds=args.seeds, mode=args.mode, steps=args.steps, threshold=args.threshold)
    for path in (args.out, args.json if args.json != "-" else None):
        if path and not Path(path).resolve().parent.is_dir():
            raise UsageError(f"cannot write {path}: no such directory")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a whole number >= 1, got {args.workers}")
    address = args.address or (os.environ.get("VGRAD_RAY_ADDRESS", "").strip() if args.executor != "local" else "")
    if args.executor == "ray" and not address:
        raise UsageError("--executor ray needs --address HOST:PORT (or auto, or VGRAD_RAY_ADDRESS)")
    if address:
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("--address needs the ray package (pip install -r requirements.txt)") from None
    log = CsvLog(args.out, spec) if args.out else None
    done = log.open() if log else []
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from vgrad.executors import LocalExecutor, RayExecutor
    from vgrad.train.sweep_cells import run_task

    workers = args.workers or (1 if args.mode == "init" else os.cpu_count() or 1)
    executor = RayExecutor(run_task, address) if address else LocalExecutor(run_task, workers)
    progress = SweepProgress(spec, len(done), enabled=not args.quiet and sys.stderr.isatty())
    if done:
        print(f"vgrad: resuming {args.out}: {len(done)} of {spec.n_cells} cells done", file=sys.stderr)

    def on_cell(result: CellResult) -> None:
        if log:
            log.append(result)
        progress(result)

    try:
        result = run_sweep(spec, executor, on_cell=on_cell, done=done, workers=workers)
    except RuntimeError as exc:  # the Ray cluster cannot be reached
        raise UsageError(str(exc)) from None
    finally:
        progress.close()
    if args.json:
        text = result.to_json()
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text)
    if args.json != "-":
        print(sweep_table(result))
        for path in (args.out, args.json):
            if path:
                print(f"wrote {path}")
    return 0


class SweepProgress:
    """A progress bar on stderr (a tty only), one update per finished cell."""

    def __init__(self, spec: SweepSpec, done: int = 0, enabled: bool = True):
        self.total, self.done, self.start_done = spec.n_cells, done, done
        self.enabled = enabled
        self.started = time.perf_counter()
        if enabled:
            self._draw()

    def __call__(self, result: CellResult) -> None:
        self.done += 1
        if self.enabled:
            self._draw()

    def _draw(self) -> None:
        elapsed = time.perf_counter() - self.started
        new = self.done - self.start_done
        rate = new / elapsed if elapsed > 0 and new else 0.0
        left = (self.total - self.done) / rate if rate else None
        width = 30
        filled = int(width * self.done / max(1, self.total))
        eta = f"  eta {left:.0f} s" if left is not None else ""
        line = (f"sweep [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} cells  "
                f"{rate:.2f} cells/s{eta}")
        sys.stderr.write("\r" + line.ljust(90))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


SWEEP_TABLE_ROWS = 200


def sweep_table(result: SweepResult) -> str:
    """One line per cell: its values, the medians over seeds, what diverged, and theory's chi_1 and xi_c."""
    spec = result.spec
    names = [a.field for a in spec.axes]
    head = [*names, "ratio@0", "ratio@end", "loss", "accuracy", "steps<thr", "diverged", "chi_1", "xi_c"]
    if spec.mode == "init":
        head = [*names, "ratio@0", "loss@0", "chi_1", "xi_c"]
    lines = ["  ".join(f"{h:>10}" for h in head)]
    for cell in result.cells[:SWEEP_TABLE_ROWS]:
        s = cell.summary()
        values = [_short(cell.values[n]) for n in names]
        if spec.mode == "init":
            loss0 = [m.loss_start for m in cell.measures if m.loss_start is not None]
            row = [*values, _g(s["ratio_start"].median), _g(sorted(loss0)[len(loss0) // 2] if loss0 else None),
                   _g(cell.chi_1), _g(cell.xi_c)]
        else:
            diverged = sum(m.diverged for m in cell.measures)
            row = [*values, _g(s["ratio_start"].median), _g(s["ratio_end"].median), _g(s["loss"].median),
                   _g(s["accuracy"].median), _g(s["steps_to_loss"].median), f"{diverged}/{len(cell.measures)}",
                   _g(cell.chi_1), _g(cell.xi_c)]
        lines.append("  ".join(f"{v:>10}" for v in row))
    if len(result.cells) > SWEEP_TABLE_ROWS:
        lines.append(f"... {len(result.cells) - SWEEP_TABLE_ROWS} more cells (see --out or --json)")
    engines = {m.engine for c in result.cells for m in c.measures}
    lines.append(f"{len(result.cells)} of {spec.n_cells} cells x {spec.seeds} seeds ({result.resumed} resumed) "
                 f"in {result.seconds:.1f} s; ratio = first / last layer gradient norm (median over seeds); "
                 f"engine: {', '.join(sorted(engines)) or MISSING}")
    return "\n".join(lines)


def _g(v) -> str:
    if v is None:
        return MISSING
    if isinstance(v, float) and (v != v):
        return MISSING
    return f"{v:.3g}"


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def cmd_serve(args: argparse.Namespace) -> int:
    from vgrad.service.launcher import serve_all

    return serve_all(port=args.port, address=args.host, backend_port=args.backend_port or None) or 0


class Progress:
    """A live one-line progress display on stderr, fed records."""

    def __init__(self, config: RunConfig, enabled: bool = True):
        self.total = config.total_steps
        self.enabled = enabled
        self.started = time.perf_counter()
        self.shown = 0.0

    def __call__(self, record: Record) -> None:
        if not self.enabled or not isinstance(record, StepRecord):
            return
        now = time.perf_counter()
        if now - self.shown < 0.1 and record.step + 1 < self.total:
            return
        self.shown = now
        g = record.grad_norm
        rate = (record.step + 1) / max(now - self.started, 1e-9)
        line = (f"step {record.step + 1}/{self.total}  epoch {record.epoch + 1}  loss {record.loss:.4f}  "
                f"|dL/dW| first {_sci(g[0])} last {_sci(g[-1])}  {rate:.0f} steps/s")
        sys.stderr.write("\r" + line[:150].ljust(100))
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def summary(run: Run) -> str:
    """Per-layer table (first and last step gradient norms) and the headline numbers."""
    lines = []
    if run.steps:
        first, last = run.steps[0], run.steps[-1]
        lines.append(f"{'layer':12} {'index':>5} {'|dL/dW| step ' + str(first.step):>18} "
                     f"{'|dL/dW| step ' + str(last.step):>18} {'dead':>6} {'saturated':>9}")
        for i, layer in enumerate(run.layers):
            lines.append(f"{layer.name:12} {layer.index:>5} {_sci(first.grad_norm[i]):>18} "
                         f"{_sci(last.grad_norm[i]):>18} {pct(last.act_dead[i], 0):>6} "
                         f"{pct(last.act_saturated[i], 0):>9}")
        lines.append(f"attenuation last->first layer: {orders_short(run.attenuation_orders(0))} orders of magnitude "
                     f"at the first step, {orders_short(run.attenuation_orders(-1))} at the last")
    m = run.final_metrics()
    score = "r2" if run.task == "regression" else "accuracy"  # regression: loss is MSE, R² beside it
    if run.epochs:
        lines.append(f"final loss {num(m['loss'], 4)}  {score} {num(m[score])}  "
                     f"val_loss {num(m['val_loss'], 4)}  val_{score} {num(m['val_' + score])}")
    lines.append(f"status: {run.status} ({run.message})")
    return "\n".join(lines)


def _sci(v: float | None) -> str:
    return MISSING if v is None else f"{v:.3e}"
