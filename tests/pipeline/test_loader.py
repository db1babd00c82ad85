"""Loading pipelines from files and reading --param overrides."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from loopml.errors import InvalidInput
from loopml.pipeline import load_pipeline, parse_param_overrides

HEADER = """
from loopml.pipeline import Dataset, Parameter, Pipeline, component

@component
def make(*, rows: int = 1, name: str = "x", ratio: float = 0.5, flags: list[str] | None = None) -> Dataset:
    return Dataset.from_properties({"rows": rows})

"""


def _write(tmp_path: Path, body: str, name: str = "pipe.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def test_single_module_level_pipeline(tmp_path: Path) -> None:
    path = _write(tmp_path, 'demo = Pipeline("demo", steps=[make()])\n')
    assert load_pipeline(str(path)).name == "demo"


def test_factory_function_and_explicit_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        def pipeline():
            return Pipeline("made", steps=[make()])

        other = Pipeline("other", steps=[make()])

        def build():
            return Pipeline("built", steps=[make()])
    """,
    )
    assert load_pipeline(str(path)).name == "other"  # a module-level Pipeline wins over pipeline()
    assert load_pipeline(f"{path}:pipeline").name == "made"
    assert load_pipeline(f"{path}:build").name == "built"


def test_no_pipeline(tmp_path: Path) -> None:
    path = _write(tmp_path, "x = 1\n")
    with pytest.raises(InvalidInput, match="defines no pipeline; define a module-level Pipeline or name it"):
        load_pipeline(str(path))


def test_several_pipelines_are_listed(tmp_path: Path) -> None:
    path = _write(tmp_path, 'a = Pipeline("a", steps=[make()])\nb = Pipeline("b", steps=[make()])\n')
    with pytest.raises(InvalidInput, match=r"several pipelines \(a, b\)"):
        load_pipeline(str(path))


def test_bad_targets(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        load_pipeline(str(tmp_path / "missing.py"))
    path = _write(tmp_path, "x = 1\n")
    with pytest.raises(InvalidInput, match="defines no 'nope'"):
        load_pipeline(f"{path}:nope")
    with pytest.raises(InvalidInput, match="not a Pipeline"):
        load_pipeline(f"{path}:x")
    broken = tmp_path / "broken.py"
    broken.write_text("raise ValueError('bad config')\n")
    with pytest.raises(InvalidInput, match="failed to import: ValueError: bad config"):
        load_pipeline(str(broken))


def test_invalid_pipeline_in_file_is_reported_with_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path, 'p = Pipeline("p", steps=[make(rows="many")])\n')
    with pytest.raises(InvalidInput, match=r"pipe\.py.*parameter 'rows': expected int"):
        load_pipeline(str(path))


def test_param_overrides_are_coerced_by_declared_type(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        p = Pipeline("p", steps=[make(
            rows=Parameter(name="rows", type=int, default=1),
            name=Parameter(name="name", type=str, default="a"),
            ratio=Parameter(name="ratio", type=float, default=0.1),
            flags=Parameter(name="flags", type=list[str] | None, default=None),
        )])
    """,
    )
    pipeline = load_pipeline(str(path))
    values = parse_param_overrides(pipeline, ["rows=3", "name=b=c", "ratio=2", 'flags=["x"]'])
    assert values == {"rows": 3, "name": "b=c", "ratio": 2.0, "flags": ["x"]}
    assert parse_param_overrides(pipeline, ["flags=none"]) == {"flags": None}
    with pytest.raises(InvalidInput, match=r"Parameter 'rows': cannot read 'three' as int"):
        parse_param_overrides(pipeline, ["rows=three"])
    with pytest.raises(InvalidInput, match="no parameter 'row'"):
        parse_param_overrides(pipeline, ["row=3"])
    with pytest.raises(InvalidInput, match="expected KEY=VALUE"):
        parse_param_overrides(pipeline, ["rows"])


def test_installed_module_by_name() -> None:
    assert load_pipeline("loopml.examples.census.pipeline").name == "census"
    assert load_pipeline("loopml.examples.census.pipeline:pipeline").name == "census"


def test_module_by_name_from_the_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "team_pipes"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "nightly.py").write_text(HEADER + 'nightly = Pipeline("nightly", steps=[make()])\n')
    (package / "broken.py").write_text("import not_a_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_pipeline("team_pipes.nightly").name == "nightly"
    with pytest.raises(InvalidInput, match=r"No pipeline file or module 'team_pipes\.missing'; pass FILE"):
        load_pipeline("team_pipes.missing")
    with pytest.raises(InvalidInput, match=r"No pipeline file or module 'nowhere_at_all\.pipe'"):
        load_pipeline("nowhere_at_all.pipe:p")
    with pytest.raises(InvalidInput, match=r"'team_pipes\.broken' failed to import: ModuleNotFoundError"):
        load_pipeline("team_pipes.broken")
    with pytest.raises(InvalidInput, match="defines no 'nope'"):
        load_pipeline("team_pipes.nightly:nope")
