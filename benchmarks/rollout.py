"""Cost of deployment routing in ``loopml serve``: routing + a canary + one shadow at 100 %.

Usage::

    .venv/bin/python benchmarks/rollout.py                  # 3 rounds of 5 s per server
    .venv/bin/python benchmarks/rollout.py --duration 10 --rounds 5

Two servers of the same model (the 50-tree GBC on 16 features of ``benchmarks/serving.py``), one
row per request, Open Inference Protocol JSON, prediction log off, under ``wrk -t1 -c8``:

* **plain**: ``loopml serve models:/gbc/1``;
* **routed**: ``loopml serve --deployment gbc-rollout``, the deployment routing 90 % to
  ``models:/gbc/1`` (primary), 10 % to ``models:/gbc/2`` (canary, the same model registered
  again) and mirroring every request to a shadow (``models:/gbc/2``), with its observations
  collected for the gates;
* **canary**: ``loopml serve --deployment gbc-canary``, the same routing without the shadow
  (what routing and the gates' observations cost, apart from the shadow's second prediction).

Rounds interleave the three servers; the figures are the median and range of the rounds, and
the overheads are the routed (and canary) server's throughput loss and p99 increase against the
plain one of the same round. Each server's CPU time (all its threads, shadow included) per answered request is
measured too: on a busy machine it moves far less than latency and throughput do, so it shows
what routing, the canary and the shadow cost even when the wall-clock figures are noise. The
routed server also reports how many shadow copies were answered and dropped. Nothing here is
asserted by the tests.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
import urllib.request
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

import serving as base  # benchmarks/serving.py: the server process, wrk, the GBC model

DEPLOYMENT = "gbc-rollout"
CANARY_ONLY = "gbc-canary"


def _deploy(home: Path) -> None:
    """Register the GBC a second time (the canary and the shadow) and create the deployment."""
    from loopml.config import Settings
    from loopml.deploy.spec import Canary, DeploymentSpec, Shadow
    from loopml.services import Services

    with Services(Settings(home=home)) as services:
        services.registry.register(home / "gbc-pkg", "gbc")
        spec = DeploymentSpec(
            name=DEPLOYMENT,
            primary="models:/gbc/1",
            canary=Canary(target="models:/gbc/2", weight=10),
            shadows=(Shadow(name="mirror", target="models:/gbc/2", mirror_percent=100),),
        )
        services.deployments.create(spec, actor="benchmark")
        canary_only = DeploymentSpec(
            name=CANARY_ONLY, primary="models:/gbc/1", canary=Canary(target="models:/gbc/2", weight=10)
        )
        services.deployments.create(canary_only, actor="benchmark")


def _shadow_counts(url: str) -> tuple[float, float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as r:
        text = r.read().decode()
    answered = sum(
        float(m.group(1))
        for m in re.finditer(
            r'loopml_serving_shadow_requests_total\{[^}]*status="ok"[^}]*\} ([\d.e+]+)', text
        )
    )
    dropped = sum(
        float(m.group(1))
        for m in re.finditer(r"loopml_serving_shadow_dropped_total\{[^}]*\} ([\d.e+]+)", text)
    )
    return answered, dropped


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the server process."""
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    work = Path(tempfile.mkdtemp(prefix="loopml-bench-rollout-"))
    home = work / "home"
    try:
        base._register_gbc(home)
        _deploy(home)
        body = base._gbc_body(1)
        runs: dict[str, list[tuple[float, float]]] = {"plain": [], "routed": [], "canary": []}
        cpu: dict[str, list[float]] = {label: [] for label in runs}
        shadows: list[tuple[float, float]] = []
        for _ in range(args.rounds):
            for label, target, name in (
                ("plain", "models:/gbc/1", "gbc"),
                ("routed", f"--deployment={DEPLOYMENT}", DEPLOYMENT),
                ("canary", f"--deployment={CANARY_ONLY}", CANARY_ONLY),
            ):
                server = base.Server.loopml(home, target, log=False)
                try:
                    url = f"{server.url}/v2/models/{name}/infer"
                    base._wrk(url, body, duration=1, workdir=work)  # warm-up
                    before = _cpu_s(server.proc.pid)
                    result = base._wrk(url, body, duration=args.duration, workdir=work)
                    used = _cpu_s(server.proc.pid) - before
                    runs[label].append(result)
                    cpu[label].append(1e6 * used / (result[0] * args.duration))
                    if label == "routed":
                        shadows.append(_shadow_counts(server.url))
                finally:
                    server.close()
        print(
            f"loopml serve, 1 worker, 1 row, wrk -t1 -c8 -d{args.duration}s, {args.rounds} rounds: "
            "median [range]"
        )
        print(f"{'server':8} {'requests/s':>24} {'p99 ms':>24} {'CPU us/request':>24}")
        for label, found in runs.items():
            rps, p99 = base._summary([r for r, _ in found]), base._summary([p for _, p in found])
            print(f"{label:8} {rps:>24} {p99:>24} {base._summary(cpu[label]):>24}")
        for label in ("routed", "canary"):
            pairs = list(zip(runs["plain"], runs[label], strict=True))
            loss = [100 * (1 - r[0] / p[0]) for p, r in pairs]
            added = [r[1] - p[1] for p, r in pairs]
            extra = [r - p for p, r in zip(cpu["plain"], cpu[label], strict=True)]
            print(f"{label} vs plain: throughput overhead %  {base._summary(loss)}")
            print(f"{label} vs plain: p99 overhead ms        {base._summary(added)}")
            print(f"{label} vs plain: CPU overhead us/request {base._summary(extra)}")
        for answered, dropped in shadows:
            share = 100 * dropped / max(answered + dropped, 1)
            print(f"shadow copies: {answered:.0f} answered, {dropped:.0f} dropped ({share:.1f} %)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
