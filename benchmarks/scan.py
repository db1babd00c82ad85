"""Scanner throughput on large benign model files, next to SHA-256 hashing of the same bytes.

Run: ``.venv/bin/python benchmarks/scan.py`` (options: ``--pickle-mb 500 --joblib-mb 200
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
import pickle
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pickle-mb", type=int, default=500)
    parser.add_argument("--joblib-mb", type=int, default=200)
    parser.add_argument("--forest-trees", type=int, default=300)
    parser.add_argument("--records", type=int, default=300_000)
    args = parser.parse_args()
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
