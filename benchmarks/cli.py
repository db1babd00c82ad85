"""Start-up time of the ``loopml`` command line: wall time of whole invocations, fresh processes.

Run: ``.venv/bin/python benchmarks/cli.py [--repeat 5] [--baseline GITREF]``.

Times ``loopml --version``, ``loopml --help``, ``loopml scan FILE`` (one small pickle) and
``loopml runs list`` (a store holding 20 runs), each ``--repeat`` times in a new interpreter, and
prints median and range of wall time, and median CPU time (user + system: less sensitive than
wall time to other jobs on a shared machine). With ``--baseline``, the same commands run against
that commit (exported with ``git archive``) in the same session, interleaved, so
both see the same load. Byte-code is cached (in the run's temporary folder, whatever
``PYTHONDONTWRITEBYTECODE`` says), as it is for an installed package: the warm-up run compiles.
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_ENTRY = "import sys; from loopml.cli import main; sys.argv[0] = 'loopml'; main()"


def _fixtures(folder: Path) -> dict[str, list[str]]:
    model = folder / "model.pkl"
    model.write_bytes(pickle.dumps({"coef": [0.1, 0.2, 0.3], "intercept": 0.5}))
    home = folder / "home"
    script = (
        "import loopml\n"
        f"loopml.set_settings(home={str(home)!r})\n"
        "for i in range(20):\n"
        "    with loopml.start_run('bench'):\n"
        "        loopml.log_param('i', i); loopml.log_metric('m', i / 10)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env=_env(ROOT / "src", folder / "pycache"))
    return {
        "loopml --version": ["--version"],
        "loopml --help": ["--help"],
        "loopml scan FILE": ["scan", str(model)],
        "loopml runs list": ["--home", str(home), "runs", "list"],
    }


def _env(src: Path, pycache: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "120", "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _time(src: Path, args: list[str], *, pycache: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one invocation."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _ENTRY, *args], env=_env(src, pycache), capture_output=True, check=False
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise SystemExit(f"loopml {' '.join(args)} failed ({proc.returncode}): {proc.stderr.decode()[-400:]}")
    return elapsed, cpu


@contextmanager
def _checkout(ref: str) -> Iterator[Path]:
    """The ``src`` folder of ``ref``, exported with ``git archive`` (no worktree is registered)."""
    with tempfile.TemporaryDirectory(prefix="loopml-cli-bench-") as folder:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "src"], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder) / "src"


def _row(label: str, runs: list[tuple[float, float]]) -> str:
    wall, cpu = [r[0] for r in runs], [r[1] for r in runs]
    return (
        f"{label:<22} wall median {statistics.median(wall):6.3f} s  "
        f"range {min(wall):6.3f} - {max(wall):6.3f} s   cpu median {statistics.median(cpu):6.3f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--baseline", metavar="GITREF", help="also time this commit, interleaved")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="loopml-cli-bench-") as folder:
        commands = _fixtures(Path(folder))
        pycache = Path(folder) / "pycache"
        with _checkout(args.baseline) if args.baseline else _nothing() as baseline:
            trees = {"now": ROOT / "src", **({f"baseline {args.baseline}": baseline} if baseline else {})}
            for label, argv in commands.items():
                for tree in trees.values():
                    _time(tree, argv, pycache=pycache)  # warm the page cache and byte-code of this tree
                times: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
                for _ in range(args.repeat):
                    for name, tree in trees.items():
                        times[name].append(_time(tree, argv, pycache=pycache))
                for name, values in times.items():
                    print(_row(label if name == "now" else f"  {name}", values))


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
