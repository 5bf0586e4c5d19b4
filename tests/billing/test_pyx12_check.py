"""pyx12's verdict computed in a process of its own is the verdict computed here, and a validating process that
dies leaves the file validated here: never an import without pyx12's answer."""

from apps.billing.pyx12_check import Pyx12Check, pyx12_errors
from apps.billing.x12_builder import ClaimRemit, LineRemit, build_835

VALID = build_835([ClaimRemit("K000000001", "1", "ICN1", [LineRemit("K000000001-1", "90837", 9_000, 9_000, [])])])
INVALID = VALID.replace("DTM*472*20250115", "DTM*472*2025011")


def test_a_file_validated_apart_gets_the_errors_it_gets_here():
    assert Pyx12Check(VALID, apart=True).errors() == []
    errors = Pyx12Check(INVALID, apart=True).errors()
    assert errors == pyx12_errors(INVALID)
    assert any(e.startswith('Segment DTM at line 16, element DTM02: Data element "Service Date"') for e in errors)


def test_a_validating_process_that_dies_leaves_the_file_validated_here():
    check = Pyx12Check(INVALID, apart=True)
    for process in list(check._pool._processes.values()):  # the pool's worker, killed as the OOM killer would
        process.kill()
    assert check.errors() == pyx12_errors(INVALID)
    assert check.errors() != []
