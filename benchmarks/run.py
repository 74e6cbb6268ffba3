"""Benchmark churnscore at scale against the parse limit, as whole processes.

Generates exports with `churnscore sample-data` (cached in a work folder), then times in one run,
per size and input format: the parse limit (benchmarks/parse_limit.py: pyarrow reading every input
file with its column types given), `churnscore score` end to end, and with --train `churnscore train`
on 12 monthly snapshots of a separate 100k-account history. Prints wall time, peak RSS, the ratio to
the parse limit of the same files measured in the same run, rows/s, growth from size to size and the
Parquet/CSV speed ratio.

Not part of the test suite. See benchmarks/README.md.

    python benchmarks/run.py --sizes 1M,10M                 # default: CSV and Parquet
    python benchmarks/run.py --sizes 1M,10M,50M --train     # opt-in: 50 M rows and training
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PARSE_LIMIT = HERE / "parse_limit.py"
STAGES = ("parse", "parse-usage", "score", "score-model")  # per size and format
DEFAULT_CONFIG = REPO / "configs" / "default.yaml"
SAMPLE_PY = REPO / "churnscore" / "synth" / "sample.py"
EXPORTS = ("accounts", "usage", "nps", "tickets", "payments")
MARKER = "bench-params.json"


# ----------------------------------------------------------------------------------------------
# small helpers

def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r}: use e.g. 500k, 1M, 10M, 50M or 2000000")
    mult = {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    return int(float(m.group(1)) * mult)


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def churnscore_cmd() -> list[str]:
    """The console script next to this interpreter (so the same environment), else the PATH one."""
    here = Path(sys.executable).parent / "churnscore"
    if here.exists():
        return [str(here)]
    found = shutil.which("churnscore")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from churnscore.cli import main; sys.exit(main())"]


def file_sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    except OSError:
        return "missing"


def dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != MARKER)


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def machine_info() -> dict:
    info: dict = {"nproc": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    try:
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kb = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))
        info["mem_total_gib"] = round(kb / 1024 ** 2, 1)
    except (OSError, AttributeError):
        pass
    try:
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        if cpu:
            info["cpu"] = cpu.group(1).strip()
    except OSError:
        pass
    from importlib import metadata  # versions without importing them: this process must stay small,
    for mod in ("pandas", "pyarrow", "numpy"):  # since a child's ru_maxrss starts from the parent's at fork
        try:
            info[mod] = metadata.version(mod)
        except metadata.PackageNotFoundError:
            pass
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                            capture_output=True, text=True).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD"], cwd=REPO, capture_output=True).stdout
        info["git_dirty"] = bool(diff)
        info["git_diff_sha"] = hashlib.sha256(diff).hexdigest()[:16] if diff else None
    except OSError:
        pass
    return info


def mem_total_bytes() -> int:
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        return kb * 1024
    except (OSError, AttributeError):
        return 16 * 1024 ** 3


# ----------------------------------------------------------------------------------------------
# timing one whole process: wall clock, peak RSS (wait4's ru_maxrss), with a timeout and RSS guard

@dataclass
class Run:
    cmd: list[str]
    wall_s: float
    peak_mb: float          # ru_maxrss of the child (largest resident set of it or a waited-for descendant)
    returncode: int
    status: str             # ok | failed (exit N) | timeout | killed (rss)
    load1: float | None     # 1-minute load average just before the run
    user_s: float
    sys_s: float
    stdout: str = ""
    stderr_tail: str = ""


def _tree_rss_bytes(pid: int) -> int:
    """Resident set of pid and its descendants (from /proc), 0 when gone."""
    total, stack, page = 0, [pid], os.sysconf("SC_PAGE_SIZE")
    while stack:
        p = stack.pop()
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                stack.extend(int(k) for k in kids)
        except (OSError, ValueError, IndexError):
            continue
    return total


def timed(cmd: list[str], log_path: Path, *, cwd: Path, timeout: float | None, max_rss: int | None,
          discard_stdout: bool = False) -> Run:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out_path = log_path.with_suffix(".out")
    err_path = log_path.with_suffix(".err")
    load1 = loadavg()[0] if loadavg() else None
    env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1")
    with open(os.devnull if discard_stdout else out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        done = threading.Event()
        why: list[str] = []

        def guard() -> None:
            while not done.wait(0.25):
                if timeout is not None and time.perf_counter() - t0 > timeout:
                    why.append("timeout")
                elif max_rss is not None and _tree_rss_bytes(proc.pid) > max_rss:
                    why.append("killed (rss)")
                else:
                    continue
                try:
                    os.kill(proc.pid, 9)
                except ProcessLookupError:
                    pass
                return

        watcher = threading.Thread(target=guard, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    rc = proc.returncode
    state = why[0] if why else ("ok" if rc == 0 else f"failed (exit {rc})")
    stderr = err_path.read_text(errors="replace")
    return Run(cmd=cmd, wall_s=round(wall, 3), peak_mb=round(usage.ru_maxrss / 1024, 1), returncode=rc,
               status=state, load1=load1, user_s=round(usage.ru_utime, 2), sys_s=round(usage.ru_stime, 2),
               stdout="" if discard_stdout else out_path.read_text(errors="replace"), stderr_tail="\n".join(stderr.splitlines()[-25:]))


# ----------------------------------------------------------------------------------------------
# data sets: generated once, reused while the marker's parameters match

@dataclass
class Dataset:
    name: str               # "10M-csv", "train-100k-csv"
    folder: Path
    params: dict
    bytes: int = 0
    rows: dict = field(default_factory=dict)   # export -> rows, from the parse-limit run


def ensure_dataset(name: str, folder: Path, params: dict, *, regenerate: bool) -> Dataset:
    marker = folder / MARKER
    if marker.exists() and not regenerate:
        try:
            old = json.loads(marker.read_text())
        except ValueError:
            old = {}
        if old.get("params") == params:
            log(f"{name}: reusing {folder} ({dir_bytes(folder) / 1e6:,.0f} MB)")
            return Dataset(name, folder, params, bytes=dir_bytes(folder), rows=old.get("rows", {}))
        changed = sorted(k for k in set(params) | set(old.get("params", {}))
                         if params.get(k) != old.get("params", {}).get(k))
        log(f"{name}: {folder} was made with other parameters ({', '.join(changed)}); regenerating")
    tmp = folder.with_name(folder.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = churnscore_cmd() + ["sample-data", "--accounts", str(params["accounts"]), "--months",
                              str(params["months"]), "--seed", str(params["seed"]), "--format",
                              params["format"], "--out", str(tmp)]
    if params.get("usage_rows"):
        cmd += ["--usage-rows", str(params["usage_rows"])]
    log(f"{name}: generating ({shlex.join(cmd[1:] if len(cmd) == 1 else cmd)})")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env=dict(os.environ, NO_COLOR="1"))
    assert proc.stdout is not None
    tail: list[str] = []
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-20:]
        if line:
            log(f"{name}:   +{time.perf_counter() - t0:6.0f}s  {line}")
    if proc.wait() != 0:
        raise SystemExit(f"bench: generating {name} failed (exit {proc.returncode}):\n" + "\n".join(tail))
    shutil.rmtree(folder, ignore_errors=True)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(folder)
    size = dir_bytes(folder)
    log(f"{name}: generated in {time.perf_counter() - t0:.0f}s, {size / 1e6:,.0f} MB")
    marker.write_text(json.dumps({"params": params, "generated_s": round(time.perf_counter() - t0, 1),
                                  "generated_at": _dt.datetime.now().isoformat(timespec="seconds")}, indent=2))
    return Dataset(name, folder, params, bytes=size)


def record_rows(ds: Dataset, parse_stdout: str) -> None:
    rows = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+): (\d+) rows", parse_stdout, re.M)}
    if rows and rows != ds.rows:
        ds.rows = rows
        marker = ds.folder / MARKER
        data = json.loads(marker.read_text())
        data["rows"] = rows
        marker.write_text(json.dumps(data, indent=2))


def usage_only(work: Path, ds: Dataset) -> Path:
    """A folder holding only a link to the data set's usage export, for parse_limit.py on usage alone."""
    folder = work / "usage-only" / ds.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for ending in (".csv", ".csv.gz", ".parquet"):
        src = ds.folder / f"usage{ending}"
        if src.exists():
            (folder / src.name).symlink_to(src)
            break
    return folder


