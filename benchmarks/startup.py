"""Start-up of a Todoku process beside its floors: what every command and worker pays.

    .venv/bin/python -m benchmarks.startup [--runs 11] [--json]

Staff run `todoku send` from the shell and wait for it; every gunicorn worker, the
scheduler and every other command pay the same start. One invocation measures, in
turns so that a busy moment of a shared machine touches them alike:

* processes, started `--runs` times each (wall clock and CPU, the median):
  - `python -c pass`: the interpreter alone;
  - `todoku config check` on the shipped configuration (config/): settings, the
    configuration read and checked, the catalogue of texts, the report printed;
  - `todoku plan` on a fresh SQLite database: the above, the database and every
    campaign's audience counted (an empty one), as `todoku send` starts;
  - before each, its floor: the libraries it is built on (every module outside the
    standard library and Todoku that the command imports, found with `-X importtime`),
    imported and nothing else: no code of ours can start faster;
* in this process, `--runs` times each (the median):
  - reading the shipped configuration's three files: libyaml composing (as shipped)
    against PyYAML's pure-Python reader (what it was);
  - the catalogue of texts: from its cache (as shipped) against Babel parsing the .po
    files (what every process did before).

`benchmarks.dispatch` measures the whole `todoku send` (process start to run claimed and
to first multicast); this says where a process's first second goes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.dispatch import REPO, TODOKU

OURS = {"bot", "messages", "segments", "migrations", "linesim", "benchmarks", "encodings"}


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def started(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `command`, which must succeed."""
    cpu, wall = child_cpu(), time.perf_counter()
    subprocess.run(command, env=env, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - wall, child_cpu() - cpu


def in_process(work: Callable[[], object], runs: int) -> float:
    """The median seconds of `work`."""
    times = []
    for _ in range(runs):
        begun = time.perf_counter()
        work()
        times.append(time.perf_counter() - begun)
    return statistics.median(times)


def third_party_imports(command: list[str], env: dict[str, str]) -> list[str]:
    """The modules outside the standard library and Todoku that `command` imports, in the
    order their imports finished (`python -X importtime`)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", *command],
        env=env,
        cwd=REPO,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    modules = []
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            root = name.split(".")[0]
            if root not in OURS and root not in sys.stdlib_module_names and root.isidentifier():
                modules.append(name)
    return modules


def processes(runs: int, database_url: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Median (wall, CPU) of each command and of its floors, started in turns."""
    env = {
        **os.environ,
        "TODOKU_CONFIG": str(REPO / "config"),
        "TODOKU_LOG_LEVEL": "WARNING",
        "DATABASE_URL": database_url,
    }
    python = sys.executable
    subprocess.run([str(TODOKU), "db", "upgrade"], env=env, check=True, capture_output=True)
    commands = {"config check": ["config", "check"], "plan": ["plan"]}
    runs_of: dict[str, list[str]] = {"python -c pass": [python, "-c", "pass"]}
    for name, arguments in commands.items():
        modules = third_party_imports(["-m", "bot", *arguments], env)
        # importtime lists failed attempts too (sitecustomize, optional backends).
        floor = f"import importlib\nfor m in {modules!r}:\n    try: importlib.import_module(m)\n"
        floor += "    except ImportError: pass\n"
        runs_of[f"  its libraries ({len(set(modules))} modules)"] = [python, "-c", floor]
        runs_of[f"todoku {name}"] = [str(TODOKU), *arguments]
    for command in runs_of.values():  # byte-code written, files in the page cache
        started(command, env)
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in runs_of}
    for _ in range(runs):
        for name, command in runs_of.items():
            samples[name].append(started(command, env))
    return {
        name: (statistics.median(w for w, _ in times), statistics.median(c for _, c in times))
        for name, times in samples.items()
    }


def readings(runs: int) -> dict[str, float]:
    """Median seconds of reading the configuration and the catalogue, each way."""
    from bot.config import yamlsource
    from messages import texts
    from messages.languages import LANGUAGES

    files = [REPO / "config" / f"{name}.yaml" for name in ("municipality", "programs", "campaigns")]

    def read_config() -> None:
        for path in files:
            yamlsource.read_yaml(path)

    fast = yamlsource._C_LOADER
    result = {"config, libyaml": in_process(read_config, runs)}
    yamlsource._C_LOADER = None
    try:
        result["config, pure reader"] = in_process(read_config, runs)
    finally:
        yamlsource._C_LOADER = fast
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "catalogue.json"
        texts.read_all(texts.CATALOGUE_DIR, cache)
        result["catalogue, cached"] = in_process(
            lambda: texts.read_all(texts.CATALOGUE_DIR, cache), runs
        )
    result["catalogue, Babel"] = in_process(
        lambda: [texts.read_catalogue(lang) for lang in LANGUAGES], runs
    )
    return result


def main() -> None:
    """Measure and print (and with --json, print the figures as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    parser.add_argument(
        "--processes-only", action="store_true", help="skip the readings (for older commits)"
    )
    args = parser.parse_args()
    when = time.strftime("%Y-%m-%d %H:%M %Z")
    print(
        f"# start-up, {args.runs} runs each, {when}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        timed = processes(args.runs, f"sqlite:///{tmp}/startup.db")
    floor = None
    for name, (wall, cpu) in timed.items():
        if name.startswith("  its libraries"):
            floor = (wall, cpu)
        ratio = ""
        if name.startswith("todoku") and floor is not None:
            ratio = f"  = {wall / floor[0]:.2f}× its libraries' wall, {cpu / floor[1]:.2f}× CPU"
        print(f"{name:32s} {wall * 1000:6.0f} ms wall {cpu * 1000:6.0f} ms CPU{ratio}")
    if args.processes_only:
        return
    read = readings(args.runs)
    for name, seconds in read.items():
        print(f"{name:22s} {seconds * 1000:6.1f} ms")
    yaml_ratio = read["config, libyaml"] / read["config, pure reader"]
    catalogue_ratio = read["catalogue, cached"] / read["catalogue, Babel"]
    print(
        f"libyaml reads the configuration in {yaml_ratio:.2f}× the pure reader's time; "
        f"the cached catalogue in {catalogue_ratio:.2f}× Babel's"
    )
    if args.json:
        print(json.dumps({"processes": timed, "readings": read}))


if __name__ == "__main__":
    main()
