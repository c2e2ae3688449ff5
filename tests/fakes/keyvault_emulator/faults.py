"""Request counts, injected faults (status codes, latency, dropped connections) and the
log of the x-ms-request-id each vault/HSM response carried."""
import collections
import threading
from dataclasses import dataclass

STATUS = "status"
LATENCY = "latency"
DROP = "drop"


@dataclass
class Fault:
    """One injected fault. `remaining` < 0 means until cleared."""
    kind: str                      # status | latency | drop
    remaining: int
    path_contains: str = None      # case-insensitive substring of the request path
    status: int = 0                # kind == status
    retry_after: int = None        # kind == status: Retry-After seconds, if any
    ms: int = 0                    # kind == latency
    forbidden: str = None          # kind == status, status 403: which denial (denials.KINDS)

    def matches(self, path: str) -> bool:
        return self.path_contains is None or self.path_contains.lower() in path.lower()


@dataclass
class Decision:
    """What to do to one request: wait, then drop it or answer `status` (0 = serve)."""
    latency_ms: int = 0
    drop: bool = False
    status: int = 0
    retry_after: int = None
    forbidden: str = None


class FaultPlan:
    """Faults per host, consumed in the order added. Safe for concurrent use."""

    def __init__(self):
        self._lock = threading.Lock()
        self._faults = collections.defaultdict(list)   # guarded by _lock: host -> [Fault]

    def add(self, host: str, fault: Fault) -> None:
        with self._lock:
            self._faults[host].append(fault)

    def clear(self, host: str = None) -> None:
        with self._lock:
            if host is None:
                self._faults.clear()
            else:
                self._faults.pop(host, None)

    def take(self, host: str, path: str) -> Decision:
        """Consumes at most one latency fault and one status-or-drop fault matching `path`."""
        decision = Decision()
        with self._lock:
            faults = self._faults.get(host, [])
            latency = next((f for f in faults if f.kind == LATENCY and f.matches(path)), None)
            final = next((f for f in faults if f.kind != LATENCY and f.matches(path)), None)
            if latency:
                decision.latency_ms = latency.ms
                self._consume_locked(faults, latency)
            if final:
                decision.drop = final.kind == DROP
                decision.status = final.status if final.kind == STATUS else 0
                decision.retry_after = final.retry_after
                decision.forbidden = final.forbidden
                self._consume_locked(faults, final)
        return decision

    @staticmethod
    def _consume_locked(faults: list, fault: Fault) -> None:
        if fault.remaining > 0:
            fault.remaining -= 1
            if fault.remaining == 0:
                faults.remove(fault)


class Counters:
    """Requests per host and operation. Safe for concurrent use."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts = collections.defaultdict(collections.Counter)   # guarded by _lock

    def add(self, host: str, operation: str) -> None:
        with self._lock:
            self._counts[host][operation] += 1

    def snapshot(self, hosts) -> dict:
        """{host: {operation: n}} for every host in `hosts` (empty dict when none)."""
        with self._lock:
            return {h: dict(self._counts.get(h, {})) for h in hosts}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


DEFAULT_RESPONSE_LOG_LIMIT = 1000


class ResponseLog:
    """The last `limit` vault/HSM responses sent: host, method, path (no query), status,
    operation and the x-ms-request-id they carried, oldest first. Safe for concurrent use."""

    def __init__(self, limit: int = DEFAULT_RESPONSE_LOG_LIMIT):
        self._lock = threading.Lock()
        self._entries = collections.deque(maxlen=limit)   # guarded by _lock

    def add(self, host: str, method: str, path: str, status: int, operation: str,
            request_id: str) -> None:
        entry = {"host": host, "method": method, "path": path, "status": status,
                 "operation": operation, "request_id": request_id}
        with self._lock:
            self._entries.append(entry)

    def snapshot(self) -> list:
        with self._lock:
            return [dict(e) for e in self._entries]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
