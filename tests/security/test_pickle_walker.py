"""The opcode walker: protocols, memo tracing, fail-closed parse errors, concatenated streams."""

from __future__ import annotations

import collections
import pickle
import pickletools
import sys

import numpy as np
import pytest

from loopml.security import FindingKind, ScanLimits, Verdict, scan_bytes
from tests.security import corpus


def _genops_globals(data: bytes) -> list[str]:
    """Globals per the stdlib disassembler, resolving STACK_GLOBAL from the two preceding strings."""
    out, strings, memo = [], [], {}
    for op, arg, _pos in pickletools.genops(data):
        if op.name in ("GLOBAL", "INST"):
            out.append(arg.replace(" ", "."))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "MEMOIZE":
            memo[len(memo)] = strings[-1] if strings else None
        elif op.name in ("BINGET", "LONG_BINGET"):
            strings.append(memo.get(arg))
        elif op.name == "STACK_GLOBAL":
            out.append(f"{strings[-2]}.{strings[-1]}")
    return out


@pytest.mark.parametrize("protocol", range(6))
def test_globals_match_the_stdlib_disassembler(protocol: int) -> None:
    from sklearn.linear_model import LogisticRegression

    x = np.arange(20.0).reshape(10, 2)
    model = LogisticRegression().fit(x, [0, 1] * 5)
    data = pickle.dumps({"m": model, "d": collections.OrderedDict(a=np.float32(1))}, protocol=protocol)
    report = scan_bytes(data)
    from loopml.security.scan.policy import map_python2_name

    expected = {".".join(map_python2_name(*g.rsplit(".", 1))) for g in _genops_globals(data)}
    assert set(report.members[0].globals) == expected
    assert report.verdict is Verdict.SAFE


