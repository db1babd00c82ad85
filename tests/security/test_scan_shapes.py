"""Real-world shapes: at most the one expected benign file is flagged; every malicious one is blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from loopml.security import FindingKind, ScanLimits, Verdict, scan_bytes, scan_path
from tests.security import corpus, shapes


@pytest.fixture(scope="module")
def benign(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return shapes.build_benign_shapes(tmp_path_factory.mktemp("benign-shapes"))


@pytest.fixture(scope="module")
def malicious(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str | None]]:
    return shapes.build_malicious_shapes(tmp_path_factory.mktemp("malicious-shapes"))


def test_benign_shapes_pass_except_the_training_codes_own_class(benign: dict[str, Path]) -> None:
    flagged = {}
    for name, path in benign.items():
        report = scan_path(path)
        if report.verdict is not Verdict.SAFE:
            flagged[name] = [f"{f.kind.value}: {f.global_name or f.message}" for f in report.findings]
    assert len(benign) >= 40
    assert set(flagged) == shapes.EXPECTED_FLAGGED, flagged


def test_the_flagged_benign_file_is_unknown_not_unsafe_and_trust_clears_it(benign: dict[str, Path]) -> None:
    path = benign["torch-checkpoint-dataclass-config.pt"]
    report = scan_path(path)
    assert report.verdict is Verdict.UNKNOWN
    assert {f.global_name for f in report.findings} == {"tests.security.shapes.TrainConfig"}
    assert scan_path(path, trusted_globals=["tests.security.shapes.TrainConfig"]).verdict is Verdict.SAFE


def test_every_malicious_shape_is_blocked_naming_the_global(
    malicious: dict[str, tuple[Path, str | None]],
) -> None:
    missed = []
    for name, (path, expected) in malicious.items():
        report = scan_path(path)
        unsafe = {f.global_name for f in report.findings if f.verdict is Verdict.UNSAFE}
        if report.verdict is not Verdict.UNSAFE:
            missed.append(f"{name}: verdict {report.verdict.value}")
        elif expected is not None and expected not in unsafe:
            missed.append(f"{name}: {expected} not named in {unsafe}")
    assert len(malicious) > 200
    assert missed == []


def _p(body: bytes, proto: int = 2) -> bytes:
    return corpus.full(body, proto)


def test_partial_is_data_only_over_an_allowlisted_function() -> None:
    s, g, call = corpus.s, corpus.g, corpus.call
    ok = _p(
        call(g("functools", "partial", 2), [g("numpy", "log1p", 2)])
        + b"("
        + g("numpy", "log1p", 2)
        + b")NNtb"
    )
    assert scan_bytes(ok).verdict is Verdict.SAFE
    swapped = _p(
        call(g("functools", "partial", 2), [g("numpy", "log1p", 2)]) + b"(" + g("os", "system", 2) + b")NNtb"
    )
    report = scan_bytes(swapped)
    assert report.verdict is Verdict.UNSAFE
    assert {"os.system", "functools.partial"} <= {f.global_name for f in report.findings}
    over_os = scan_bytes(_p(call(g("functools", "partial", 2), [g("os", "system", 2), s("id", 2)])))
    message = next(f.message for f in over_os.findings if f.global_name == "functools.partial")
    assert "global os.system" in message and "allowlisted" in message


def test_a_guarded_global_used_as_data_is_malicious_with_its_offset() -> None:
    data = _p(b"(" + corpus.g("functools", "partial", 2) + b"l")
    finding = scan_bytes(data).findings[0]
    assert finding.kind is FindingKind.MALICIOUS
    assert finding.global_name == "functools.partial"
    assert finding.offset == 3 and "offset 3" in finding.message


def test_a_guarded_global_popped_or_fetched_again_for_a_checked_call_is_settled() -> None:
    s, g = corpus.s, corpus.g
    # imported, memoized, discarded; fetched twice from the memo for two checked calls
    body = (
        g("functools", "partial", 2)
        + b"q\x01"
        + b"0"
        + b"("
        + b"h\x01"
        + b"("
        + g("numpy", "clip", 2)
        + b"tR"
    )
    body += b"h\x01" + b"(" + g("numpy", "exp", 2) + s("x", 2) + b"tR" + b"l"
    assert scan_bytes(_p(body)).verdict is Verdict.SAFE


def test_a_guarded_global_dropped_by_the_memo_limit_fails_closed() -> None:
    g = corpus.g
    body = corpus.s("pad", 2) + b"q\x00" + b"0" + g("functools", "partial", 2) + b"q\x01" + b"0"
    body += b"(" + g("numpy", "clip", 2) + b"h\x01" + b"l"
    report = scan_bytes(_p(body), limits=ScanLimits(max_memo_entries=1))
    assert report.verdict is not Verdict.SAFE
    assert FindingKind.RESOURCE_LIMIT in {f.kind for f in report.findings}


def test_ufunc_reconstruct_is_judged_like_the_global_it_imports() -> None:
    s, g, call = corpus.s, corpus.g, corpus.call
    numpy1 = _p(call(g("numpy.core", "_ufunc_reconstruct", 2), [s("numpy", 2), s("log1p", 2)]))
    report = scan_bytes(numpy1)
    assert report.verdict is Verdict.SAFE
    assert report.members[0].globals == ("numpy.core._ufunc_reconstruct", "numpy.log1p")
    unknown = scan_bytes(_p(call(g("numpy.core", "_ufunc_reconstruct", 2), [s("mypkg", 2), s("fn", 2)])))
    assert unknown.verdict is Verdict.UNKNOWN
    assert unknown.findings[0].global_name == "mypkg.fn"


def test_a_plain_function_called_while_loading_is_reported() -> None:
    data = _p(corpus.call(corpus.g("numpy", "clip", 2), [corpus.i(1, 2), corpus.i(0, 2), corpus.i(0, 2)]))
    report = scan_bytes(data)
    assert report.verdict is Verdict.UNKNOWN
    assert "reference kept inside data" in report.findings[0].message


def test_value_types_allow_one_exact_class_never_the_family() -> None:
    from loopml.security.scan import judge_global

    assert judge_global("pathlib", "PurePosixPath").kind is None
    assert judge_global("http", "HTTPStatus").kind is None
    denied = [
        ("pathlib", "Path.unlink"),
        ("pathlib", "os"),
        ("http", "client"),
        ("http.server", "test"),
        ("functools", "reduce"),
        ("_functools", "partial"),
        ("_operator", "attrgetter"),
    ]
    for module, name in denied:
        assert judge_global(module, name).kind is FindingKind.MALICIOUS, (module, name)
    assert (
        judge_global("functools", "partial", trusted=frozenset({"functools.partial"})).call.value == "partial"
    )


def test_keyword_arguments_that_set_dunder_attributes_are_a_gadget() -> None:
    kwargs = b"}" + corpus.s("__class__", 4) + corpus.g("argparse", "Namespace", 4) + b"s"
    data = corpus.full(corpus.g("argparse", "Namespace", 4) + b")" + kwargs + b"\x92", 4)
    report = scan_bytes(data)
    assert report.verdict is Verdict.UNSAFE
    assert "NEWOBJ_EX" in report.findings[0].message and "'__class__'" in report.findings[0].message


def test_a_truncated_stream_is_not_called_malicious_for_an_unfinished_partial() -> None:
    data = corpus.header(2) + corpus.g("functools", "partial", 2) + b"(" + corpus.g("numpy", "clip", 2)
    report = scan_bytes(data)
    assert {f.kind for f in report.findings} == {FindingKind.TRUNCATED}


def test_value_types_of_denied_families_are_built_from_literals_only() -> None:
    s, g, call = corpus.s, corpus.g, corpus.call
    assert (
        scan_bytes(_p(call(g("pathlib", "PosixPath", 2), [s("/", 2), s("tmp", 2)]))).verdict is Verdict.SAFE
    )
    nested = call(g("pathlib", "PurePosixPath", 2), [call(g("builtins", "str", 2), [s("/etc", 2)])])
    report = scan_bytes(_p(nested))
    assert report.verdict is Verdict.UNKNOWN
    assert report.findings[0].global_name == "pathlib.PurePosixPath"
    assert "literal strings and numbers" in report.findings[0].message
    keywords = (
        g("http", "HTTPStatus", 4) + b"(" + corpus.i(200, 4) + b"t}" + s("names", 4) + s("x", 4) + b"s\x92"
    )
    assert scan_bytes(corpus.full(keywords, 4)).verdict is Verdict.UNKNOWN
