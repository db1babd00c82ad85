"""Model-file scanner: detection scores on labelled corpora, and throughput on large files.

Scores: ``.venv/bin/python benchmarks/scan.py --score [--runs 3]``. Builds the test suite's
labelled corpora in a temporary folder (``tests/security/shapes.py``: real-world benign shapes and
malicious payloads in them; ``tests/security/corpus.py``: every technique in every container) and
prints, per set, files blocked (verdict not ``safe``) and passed, with the milliseconds per file
of ``scan_path`` next to SHA-256 hashing of the same files (median and range of ``--runs`` runs).

Throughput: ``.venv/bin/python benchmarks/scan.py`` (options: ``--pickle-mb 500 --joblib-mb 200
--forest-trees 300 --records 300000``).

Builds, in a temporary folder: a protocol-5 pickle of a dict of NumPy arrays (array-bound:
payloads are skipped by seeking), a plain and a zlib-compressed (``compress=3``) joblib file
(the compressed one must be decompressed to be walked), a pickled random forest, and a list of
small dicts (opcode-bound: every opcode goes through the walker). Prints MB/s of ``scan_path``
and of ``hashlib.sha256`` over each file.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np

from loopml.security import scan_path

_MB = 1024**2


def _sha256(path: Path) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(4 * _MB):
            h.update(chunk)


def _timed(fn: object, path: Path) -> float:
    start = time.perf_counter()
    fn(path)  # type: ignore[operator]
    return time.perf_counter() - start


def _arrays(total_mb: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n = max(total_mb // 10, 1)
    return {f"layer{i}": rng.standard_normal(10 * _MB // 8) for i in range(n)}


def _corpora(root: Path) -> dict[str, tuple[list[Path], bool]]:
    """Labelled sets: name -> (files, is_malicious), built by the test suite's own generators."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests/
    corpus = importlib.import_module("tests.security.corpus")
    shapes = importlib.import_module("tests.security.shapes")
    return {
        "real-world shapes, benign": (list(shapes.build_benign_shapes(root / "sb").values()), False),
        "real-world shapes, malicious": (
            [p for p, _ in shapes.build_malicious_shapes(root / "sm").values()],
            True,
        ),
        "technique corpus, benign": (list(corpus.build_benign(root / "cb").values()), False),
        "technique corpus, malicious": ([x.path for x in corpus.build_malicious(root / "cm")], True),
    }


def _score(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sets = _corpora(Path(tmp))
        print(
            f"{'set':<30} {'files':>5} {'blocked':>7} {'passed':>6} {'unsafe':>6} "
            f"{'scan ms/file':>22} {'sha256 ms/file':>22}"
        )
        for name, (files, is_malicious) in sets.items():
            scan_ms, hash_ms, verdicts = [], [], []
            for _ in range(runs):
                start = time.perf_counter()
                for path in files:
                    _sha256(path)
                hash_ms.append((time.perf_counter() - start) * 1000 / len(files))
                start = time.perf_counter()
                verdicts = [scan_path(path).verdict.value for path in files]
                scan_ms.append((time.perf_counter() - start) * 1000 / len(files))
            blocked = sum(v != "safe" for v in verdicts)
            unsafe = sum(v == "unsafe" for v in verdicts)
            flagged = [p.name for p, v in zip(files, verdicts, strict=True) if (v != "safe") != is_malicious]
            print(
                f"{name:<30} {len(files):>5} {blocked:>7} {len(files) - blocked:>6} {unsafe:>6} "
                f"{_spread(scan_ms):>22} {_spread(hash_ms):>22}"
            )
            label = "passed" if is_malicious else "flagged"
            for file in flagged:
                print(f"    {label}: {file}")


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--score", action="store_true", help="score the labelled corpora instead")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per set with --score")
    parser.add_argument("--pickle-mb", type=int, default=500)
    parser.add_argument("--joblib-mb", type=int, default=200)
    parser.add_argument("--forest-trees", type=int, default=300)
    parser.add_argument("--records", type=int, default=300_000)
    args = parser.parse_args()
    if args.score:
        _score(args.runs)
        return
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files: dict[str, Path] = {}
        files["pickle-p5-arrays"] = root / "arrays.pkl"
        with open(files["pickle-p5-arrays"], "wb") as f:
            pickle.dump(_arrays(args.pickle_mb, rng), f, protocol=5)
        arrays = _arrays(args.joblib_mb, rng)
        files["joblib-arrays"] = root / "arrays.joblib"
        joblib.dump(arrays, files["joblib-arrays"])
        files["joblib-arrays-zlib3"] = root / "arrays-z3.joblib"
        joblib.dump(arrays, files["joblib-arrays-zlib3"], compress=3)
        from sklearn.ensemble import RandomForestClassifier

        x = rng.standard_normal((5000, 20))
        y = (x[:, 0] + x[:, 1] > 0).astype(int)
        forest = RandomForestClassifier(n_estimators=args.forest_trees, random_state=0, n_jobs=1).fit(x, y)
        files["pickle-p4-random-forest"] = root / "forest.pkl"
        files["pickle-p4-random-forest"].write_bytes(pickle.dumps(forest, protocol=4))
        records = [{"id": i, "name": f"n{i}", "score": i / 3} for i in range(args.records)]
        files["pickle-p4-small-objects"] = root / "records.pkl"
        files["pickle-p4-small-objects"].write_bytes(pickle.dumps(records, protocol=4))

        print(f"{'file':<26} {'MB':>8} {'scan s':>8} {'scan MB/s':>10} {'sha256 MB/s':>12} {'verdict':>8}")
        for name, path in files.items():
            mb = path.stat().st_size / _MB
            _sha256(path)  # warm the page cache for both
            t_hash = _timed(_sha256, path)
            start = time.perf_counter()
            report = scan_path(path)
            t_scan = time.perf_counter() - start
            print(
                f"{name:<26} {mb:8.1f} {t_scan:8.3f} {mb / t_scan:10.1f} {mb / t_hash:12.1f} "
                f"{report.verdict.value:>8}"
            )


if __name__ == "__main__":
    main()