def test_every_opcode_of_a_rich_pickle_walks_cleanly() -> None:
    value = {
        "ints": [0, 1, 255, 65535, -1, 2**40, 2**200, True, False, None],
        "floats": [1.5, float("inf")],
        "text": ["", "é" * 300, "x" * 70000],
        "bytes": [b"", b"\x00" * 300, bytearray(b"ab")],
        "tuples": [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "sets": [set(), {1}, frozenset({2})],
        "shared": [[1]] * 3,
    }
    for protocol in range(6):
        report = scan_bytes(pickle.dumps(value, protocol=protocol))
        assert report.verdict is Verdict.SAFE, (protocol, report.findings)


def test_py2_aliases_are_mapped_like_the_unpickler() -> None:
    report = scan_bytes(b"c__builtin__\nset\n(]tR.")
    assert report.verdict is Verdict.SAFE
    assert report.members[0].globals == ("builtins.set",)
    bad = scan_bytes(b"ccommands\ngetoutput\n(S'id'\ntR.")
    assert bad.verdict is Verdict.UNSAFE
    assert bad.findings[0].global_name == "subprocess.getoutput"


def test_truncated_pickle_is_a_truncated_finding_not_a_pass() -> None:
    data = pickle.dumps(np.arange(100.0), protocol=4)
    for cut in (3, len(data) // 2, len(data) - 1):
        report = scan_bytes(data[:cut])
        kinds = {f.kind for f in report.findings}
        assert FindingKind.TRUNCATED in kinds, cut
        assert report.verdict is not Verdict.SAFE


def test_truncated_malicious_pickle_still_names_the_global() -> None:
    data = corpus.full(corpus.call(corpus.g("os", "system", 2), [corpus.s("id", 2)]), 2)
    report = scan_bytes(data[:-3])
    assert report.verdict is Verdict.UNSAFE
    assert {f.kind for f in report.findings} == {FindingKind.MALICIOUS, FindingKind.TRUNCATED}


def test_unknown_opcode_is_a_parse_error_with_offset() -> None:
    report = scan_bytes(b"\x80\x04K\x01\xff.")
    finding = report.findings[0]
    assert finding.kind is FindingKind.PARSE_ERROR
    assert finding.offset == 4
    assert report.verdict is Verdict.UNKNOWN


def test_stack_underflow_and_bad_memo_are_parse_errors() -> None:
    assert scan_bytes(b"\x80\x02R.").findings[0].kind is FindingKind.PARSE_ERROR
    assert scan_bytes(b"\x80\x02h\x05.").findings[0].kind is FindingKind.PARSE_ERROR


def test_concatenated_pickles_are_all_scanned() -> None:
    evil = corpus.full(corpus.call(corpus.g("posix", "system", 2), [corpus.s("id", 2)]), 2)
    report = scan_bytes(pickle.dumps(1, protocol=2) + pickle.dumps([2], protocol=0) + evil)
    assert report.verdict is Verdict.UNSAFE
    assert report.findings[0].global_name == "posix.system"


def test_trailing_bytes_after_a_pickle_fail_closed() -> None:
    report = scan_bytes(pickle.dumps(1, protocol=2) + b"\x00\x01 garbage")
    assert report.verdict is Verdict.UNKNOWN
    assert report.findings[0].kind is FindingKind.PARSE_ERROR


def test_stack_global_of_a_non_string_is_dynamic() -> None:
    body = corpus.i(1, 4) + corpus.s("system", 4) + b"\x93"
    report = scan_bytes(corpus.full(body, 4))
    assert report.findings[0].kind is FindingKind.DYNAMIC_GLOBAL
    assert report.verdict is Verdict.UNSAFE


def test_extension_codes_are_unknown() -> None:
    report = scan_bytes(b"\x80\x02\x82\x01)R.")
    assert report.findings[0].global_name == "copyreg.extension[1]"
    assert report.verdict is Verdict.UNSAFE  # the REDUCE calls a callable the stream cannot name


def test_memo_cap_forgets_entries_and_fails_closed() -> None:
    body = corpus.s("os", 4) + b"\x94" + corpus.s("system", 4) + b"\x94" + b"\x93"
    limits = ScanLimits(max_memo_entries=1)
    report = scan_bytes(corpus.full(corpus.s("pad", 4) + b"\x940" + b"h\x00h\x01\x93", 4), limits=limits)
    assert report.findings[0].kind is FindingKind.RESOURCE_LIMIT
    assert scan_bytes(corpus.full(body, 4), limits=limits).verdict is Verdict.UNSAFE


def test_scanning_never_imports_what_the_pickle_names() -> None:
    name = "some_module_that_would_explode"
    report = scan_bytes(corpus.full(corpus.call(corpus.g(name, "boom", 4), []), 4))
    assert report.verdict is Verdict.UNKNOWN
    assert report.findings[0].kind is FindingKind.UNKNOWN_GLOBAL
    assert report.findings[0].global_name == f"{name}.boom"
    assert name not in sys.modules


def test_trusted_global_turns_unknown_into_safe_but_never_allows_denied() -> None:
    data = corpus.full(corpus.call(corpus.g("mypkg.models", "Net", 2), []), 2)
    assert scan_bytes(data).verdict is Verdict.UNKNOWN
    assert scan_bytes(data, trusted_globals=["mypkg.models.Net"]).verdict is Verdict.SAFE
    evil = corpus.full(corpus.call(corpus.g("os", "system", 2), [corpus.s("id", 2)]), 2)
    assert scan_bytes(evil, trusted_globals=["os.system"]).verdict is Verdict.UNSAFE


def test_large_payloads_are_skipped_not_kept() -> None:
    big = np.zeros(3_000_000, dtype=np.uint8)  # 3 MB > max_arg_bytes
    report = scan_bytes(pickle.dumps(big, protocol=5), limits=ScanLimits(max_arg_bytes=1024))
    assert report.verdict is Verdict.SAFE
    assert report.members[0].bytes_scanned > 3_000_000


def test_protocol0_pickle_with_a_non_identifier_module_is_not_mistaken_for_text() -> None:
    # __import__("my-mod") works when my-mod.py exists; junk after the call must not hide it.
    report = scan_bytes(b"cmy-mod\nrun\n(tR\xff\xff")
    assert report.members[0].format == "pickle"
    assert report.findings[0].global_name == "my-mod.run"
    assert report.verdict is not Verdict.SAFE


def test_text_and_csv_that_start_like_opcodes_are_data() -> None:
    for text in (b"city,population\nParis,1\n", b"Version 1\nhello\n", b"(draft) notes\n", b"I like it\n"):
        report = scan_bytes(text)
        assert report.members[0].format == "data", text
        assert report.verdict is Verdict.SAFE
