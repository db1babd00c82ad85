"""The reproducibility record of a run: code version, environment, host, seeds, inputs and resources.

:func:`capture` runs at run start, :func:`finalise` adds resource use at run end, and
:func:`reproduction_steps` turns a stored record back into the steps that re-run it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

__all__ = [
    "ReproductionSteps",
    "capture",
    "finalise",
    "git_state",
    "reproduction_steps",
    "resource_usage",
]

SCHEMA_VERSION = 1
_GIT_TIMEOUT_S = 5.0
_GPU_TIMEOUT_S = 3.0


def _run(args: Sequence[str], *, cwd: Path | None, timeout: float) -> bytes | None:
    """Output of a command, or None when it is missing, fails or times out."""
    try:
        done = subprocess.run(
            list(args), cwd=cwd, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def git_state(cwd: Path | None = None) -> dict[str, Any] | None:
    """Commit, dirty flag and SHA-256 of ``git diff HEAD`` for the repository holding ``cwd``.

    Returns:
        None outside a git repository or when ``git`` is not installed.
    """
    if shutil.which("git") is None:
        return None
    root = _run(["git", "rev-parse", "--show-toplevel"], cwd=cwd, timeout=_GIT_TIMEOUT_S)
    commit = _run(["git", "rev-parse", "HEAD"], cwd=cwd, timeout=_GIT_TIMEOUT_S)
    if root is None or commit is None:
        return None
    status = _run(["git", "status", "--porcelain"], cwd=cwd, timeout=_GIT_TIMEOUT_S) or b""
    diff = _run(["git", "diff", "HEAD"], cwd=cwd, timeout=_GIT_TIMEOUT_S) or b""
    branch = _run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=cwd, timeout=_GIT_TIMEOUT_S)
    remote = _run(["git", "config", "--get", "remote.origin.url"], cwd=cwd, timeout=_GIT_TIMEOUT_S)
    is_dirty = bool(status.strip())
    return {
        "root": root.decode().strip(),
        "commit": commit.decode().strip(),
        "branch": branch.decode().strip() if branch else None,
        "remote": remote.decode().strip() if remote else None,
        "is_dirty": is_dirty,
        "diff_sha256": hashlib.sha256(diff).hexdigest() if is_dirty else None,
        "untracked": [line[3:] for line in status.decode(errors="replace").splitlines() if line[:2] == "??"],
    }


@functools.cache
def _packages() -> tuple[str, ...]:
    found: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        name, version = _name_and_version(dist)
        if name and version:
            found.setdefault(name, version)
    return tuple(f"{name}=={found[name]}" for name in sorted(found, key=str.lower))


def _name_and_version(dist: importlib.metadata.Distribution) -> tuple[str | None, str | None]:
    """``Name`` and ``Version`` from the metadata's header lines.

    ``dist.metadata`` parses the whole file with the e-mail parser, long description included
    (1.2 s of CPU for 200 installed packages, paid by every tracked run's first record).
    """
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first empty line
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version"):
            fields.setdefault(key, value.strip())
    return fields.get("Name"), fields.get("Version")


@functools.cache
def _gpus() -> tuple[str, ...]:
    if shutil.which("nvidia-smi") is None:
        return ()
    out = _run(["nvidia-smi", "-L"], cwd=None, timeout=_GPU_TIMEOUT_S)
    return tuple(line.strip() for line in (out or b"").decode(errors="replace").splitlines() if line.strip())


@functools.cache
def _environment() -> dict[str, Any]:
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "packages": list(_packages()),
        "platform": {
            "system": platform.system(),
            "release": platform.release(),
            "machine": platform.machine(),
            "platform": platform.platform(),
        },
        "host": {"hostname": socket.gethostname(), "cpu_count": os.cpu_count(), "gpus": list(_gpus())},
    }


def resource_usage() -> dict[str, float | int]:
    """CPU time (user + system, seconds) and peak resident memory (bytes) of this process so far."""
    proc = psutil.Process()
    cpu = proc.cpu_times()
    peak: int | None = None
    try:
        import resource  # Unix only

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    except ImportError:
        peak = int(getattr(proc.memory_info(), "peak_wset", proc.memory_info().rss))
    return {"cpu_seconds": cpu.user + cpu.system, "peak_rss_bytes": peak}


SEED_PARAM_NAMES = frozenset({"seed", "random_state", "random_seed"})
"""Param names (the last part of a dotted or slashed key) whose integer values are random seeds."""


def seeds_in(params: Mapping[str, Any]) -> dict[str, int]:
    """The random seeds among params: integer values of keys named like :data:`SEED_PARAM_NAMES`.

    Example:
        >>> seeds_in({"random_state": 7, "model.seed": "3", "depth": 4, "seed": None})
        {'random_state': 7, 'model.seed': 3}
    """
    found: dict[str, int] = {}
    for key, value in params.items():
        if key.replace("/", ".").rsplit(".", 1)[-1].lower() not in SEED_PARAM_NAMES:
            continue
        if isinstance(value, int) and not isinstance(value, bool):
            found[key] = value
        elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
            found[key] = int(value)
    return found


def capture(
    *,
    seeds: Mapping[str, int] | None = None,
    datasets: Sequence[Mapping[str, Any]] = (),
    cwd: Path | None = None,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The reproducibility record at run start.

    Args:
        seeds: Random seeds the caller used, by name.
        datasets: Input datasets known at start (more are added by ``log_input``).
        cwd: Folder whose git repository versions the code (default: the current folder).
        argv: The command line (default ``sys.argv``).

    Returns:
        A JSON-ready dict: ``git``, ``entry_point``, ``argv``, ``python``, ``packages``, ``platform``,
        ``host``, ``seeds``, ``datasets`` and ``resources`` (filled by :func:`finalise`).

    Example:
        >>> record = capture(seeds={"numpy": 0})
        >>> record["seeds"], "python" in record
        ({'numpy': 0}, True)
    """
    args = list(sys.argv if argv is None else argv)
    usage = resource_usage()
    record: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "git": git_state(cwd),
        "cwd": str((cwd or Path.cwd()).absolute()),
        "entry_point": args[0] if args else None,
        "argv": args,
        **_environment(),
        "seeds": {str(k): int(v) for k, v in (seeds or {}).items()},
        "datasets": [dict(d) for d in datasets],
        "resources": {
            "started_wall_s": time.time(),
            "started_cpu_seconds": usage["cpu_seconds"],
        },
    }
    return record


