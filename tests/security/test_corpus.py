"""The labelled corpus: every malicious technique in every container is flagged; benign files pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.security import FindingKind, Verdict, scan_path
from tests.security import corpus


@pytest.fixture(scope="module")
def malicious(tmp_path_factory: pytest.TempPathFactory) -> list[corpus.Sample]:
    return corpus.build_malicious(tmp_path_factory.mktemp("malicious"))


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return corpus.build_benign(tmp_path_factory.mktemp("benign"))


def test_corpus_covers_every_technique_in_every_container(malicious: list[corpus.Sample]) -> None:
    pairs = {(s.technique, s.container) for s in malicious}
    assert len(pairs) == len(corpus.TECHNIQUES) * len(corpus.CONTAINERS)
    assert len(malicious) > 1000


def test_every_malicious_file_is_unsafe_with_the_global_named(malicious: list[corpus.Sample]) -> None:
    missed = []
    for sample in malicious:
        report = scan_path(sample.path)
        malicious_globals = {f.global_name for f in report.findings if f.kind is FindingKind.MALICIOUS}
        dynamic = any(f.kind is FindingKind.DYNAMIC_GLOBAL for f in report.findings)
        if report.verdict is not Verdict.UNSAFE:
            missed.append(f"{sample.path.name}: verdict {report.verdict.value}")
        elif sample.expect_global is None and not dynamic:
            missed.append(f"{sample.path.name}: no dynamic_global finding")
        elif sample.expect_global is not None and sample.expect_global not in malicious_globals:
            missed.append(f"{sample.path.name}: {sample.expect_global} not named in {malicious_globals}")
    assert missed == []


def test_findings_carry_offsets_and_opcodes(malicious: list[corpus.Sample]) -> None:
    sample = next(s for s in malicious if s.technique == "stack_global_memoized" and s.container == "raw")
    report = scan_path(sample.path)
    finding = next(f for f in report.findings if f.global_name == "os.system")
    assert finding.opcode == "STACK_GLOBAL"
    assert finding.offset is not None and finding.offset > 2
    assert str(finding.offset) in finding.message


def test_benign_files_are_safe(benign: dict[str, Path]) -> None:
    flagged = {}
    for name, path in benign.items():
        report = scan_path(path)
        if report.verdict is not Verdict.SAFE:
            flagged[name] = [f.message for f in report.findings]
    assert len(benign) >= 40
    assert len(flagged) <= 1, flagged


def test_benign_formats_are_recognised(benign: dict[str, Path]) -> None:
    def formats(name: str) -> set[str]:
        return {m.format for m in scan_path(benign[name]).members}

    assert formats("joblib-forest-z3.joblib") == {"zlib/pickle"}
    assert formats("joblib-forest-lzma.joblib") == {"lzma/pickle"}
    assert "torch-storage" in formats("torch-state-dict.pt")
    assert formats("torch-legacy-state-dict.pt") == {"torch-legacy"}
    assert formats("model.safetensors") == {"safetensors"}
    assert formats("model.onnx") == {"data"}
    assert formats("data.csv") == {"data"}
    assert formats("collections-p0.pkl") == {"pickle"}
    assert "npy" in formats("arrays.npz")
    assert "zip" in formats("pipeline.skops")
