"""The soak's callers: M threads each making a random mix of every RPC on every kind of
key, recording every EDEK handed out with the DEK and context it came with."""
import collections
import os
import random
import threading
import time
from dataclasses import dataclass

import grpc

from rpc import timed

# Key kinds: the alias and which brokers hold it. Local EDEKs unwrap only on the broker
# whose keyring made them; Azure EDEKs on either broker.
KINDS = ("local", "replica", "rsa", "hsm")

# (operation, weight). Rotate is rare: each one is a new key version for good.
MIX = (("GenerateDek", 25), ("Wrap", 10), ("UnwrapWarm", 20), ("UnwrapCold", 20),
       ("Rewrap", 10), ("DescribeKey", 14.8), ("Rotate", 0.2))


@dataclass
class Record:
    """An EDEK handed out (an OK GenerateDek, Wrap or Rewrap) and what it must unwrap to."""
    edek: bytes
    context: dict
    dek: bytes
    kind: str
    origin: str      # the broker and RPC that made it, e.g. "primary/GenerateDek"
    version: str     # the key version it names
    made_at: float


class Ledger:
    """Every record, by key kind. Safe for concurrent use (appends under a lock)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.by_kind = {kind: [] for kind in KINDS}

    def add(self, record: Record):
        with self._lock:
            self.by_kind[record.kind].append(record)

    def random(self, kind: str, rng: random.Random):
        records = self.by_kind[kind]
        return records[rng.randrange(len(records))] if records else None

    def all(self):
        with self._lock:
            return [r for kind in KINDS for r in self.by_kind[kind]]


class Tally:
    """Calls by (method, code, reason), latencies by method, and every failure.
    Safe for concurrent use."""

    def __init__(self):
        self._lock = threading.Lock()
        self.calls = collections.Counter()           # (method, code, reason) -> n
        self.latency = collections.defaultdict(list)     # method -> seconds, every call
        self.latency_ok = collections.defaultdict(list)  # method -> seconds, OK calls
        self.failures = []
        self.wrong = []          # (record, what came back): wrong plaintexts
        self.ok_at = collections.Counter()   # whole monotonic second -> OK calls ending then

    def ok(self, method: str, seconds: float):
        with self._lock:
            self.calls[(method, "OK", "")] += 1
            self.latency[method].append(seconds)
            self.latency_ok[method].append(seconds)
            self.ok_at[int(time.monotonic())] += 1

    def failed(self, failure):
        with self._lock:
            self.calls[(failure.method, failure.code, failure.reason or "-")] += 1
            self.latency[failure.method].append(failure.ended - failure.started)
            self.failures.append(failure)

    def wrong_plaintext(self, record: Record, got: bytes, method: str):
        with self._lock:
            self.wrong.append((record, got, method))


class Caller(threading.Thread):
    """One client thread. `brokers` maps a name to (Broker, Stub)."""

    def __init__(self, index: int, brokers: dict, ledger: Ledger, tally: Tally,
                 deadlines: tuple, stop: threading.Event):
        super().__init__(daemon=True, name=f"caller-{index}")
        self._index = index
        self._brokers = brokers
        self._ledger = ledger
        self._tally = tally
        self._deadlines = deadlines   # (long, short): a fifth of the calls use the short one
        self._halt = stop
        self._rng = random.Random(index)
        self._recent = {kind: collections.deque(maxlen=32) for kind in KINDS}
        self._serial = 0
        self.error = None

    def run(self):
        operations = [op for op, _ in MIX]
        weights = [w for _, w in MIX]
        try:
            while not self._halt.is_set():
                kind = self._rng.choice(KINDS)
                operation = self._rng.choices(operations, weights)[0]
                getattr(self, "_" + operation)(kind)
        except Exception as error:   # a bug of the soak itself: it must fail the run
            self.error = f"{type(error).__name__}: {error}"
            self._halt.set()

    # --- helpers -----------------------------------------------------------------------

    def _broker_for(self, kind: str) -> str:
        if kind == "local":
            return "primary"
        if kind == "replica":
            return "replica"
        return self._rng.choice(("primary", "replica"))

    def _call(self, method: str, kind: str, broker: str, label: str = None, **fields):
        """The response, or None after tallying the failure (under `label`, by default
        the method)."""
        label = label or method
        _, stub = self._brokers[broker]
        deadline = self._deadlines[1] if self._rng.random() < 0.2 else self._deadlines[0]
        result, started, ended = timed(lambda: stub.call(method, deadline, **fields))
        if isinstance(result, grpc.RpcError):
            self._tally.failed(stub.failure(result, label, kind, broker, deadline, started,
                                            ended))
            return None
        self._tally.ok(label, ended - started)
        return result

    def _context(self) -> dict:
        self._serial += 1
        return {"tenant": f"tenant-{self._rng.randrange(8)}",
                "soak": f"{self._index}-{self._serial}"}

    def _hand_out(self, kind: str, answer, context: dict, dek: bytes, origin: str):
        record = Record(answer.edek, context, dek, kind, origin, answer.key_version,
                        time.monotonic())
        self._ledger.add(record)
        self._recent[kind].append(record)

    def _check(self, record: Record, plaintext: bytes, method: str):
        if plaintext != record.dek:
            self._tally.wrong_plaintext(record, plaintext, method)

    # --- operations --------------------------------------------------------------------

    def _GenerateDek(self, kind: str):
        broker, context = self._broker_for(kind), self._context()
        answer = self._call("GenerateDek", kind, broker, key=kind, context=context)
        if answer is not None:
            self._hand_out(kind, answer, context, answer.plaintext, f"{broker}/GenerateDek")

    def _Wrap(self, kind: str):
        broker, context, dek = self._broker_for(kind), self._context(), os.urandom(32)
        answer = self._call("Wrap", kind, broker, key=kind, plaintext=dek, context=context)
        if answer is not None:
            self._hand_out(kind, answer, context, dek, f"{broker}/Wrap")

    def _unwrap(self, kind: str, record: Record, label: str):
        if record is None:
            return self._GenerateDek(kind)
        answer = self._call("Unwrap", kind, self._broker_for(kind), label, edek=record.edek,
                            context=record.context)
        if answer is not None:
            self._check(record, answer.plaintext, label)

    def _UnwrapWarm(self, kind: str):
        recent = self._recent[kind]
        self._unwrap(kind, recent[-1 - self._rng.randrange(len(recent))] if recent else None,
                     "Unwrap(warm)")

    def _UnwrapCold(self, kind: str):
        self._unwrap(kind, self._ledger.random(kind, self._rng), "Unwrap(cold)")

    def _Rewrap(self, kind: str):
        record = self._ledger.random(kind, self._rng)
        if record is None:
            return self._GenerateDek(kind)
        broker = self._broker_for(kind)
        answer = self._call("Rewrap", kind, broker, edek=record.edek, context=record.context)
        if answer is not None:
            self._hand_out(kind, answer, record.context, record.dek, f"{broker}/Rewrap")

    def _DescribeKey(self, kind: str):
        self._call("DescribeKey", kind, self._broker_for(kind), key=kind)

    def _Rotate(self, kind: str):
        self._call("Rotate", kind, self._broker_for(kind), key=kind)