def write_train_config(work: Path, input_dir: Path, interval: int, count: int) -> Path:
    import yaml  # PyYAML, a churnscore dependency

    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["input_dir"] = str(input_dir.resolve())
    model = dict(raw.get("model") or {})
    model.update(observation_interval_days=interval, observation_count=count)
    raw["model"] = model
    path = work / "train-config.yaml"
    path.write_text("# written by benchmarks/run.py from configs/default.yaml\n"
                    + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True))
    return path


# ----------------------------------------------------------------------------------------------
# the run

STAGE_TIMINGS = re.compile(r"timings?:\s*(.+)$", re.M)
TRAIN_DATES = re.compile(r"trained on ([\d,]+) account-snapshots at (\d+) dates")


def stage_timings(stderr: str) -> str:
    """churnscore's own per-stage timings line from its summary, when it prints one."""
    found = STAGE_TIMINGS.findall(stderr)
    return found[-1].strip() if found else ""


def median_run(runs: list[Run]) -> dict:
    ok = [r for r in runs if r.status == "ok"]
    use = ok or runs
    return {
        "wall_s": round(statistics.median(r.wall_s for r in use), 3),
        "peak_mb": round(statistics.median(r.peak_mb for r in use), 1),
        "status": "ok" if len(ok) == len(runs) else (use[-1].status if not ok else f"{len(ok)}/{len(runs)} ok"),
        "load1": [r.load1 for r in runs],
        "runs": [{k: v for k, v in asdict(r).items() if k != "stdout"} for r in runs],
        # churnscore's own stage timings from the run whose wall time is the median (lower median)
        "churnscore_timings": stage_timings(sorted(use, key=lambda r: r.wall_s)[(len(use) - 1) // 2].stderr_tail),
    }


def fmt_rate(rows: int | None, wall: float) -> str:
    if not rows or not wall:
        return "-"
    r = rows / wall
    return f"{r / 1e6:.2f}M" if r >= 1e6 else f"{r / 1e3:.0f}k"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Sizes are usage rows (the generator hits them approximately). 50M is opt-in: generating it "
               "took ~2 min (CSV) + ~1 min (Parquet) on 2 cores and needs ~4.6 GB. See benchmarks/README.md.")
    ap.add_argument("--sizes", default="1M,10M", help="usage rows per data set, comma-separated (default 1M,10M; "
                                                      "add 50M to opt in; 'none' with --train: train only)")
    ap.add_argument("--accounts", type=parse_size, default=1_000_000, help="accounts (default 1,000,000)")
    ap.add_argument("--months", type=int, default=6, help="months of history (default 6)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--format", dest="formats", default="csv,parquet",
                    help="input formats, comma-separated: csv, parquet, csv.gz (default csv,parquet)")
    ap.add_argument("--work", type=Path, default=Path("/tmp/churnscore-bench"),
                    help="work folder: data sets (reused), outputs, logs (default /tmp/churnscore-bench)")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each timed process; the median is reported")
    ap.add_argument("--stages", default="parse,parse-usage,score",
                    help="stages per size and format: parse (the limit: every input file), parse-usage (the usage "
                         "export alone, for comparison), score (default: these three), and score-model (opt-in: "
                         "score --model with a model trained, untimed, on data/sample)")
    ap.add_argument("--train", action="store_true", help="also time `churnscore train` on a separate history")
    ap.add_argument("--train-accounts", type=parse_size, default=100_000)
    ap.add_argument("--train-months", type=int, default=16,
                    help="months of training history (default 16: the fewest that give 12 monthly observation "
                         "dates, each needing model.min_history_days=60 before it and horizon_days=90 after it; "
                         "14 months gives 10)")
    ap.add_argument("--train-usage-rows", type=parse_size, default=None,
                    help="usage rows of the training history (default: the generator's natural volume, "
                         "~32 per account-month: ~51M usage rows for 100k accounts over 16 months)")
    ap.add_argument("--train-format", default="csv", choices=["csv", "parquet", "csv.gz"])
    ap.add_argument("--observation-count", type=int, default=12, help="training snapshots (default 12)")
    ap.add_argument("--observation-interval-days", type=int, default=30)
    ap.add_argument("--score-args", default="", help="extra arguments for `churnscore score`, e.g. '--engine dask'")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before a timed process is killed "
                                                                "(default 3600)")
    ap.add_argument("--max-rss-gb", type=float, default=None,
                    help="kill a timed process whose resident set passes this (default: 75%% of RAM), "
                         "so a run cannot take a shared machine down")
    ap.add_argument("--regenerate", action="store_true", help="regenerate the data sets even if cached")
    ap.add_argument("--generate-only", action="store_true", help="generate the data sets and stop")
    ap.add_argument("--json", type=Path, help="also write every figure (and each run) to this JSON file")
    args = ap.parse_args(argv)

    sizes = [] if args.sizes.strip().lower() == "none" else [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    for f in formats:
        if f not in ("csv", "parquet", "csv.gz"):
            ap.error(f"--format: unknown format {f!r}")
    for s in stages:
        if s not in STAGES:
            ap.error(f"--stages: unknown stage {s!r} ({', '.join(STAGES)})")
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    max_rss = int((args.max_rss_gb * 1024 ** 3) if args.max_rss_gb else mem_total_bytes() * 0.75)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    gen_sha = file_sha(SAMPLE_PY)
    cs = churnscore_cmd()

    started = _dt.datetime.now()
    machine = machine_info()
    log(f"machine: {machine.get('nproc')} cpus, {machine.get('mem_total_gib')} GiB; load {loadavg()}; "
        f"churnscore {machine.get('git_commit')}{' (+ uncommitted changes)' if machine.get('git_dirty') else ''}")

    # 1. data sets
    datasets: list[Dataset] = []
    for n in sizes:
        for fmt in formats:
            params = {"accounts": args.accounts, "months": args.months, "usage_rows": n, "seed": args.seed,
                      "format": fmt, "generator_sha": gen_sha}
            name = f"{size_label(n)}-{fmt}"
            datasets.append(ensure_dataset(name, work / "data" / name, params, regenerate=args.regenerate))
    train_ds = None
    if args.train:
        params = {"accounts": args.train_accounts, "months": args.train_months, "usage_rows": args.train_usage_rows,
                  "seed": args.seed, "format": args.train_format, "generator_sha": gen_sha}
        name = f"train-{size_label(args.train_accounts)}acc-{args.train_months}m-{args.train_format}"
        train_ds = ensure_dataset(name, work / "data" / name, params, regenerate=args.regenerate)
    if args.generate_only:
        return 0

    model = work / "sample-model.json"  # for score-model: any model with the default config's inputs will do
    if "score-model" in stages:
        log("score-model: training a model on data/sample (not timed)")
        r = timed(cs + ["train", "--model-out", str(model)], work / "logs" / "sample-model", cwd=work,
                  timeout=args.timeout, max_rss=max_rss)
        if r.status != "ok":
            log(f"score-model: training failed ({r.status}); see {work / 'logs' / 'sample-model.err'}")
            return 1

    # 2. timed processes; repeats interleaved so drifting load hits every stage alike
    plan: list[tuple[Dataset, str, list[str]]] = []
    for ds in datasets:
        out_dir = work / "out" / ds.name
        out_dir.mkdir(parents=True, exist_ok=True)
        if "parse" in stages:
            plan.append((ds, "parse", [sys.executable, str(PARSE_LIMIT), str(ds.folder)]))
        if "parse-usage" in stages:
            plan.append((ds, "parse-usage", [sys.executable, str(PARSE_LIMIT), str(usage_only(work, ds))]))
        if "score" in stages:
            plan.append((ds, "score", cs + ["score", "--input-dir", str(ds.folder), "--out",
                                             str(out_dir / "ranked.csv")] + shlex.split(args.score_args)))
        if "score-model" in stages:
            plan.append((ds, "score-model", cs + ["score", "--input-dir", str(ds.folder), "--model", str(model),
                                                   "--out", str(out_dir / "ranked-model.csv")]
                         + shlex.split(args.score_args)))
    if train_ds is not None:
        cfg = write_train_config(work, train_ds.folder, args.observation_interval_days, args.observation_count)
        (work / "out" / train_ds.name).mkdir(parents=True, exist_ok=True)
        plan.append((train_ds, "parse", [sys.executable, str(PARSE_LIMIT), str(train_ds.folder)]))
        plan.append((train_ds, "train", cs + ["train", "--config", str(cfg), "--model-out",
                                              str(work / "out" / train_ds.name / "model.json")]))

    # page cache: read every data set once before timing (the first timed process must not pay for it)
    cat_runs: dict[str, Run] = {}
    for ds in datasets + ([train_ds] if train_ds else []):
        files = sorted(str(p) for p in ds.folder.rglob("*") if p.is_file() and p.name != MARKER)
        log(f"{ds.name}: reading the files once (page cache)")
        cat_runs[ds.name] = timed(["cat", *files], work / "logs" / ds.name / "cat", cwd=work, timeout=args.timeout,
                                  max_rss=max_rss, discard_stdout=True)

    results: dict[tuple[str, str], list[Run]] = {}
    for name, r in cat_runs.items():
        results[(name, "cat")] = [r]

    train_info: dict = {}
    total = len(plan) * args.repeat
    i = 0
    for rep in range(args.repeat):
        for ds, stage, cmd in plan:
            i += 1
            log(f"[{i}/{total}] {ds.name} {stage} (repeat {rep + 1}/{args.repeat}), load {loadavg()}")
            r = timed(cmd, work / "logs" / ds.name / f"{stage}-{rep + 1}", cwd=work, timeout=args.timeout,
                      max_rss=max_rss)
            if stage == "parse" and r.status == "ok":
                record_rows(ds, r.stdout)
            extra = f"  [{stage_timings(r.stderr_tail)}]" if stage_timings(r.stderr_tail) else ""
            log(f"    {r.status}: {r.wall_s:.2f}s, peak {r.peak_mb:,.0f} MB{extra}")
            if stage == "train" and r.status == "ok":
                m = TRAIN_DATES.search(r.stderr_tail) or TRAIN_DATES.search(
                    (work / "logs" / ds.name / f"{stage}-{rep + 1}.err").read_text(errors="replace"))
                if m:
                    train_info.update(snapshots=int(m.group(1).replace(",", "")), dates=int(m.group(2)))
                    log(f"    trained on {m.group(1)} account-snapshots at {m.group(2)} observation dates")
                    if int(m.group(2)) < args.observation_count:
                        log(f"    WARNING: fewer observation dates than --observation-count {args.observation_count}: "
                            f"the history is too short (raise --train-months)")
            if r.status != "ok":
                log("    stderr tail:\n      " + "\n      ".join(r.stderr_tail.splitlines()[-8:]))
            results.setdefault((ds.name, stage), []).append(r)

    # 3. figures
    rows_out = []
    by_name = {ds.name: ds for ds in datasets + ([train_ds] if train_ds else [])}
    for (name, stage), runs in results.items():
        ds = by_name[name]
        m = median_run(runs)
        parse = results.get((name, "parse"))
        parse_wall = median_run(parse)["wall_s"] if parse else None
        usage_rows = ds.rows.get("usage")
        all_rows = (usage_rows if stage == "parse-usage" else sum(ds.rows.values())) if ds.rows else None
        parse_usage = results.get((name, "parse-usage"))
        parse_usage_wall = median_run(parse_usage)["wall_s"] if parse_usage else None
        rows_out.append({
            "dataset": name, "size": size_label(ds.params["usage_rows"]) if ds.params.get("usage_rows") else "natural",
            "accounts": ds.params["accounts"], "months": ds.params["months"], "format": ds.params["format"],
            "stage": stage, "input_mb": round(ds.bytes / 1e6, 1), "rows": ds.rows, "usage_rows": usage_rows,
            "all_rows": all_rows, **m,
            "x_parse": round(m["wall_s"] / parse_wall, 2) if parse_wall and m["status"] == "ok" else None,
            "x_parse_usage": (round(m["wall_s"] / parse_usage_wall, 2)
                              if parse_usage_wall and m["status"] == "ok" else None),
            "harness_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "usage_rows_per_s": round(usage_rows / m["wall_s"]) if usage_rows and m["wall_s"] else None,
            "all_rows_per_s": round(all_rows / m["wall_s"]) if all_rows and m["wall_s"] else None,
        })

    order = list(by_name)
    stage_order = ["cat", *STAGES, "train"]
    rows_out.sort(key=lambda r: (order.index(r["dataset"]), stage_order.index(r["stage"])))

    def find(size: int, fmt: str, stage: str) -> dict | None:
        for r in rows_out:
            if r["dataset"] == f"{size_label(size)}-{fmt}" and r["stage"] == stage:
                return r
        return None

    growth = []
    for fmt in formats:
        for stage in stages:
            for a, b in zip(sizes, sizes[1:]):
                ra, rb = find(a, fmt, stage), find(b, fmt, stage)
                if ra and rb and ra["status"] == rb["status"] == "ok":
                    growth.append({"format": fmt, "stage": stage, "from": size_label(a), "to": size_label(b),
                                   "usage_rows_x": round((rb["usage_rows"] or b) / (ra["usage_rows"] or a), 2),
                                   "input_bytes_x": round(by_name[rb["dataset"]].bytes / by_name[ra["dataset"]].bytes, 2),
                                   "wall_x": round(rb["wall_s"] / ra["wall_s"], 2),
                                   "peak_x": round(rb["peak_mb"] / ra["peak_mb"], 2),
                                   "marginal_s_per_M_usage_rows": round(
                                       (rb["wall_s"] - ra["wall_s"]) / (((rb["usage_rows"] or b) - (ra["usage_rows"] or a)) / 1e6), 3)})
    pq_vs_csv = []
    if "csv" in formats and "parquet" in formats:
        for n in sizes:
            for stage in stages:
                rc, rp = find(n, "csv", stage), find(n, "parquet", stage)
                if rc and rp and rc["status"] == rp["status"] == "ok":
                    pq_vs_csv.append({"size": size_label(n), "stage": stage, "csv_s": rc["wall_s"],
                                      "parquet_s": rp["wall_s"], "csv_over_parquet": round(rc["wall_s"] / rp["wall_s"], 2)})

    finished = _dt.datetime.now()
    print()
    print(f"churnscore benchmark, {started:%Y-%m-%d %H:%M}-{finished:%H:%M}; {machine.get('nproc')} cpus, "
          f"{machine.get('mem_total_gib')} GiB; load average at end {loadavg()}; "
          f"median of {args.repeat}" + (f"; {args.accounts:,} accounts, {args.months} months" if sizes else ""))
    print()
    hdr = ["size", "format", "stage", "input MB", "wall s", "peak MB", "x parse", "usage rows/s", "all rows/s",
           "load1", "status"]
    table = [hdr]
    for r in rows_out:
        table.append([r["size"] if not r["dataset"].startswith("train") else r["dataset"], r["format"], r["stage"],
                      f"{r['input_mb']:,.0f}", f"{r['wall_s']:.2f}", f"{r['peak_mb']:,.0f}",
                      f"{r['x_parse']:.2f}" if r["x_parse"] is not None else "-",
                      fmt_rate(r["usage_rows"], r["wall_s"]), fmt_rate(r["all_rows"], r["wall_s"]),
                      "/".join(f"{x:.1f}" for x in r["load1"] if x is not None), r["status"]])
    widths = [max(len(row[i]) for row in table) for i in range(len(hdr))]
    for j, row in enumerate(table):
        print("  ".join(c.rjust(w) if i >= 3 and i < 9 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows_out:
        if r["churnscore_timings"]:
            print(f"  {r['dataset']} {r['stage']}: {r['churnscore_timings']}")
    if growth:
        print("\ngrowth (later size / earlier size; linear in usage rows would be wall x = usage rows x):")
        for g in growth:
            print(f"  {g['format']:8s} {g['stage']:11s} {g['from']:>4s} -> {g['to']:<4s} usage rows x{g['usage_rows_x']:<6}"
                  f" input bytes x{g['input_bytes_x']:<6} wall x{g['wall_x']:<6} peak x{g['peak_x']:<6}"
                  f" marginal {g['marginal_s_per_M_usage_rows']} s per M usage rows")
    if pq_vs_csv:
        print("\nParquet vs CSV (CSV wall / Parquet wall; target for score: >= 2):")
        for p in pq_vs_csv:
            print(f"  {p['size']:>4s} {p['stage']:11s} csv {p['csv_s']:.2f}s  parquet {p['parquet_s']:.2f}s  "
                  f"x{p['csv_over_parquet']}")
    if train_info:
        print(f"\ntrain: {train_info['snapshots']:,} account-snapshots at {train_info['dates']} observation dates "
              f"({args.train_accounts:,} accounts, {args.train_months} months)")
    print(f"\nlogs: {work / 'logs'}")

    if args.json:
        payload = {"started": started.isoformat(timespec="seconds"), "finished": finished.isoformat(timespec="seconds"),
                   "machine": machine, "load_average_end": loadavg(), "args": {k: str(v) for k, v in vars(args).items()},
                   "cat": {k: {"wall_s": v.wall_s, "status": v.status} for k, v in cat_runs.items()},
                   "results": rows_out, "train": train_info, "growth": growth, "parquet_vs_csv": pq_vs_csv}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, default=str))
        log(f"wrote {args.json}")
    return 0 if all(r["status"] == "ok" for r in rows_out) else 1


if __name__ == "__main__":
    sys.exit(main())
