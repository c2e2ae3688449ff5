"""Judges every failed call: a typed error of the documented table that the soak's
faults explain, gRPC's own DEADLINE_EXCEEDED after the caller's deadline, gRPC's own
UNAVAILABLE while a broker was killed, or else a failure of the broker."""
import re

DOMAIN = "keybroker"

# The reasons a call of the soak can meet without any fault, by (kind, method).
ALWAYS_EXPECTED = {("replica", "Rotate"): {"KEYRING_READ_ONLY"}}

# Reasons that tell the caller when to retry: they must carry a google.rpc.RetryInfo.
NEEDS_RETRY_INFO = {"KMS_THROTTLED", "SERVER_BUSY", "RATE_LIMITED"}

# The reasons the soak's requests cannot deserve when the broker attributes well: every
# alias is configured, every EDEK was handed out with this context, every field is set,
# and there is no authorization policy.
NEVER_DESERVED = {"EDEK_INVALID", "INVALID_REQUEST", "KEY_NOT_FOUND", "CALLER_NOT_AUTHORIZED",
                  "RATE_LIMITED"}

# The reasons the soak knows how to judge (the table as the soak was written); a reason
# added to common/error_reason.cc later is typed but not judged for attribution.
JUDGED = {"KEY_NOT_ACCESSIBLE", "KEY_DISABLED", "KEY_NOT_FOUND", "EDEK_INVALID",
          "INVALID_REQUEST", "CALLER_NOT_AUTHORIZED", "KMS_THROTTLED", "KMS_UNAVAILABLE",
          "KEYRING_READ_ONLY", "RATE_LIMITED", "SERVER_BUSY", "INTERNAL"}

ACCEPTED = ("typed", "client_deadline", "broker_killed")


def documented_reasons(error_reason_cc: str) -> dict:
    """{reason: gRPC code name} from the table in common/error_reason.cc, so that reasons
    added there are known here without editing the soak."""
    with open(error_reason_cc) as f:
        text = f.read()
    table = {}
    for name, code in re.findall(
            r'\{\s*ErrorReason::k\w+,\s*"([A-Z_]+)",\s*absl::StatusCode::k(\w+)\s*\}', text):
        table[name] = re.sub(r"(?<!^)(?=[A-Z])", "_", code).upper()
    if len(table) < 10:
        raise RuntimeError(f"could not read the reason table of {error_reason_cc}")
    return table


# Reasons that tell of the key's state, which the brokers' caches (metadata, unwrap,
# key health) keep showing for up to their TTL after the fault is gone; other reasons
# can outlast their fault only by a call that began during it and by one that shared
# its outcome (a metadata fetch), so within the longest caller deadline.
KEY_STATE_REASONS = {"KEY_NOT_ACCESSIBLE", "KEY_DISABLED"}


class Judge:
    """Classifies failures. `windows` are the schedule's (episode, from, to); `explains`
    maps an episode name to the reasons it may cause; `brokers` by name, for their kills.
    `grace` is how long after a fault a key-state reason is still explained by it (the
    cache TTL and some); `transport_grace` the same for other reasons."""

    def __init__(self, reasons: dict, windows, explains: dict, brokers: dict, grace: float,
                 transport_grace: float):
        self._reasons = reasons
        self._windows = windows
        self._explains = explains
        self._brokers = brokers
        self._grace = grace
        self._transport_grace = transport_grace

    def classify(self, f) -> tuple:
        """(class, note): class is one of ACCEPTED, or untyped, internal, misattributed."""
        if not f.has_details:
            return self._transport(f)
        elapsed = f.ended - f.started
        if (f.code == "DEADLINE_EXCEEDED" and self._reasons.get(f.reason) == f.code
                and elapsed >= f.deadline * 0.98):
            return "client_deadline", "the broker's own DEADLINE_EXCEEDED"
        if f.code in ("INTERNAL", "UNKNOWN") or f.reason == "INTERNAL":
            return "internal", f"{f.code}/{f.reason or 'no reason'}: {f.message}"
        if f.error_infos != 1 or f.domain != DOMAIN:
            return "untyped", f"{f.error_infos} ErrorInfo, domain {f.domain!r}"
        expected_code = self._reasons.get(f.reason)
        if expected_code is None:
            return "untyped", f"reason {f.reason!r} is not in common/error_reason.cc"
        if expected_code != f.code:
            return "untyped", f"{f.reason} came with {f.code}, documented {expected_code}"
        if f.details_code != _code_number(f.code):
            return "untyped", f"google.rpc.Status code {f.details_code} but gRPC {f.code}"
        if f.reason in NEEDS_RETRY_INFO and not f.retry_info:
            return "untyped", f"{f.reason} without a RetryInfo"
        if f.code == "DEADLINE_EXCEEDED":
            return "misattributed", f"DEADLINE_EXCEEDED after {elapsed:.3f} s of {f.deadline} s"
        return self._attributed(f)

    def _transport(self, f) -> tuple:
        elapsed = f.ended - f.started
        if f.code == "DEADLINE_EXCEEDED" and elapsed >= f.deadline * 0.98:
            return "client_deadline", ""
        if f.code == "UNAVAILABLE" and self._brokers[f.broker].was_down(
                f.started, f.ended, grace=3.0):
            return "broker_killed", ""
        return "untyped", f"{f.code} without ErrorInfo after {elapsed:.3f} s: {f.message}"

    def _attributed(self, f) -> tuple:
        elapsed = f.ended - f.started
        method = "Unwrap" if f.method.startswith("Unwrap") else f.method
        if f.reason in ALWAYS_EXPECTED.get((f.kind, method), ()):
            return "typed", ""
        if f.reason in NEVER_DESERVED or f.kind in ("local", "replica"):
            return "misattributed", f"{f.reason} on a {f.kind} key: {f.message}"
        if f.reason not in JUDGED:
            return "typed", "a reason newer than the soak: not judged"
        grace = self._grace if f.reason in KEY_STATE_REASONS else self._transport_grace
        for name, start, end in self._windows:
            if f.reason in self._explains[name] or (
                    f.reason == "SERVER_BUSY" and self._explains[name]):
                if f.started <= end + grace and f.ended >= start:
                    return "typed", ""
        if "deadline exceeded" in f.message or "deadline passed" in f.message:
            if elapsed >= f.deadline * 0.98:
                return "misattributed", (f"{f.reason}: the caller's own deadline, reported as "
                                         f"the KMS's fault (the broker's answer came before "
                                         f"gRPC's DEADLINE_EXCEEDED): {f.message}")
            return "misattributed", (f"{f.reason} after {elapsed:.3f} s of a {f.deadline} s "
                                     f"deadline: another call's deadline (a fetch this call "
                                     f"waited for), reported as the KMS's fault: {f.message}")
        return "misattributed", f"{f.reason} while no fault could cause it: {f.message}"


_CODES = {"OK": 0, "CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4,
          "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7, "RESOURCE_EXHAUSTED": 8,
          "FAILED_PRECONDITION": 9, "ABORTED": 10, "OUT_OF_RANGE": 11, "UNIMPLEMENTED": 12,
          "INTERNAL": 13, "UNAVAILABLE": 14, "DATA_LOSS": 15, "UNAUTHENTICATED": 16}


def _code_number(name: str) -> int:
    return _CODES[name]
