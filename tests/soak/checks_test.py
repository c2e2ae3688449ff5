#!/usr/bin/python3
"""Unit tests of the soak's error judge (checks.py): it must fail every error that is
not typed and attributed, or the soak's pass would mean nothing.

Usage: checks_test.py SOURCE_DIR"""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checks  # noqa: E402
from rpc import Failure  # noqa: E402

SOURCE_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")


class FakeBroker:
    def __init__(self, down):
        self.down = down

    def was_down(self, started, ended, grace):
        return any(started <= back + grace and ended >= killed for killed, back in self.down)


def failure(code="UNAVAILABLE", reason="KMS_UNAVAILABLE", kind="rsa", method="Unwrap(cold)",
            started=100.0, ended=100.1, details=True, retry_info=False, domain="keybroker",
            broker="primary"):
    f = Failure(method, kind, broker, 2.0, started, ended, code, "message", details)
    if details:
        f.details_code = checks._code_number(code)
        if reason:
            f.domain, f.reason, f.error_infos = domain, reason, 1
        f.retry_info = retry_info
    return f


class JudgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reasons = checks.documented_reasons(os.path.join(SOURCE_DIR, "common/error_reason.cc"))

    def judge(self, windows=(), down=()):
        return checks.Judge(self.reasons, list(windows),
                            {"server_errors_5xx": {"KMS_UNAVAILABLE"},
                             "throttle_429": {"KMS_THROTTLED"}, "broker_sigkill": set()},
                            {"primary": FakeBroker(list(down)), "replica": FakeBroker([])},
                            grace=5.0, transport_grace=3.0)

    def test_reads_the_reason_table(self):
        self.assertEqual(self.reasons["KMS_UNAVAILABLE"], "UNAVAILABLE")
        self.assertEqual(self.reasons["KEY_NOT_ACCESSIBLE"], "PERMISSION_DENIED")
        self.assertEqual(self.reasons["KEYRING_READ_ONLY"], "FAILED_PRECONDITION")

    def test_typed_reason_explained_by_a_fault_in_force(self):
        judge = self.judge(windows=[("server_errors_5xx", 99.0, 103.0)])
        self.assertEqual(judge.classify(failure())[0], "typed")
        # Within the longest deadline after the fault was cleared, too, but no longer.
        self.assertEqual(judge.classify(failure(started=105.0, ended=105.1))[0], "typed")
        self.assertEqual(judge.classify(failure(started=107.0, ended=107.1))[0],
                         "misattributed")

    def test_key_state_reasons_are_explained_for_the_cache_ttl_after_their_fault(self):
        judge = checks.Judge(self.reasons, [("access_revoked", 99.0, 103.0)],
                             {"access_revoked": {"KEY_NOT_ACCESSIBLE"}},
                             {"primary": FakeBroker([])}, grace=5.0, transport_grace=3.0)
        revoked = failure("PERMISSION_DENIED", "KEY_NOT_ACCESSIBLE", started=107.0, ended=107.1)
        self.assertEqual(judge.classify(revoked)[0], "typed")
        revoked.started = revoked.ended = 109.0
        self.assertEqual(judge.classify(revoked)[0], "misattributed")

    def test_typed_reason_no_fault_explains_is_misattributed(self):
        judge = self.judge(windows=[("throttle_429", 99.0, 103.0),
                                    ("server_errors_5xx", 150.0, 153.0)])
        self.assertEqual(judge.classify(failure())[0], "misattributed")

    def test_requests_the_soak_never_deserves_to_fail(self):
        judge = self.judge(windows=[("server_errors_5xx", 0.0, 1000.0)])
        for reason, code in (("EDEK_INVALID", "INVALID_ARGUMENT"), ("KEY_NOT_FOUND", "NOT_FOUND"),
                             ("INVALID_REQUEST", "INVALID_ARGUMENT")):
            self.assertEqual(judge.classify(failure(code, reason))[0], "misattributed", reason)
        self.assertEqual(judge.classify(failure(kind="local"))[0], "misattributed")

    def test_read_only_rotate_only_on_the_replica(self):
        judge = self.judge()
        self.assertEqual(judge.classify(failure("FAILED_PRECONDITION", "KEYRING_READ_ONLY",
                                                kind="replica", method="Rotate"))[0], "typed")
        self.assertEqual(judge.classify(failure("FAILED_PRECONDITION", "KEYRING_READ_ONLY",
                                                kind="local", method="Rotate"))[0],
                         "misattributed")

    def test_internal_and_unknown_always_fail(self):
        judge = self.judge(windows=[("server_errors_5xx", 0.0, 1000.0)])
        self.assertEqual(judge.classify(failure("INTERNAL", "INTERNAL"))[0], "internal")
        self.assertEqual(judge.classify(failure("UNKNOWN", None))[0], "internal")
        self.assertEqual(judge.classify(failure("INTERNAL", None, details=False))[0], "untyped")

    def test_untyped_details(self):
        judge = self.judge(windows=[("server_errors_5xx", 0.0, 1000.0),
                                    ("throttle_429", 0.0, 1000.0)])
        self.assertEqual(judge.classify(failure(reason=None))[0], "untyped")
        self.assertEqual(judge.classify(failure(domain="other"))[0], "untyped")
        self.assertEqual(judge.classify(failure(reason="NO_SUCH_REASON"))[0], "untyped")
        self.assertEqual(judge.classify(failure("NOT_FOUND", "KMS_UNAVAILABLE"))[0], "untyped")
        self.assertEqual(judge.classify(failure("RESOURCE_EXHAUSTED", "KMS_THROTTLED"))[0],
                         "untyped")
        self.assertEqual(judge.classify(failure("RESOURCE_EXHAUSTED", "KMS_THROTTLED",
                                                retry_info=True))[0], "typed")

    def test_grpc_deadline_only_after_the_callers_deadline(self):
        judge = self.judge()
        self.assertEqual(judge.classify(failure("DEADLINE_EXCEEDED", None, ended=102.0,
                                                details=False))[0], "client_deadline")
        self.assertEqual(judge.classify(failure("DEADLINE_EXCEEDED", None, ended=100.5,
                                                details=False))[0], "untyped")

    def test_the_callers_deadline_typed_by_the_broker(self):
        judge = self.judge()
        judge._reasons = dict(self.reasons, DEADLINE_EXCEEDED="DEADLINE_EXCEEDED")
        self.assertEqual(judge.classify(failure("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED",
                                                ended=102.0))[0], "client_deadline")
        self.assertEqual(judge.classify(failure("DEADLINE_EXCEEDED", "DEADLINE_EXCEEDED",
                                                ended=100.5))[0], "misattributed")

    def test_the_callers_deadline_as_kms_unavailable_is_misattributed(self):
        f = failure(ended=102.0)
        f.message = "unwrapkey on key k failed: deadline exceeded waiting for 127.0.0.1"
        verdict, note = self.judge().classify(f)
        self.assertEqual(verdict, "misattributed")
        self.assertIn("the caller's own deadline", note)
        f.ended = 100.2
        verdict, note = self.judge().classify(f)
        self.assertEqual(verdict, "misattributed")
        self.assertIn("another call's deadline", note)

    def test_grpc_unavailable_only_while_the_broker_was_killed(self):
        judge = self.judge(down=[(99.9, 101.5)])
        self.assertEqual(judge.classify(failure(details=False, reason=None))[0], "broker_killed")
        self.assertEqual(judge.classify(failure(details=False, reason=None, started=110.0,
                                                ended=110.1))[0], "untyped")
        self.assertEqual(judge.classify(failure(details=False, reason=None,
                                                broker="replica"))[0], "untyped")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
