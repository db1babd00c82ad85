"""The local engine from a plain script: no ``if __name__ == "__main__":`` guard needed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import loopml


def test_worker_pool_from_a_script_without_main_guard(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("a,b\n1,x\n2,y\n")
    (tmp_path / "b.csv").write_text("a,b\n3,x\n4,z\n")
    script = tmp_path / "plain.py"
    script.write_text(
        "from loopml.data import compute_statistics\n"
        "print('script ran')\n"
        "stats = compute_statistics(['a.csv', 'b.csv'], max_workers=2)\n"
        "print('examples', stats.num_examples)\n"
    )
    src = str(Path(loopml.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # the workers did not re-run the script: it printed once
    assert done.stdout.splitlines() == ["script ran", "examples 4"]
