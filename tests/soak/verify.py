"""The final check: once every fault is cleared, every EDEK handed out during the run is
unwrapped (with its context) and must give back exactly the DEK it came with."""
import concurrent.futures
import time

import grpc

from rpc import timed

RETRYABLE = ("UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED")


class Verification:
    def __init__(self):
        self.checked = 0
        self.lost = []        # (record, last failure)
        self.wrong = []       # (record, plaintext)
        self.retries = 0
        self.seconds = 0.0


def verify(records, stubs: dict, deadline: float, threads: int, attempts: int = 5):
    """Unwraps every record: local ones on the broker whose keyring made them, Azure ones
    on the primary and the replica in turn. A retryable failure is tried again (up to
    `attempts` times, a second apart); anything else, or running out, is a loss."""
    result = Verification()
    started = time.monotonic()

    def one(index_and_record):
        index, record = index_and_record
        broker = record.origin.split("/")[0] if record.kind in ("local", "replica") else (
            "primary" if index % 2 == 0 else "replica")
        stub = stubs[broker]
        retries = 0
        for attempt in range(attempts):
            answer, t0, t1 = timed(lambda: stub.call("Unwrap", deadline, edek=record.edek,
                                                     context=record.context))
            if not isinstance(answer, grpc.RpcError):
                return record, answer.plaintext, None, retries
            failure = stub.failure(answer, "Unwrap", record.kind, broker, deadline, t0, t1)
            if failure.code not in RETRYABLE or attempt == attempts - 1:
                return record, None, failure, retries
            retries += 1
            time.sleep(1)

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for record, plaintext, failure, retries in pool.map(one, enumerate(records)):
            result.checked += 1
            result.retries += retries
            if failure is not None:
                result.lost.append((record, failure))
            elif plaintext != record.dek:
                result.wrong.append((record, plaintext))
    result.seconds = time.monotonic() - started
    return result