def finalise(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record with wall time, CPU time of the run and peak memory of the process added."""
    out = dict(record)
    started = dict(out.get("resources") or {})
    usage = resource_usage()
    wall_start = float(started.get("started_wall_s", time.time()))
    cpu_start = float(started.get("started_cpu_seconds", usage["cpu_seconds"]))
    out["resources"] = {
        **started,
        "wall_seconds": round(time.time() - wall_start, 6),
        "cpu_seconds": round(float(usage["cpu_seconds"]) - cpu_start, 6),
        "peak_rss_bytes": usage["peak_rss_bytes"],
    }
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ReproductionSteps:
    """What it takes to re-run a recorded run: ordered instructions, warnings, a requirements file."""

    steps: tuple[str, ...]
    warnings: tuple[str, ...]
    requirements: str


def _quote(arg: str) -> str:
    return shlex.quote(arg)


def reproduction_steps(
    record: Mapping[str, Any], *, requirements_file: str | None = None
) -> ReproductionSteps:
    """Turn a stored record into steps that re-run the run.

    Args:
        record: A run's reproducibility record.
        requirements_file: Where the caller writes ``requirements``; when given, the install step
            refers to it instead of listing every package.

    Returns:
        The steps, warnings (dirty tree, missing git) and the requirements text.
    """
    steps: list[str] = []
    warnings: list[str] = []
    git = record.get("git")
    if git:
        where = f" ({git['remote']})" if git.get("remote") else ""
        steps.append(f"git checkout {git['commit']}    # repository {git.get('root')}{where}")
        if git.get("is_dirty"):
            warnings.append(
                "The working tree had uncommitted changes (git diff HEAD sha256 "
                f"{git.get('diff_sha256')}); the commit alone does not reproduce the code."
            )
    else:
        warnings.append("No git repository was found when the run started; the code version is unknown.")
    python = record.get("python") or {}
    if python:
        steps.append(f"Use {python.get('implementation', 'Python')} {python.get('version')}")
    packages = list(record.get("packages") or [])
    requirements = "".join(f"{p}\n" for p in packages)
    if requirements_file:
        steps.append(f"pip install -r {_quote(requirements_file)}")
    elif packages:
        steps.append("pip install " + " ".join(_quote(p) for p in packages))
    seeds = record.get("seeds") or {}
    if seeds:
        steps.append("Seeds: " + ", ".join(f"{k}={v}" for k, v in seeds.items()))
    for ds in record.get("datasets") or []:
        steps.append(
            f"Input {ds.get('role', 'dataset')}: {ds.get('name')} (artifact {ds.get('artifact_id')}, "
            f"sha256 {ds.get('sha256')}, {ds.get('size')} bytes)"
        )
    argv = list(record.get("argv") or [])
    if argv:
        cwd = record.get("cwd")
        prefix = f"cd {_quote(cwd)} && " if cwd else ""
        steps.append(f"{prefix}python " + " ".join(_quote(a) for a in argv))
    return ReproductionSteps(steps=tuple(steps), warnings=tuple(warnings), requirements=requirements)
