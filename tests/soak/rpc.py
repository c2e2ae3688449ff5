"""keybroker's RPCs from the .proto files alone (as tests/integration/outside_client does),
and what a failed call carried: its code, its google.rpc.Status details, how long it took."""
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import grpc


def load_protos(proto_dir: str, gen_dir: str):
    """Generates the Python message classes into `gen_dir`; returns (kb, status, details)."""
    os.makedirs(gen_dir, exist_ok=True)
    subprocess.run(
        ["protoc", f"--proto_path={proto_dir}", f"--python_out={gen_dir}",
         "keybroker/v1/key_broker.proto", "google/rpc/status.proto",
         "google/rpc/error_details.proto"], check=True)
    sys.path.insert(0, gen_dir)
    from keybroker.v1 import key_broker_pb2
    from google.rpc import error_details_pb2, status_pb2
    return key_broker_pb2, status_pb2, error_details_pb2


# Short reconnect backoff: after a SIGKILL the broker is back in about a second, and the
# soak should measure the broker, not gRPC's default 1 s..120 s backoff.
CHANNEL_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 100),
                   ("grpc.min_reconnect_backoff_ms", 100),
                   ("grpc.max_reconnect_backoff_ms", 1000)]


@dataclass
class Failure:
    """One failed call as the client saw it."""
    method: str
    kind: str             # key kind: local, replica, rsa, hsm
    broker: str
    deadline: float       # the call's gRPC deadline, seconds
    started: float        # monotonic seconds
    ended: float
    code: str             # grpc.StatusCode name
    message: str
    has_details: bool     # a grpc-status-details-bin trailer that parsed
    details_code: int = -1
    domain: str = ""
    reason: str = ""      # "" when no ErrorInfo
    error_infos: int = 0
    retry_info: bool = False


class Stub:
    """Callables for every RPC of keybroker.v1.KeyBroker on one channel."""

    def __init__(self, protos, address: str):
        self.kb, self._status_pb2, self._details_pb2 = protos
        self.channel = grpc.insecure_channel(address, options=CHANNEL_OPTIONS)
        service = self.kb.DESCRIPTOR.services_by_name["KeyBroker"]
        self._calls = {}
        for method in service.methods:
            request = getattr(self.kb, method.input_type.name)
            response = getattr(self.kb, method.output_type.name)
            self._calls[method.name] = (request, self.channel.unary_unary(
                f"/{service.full_name}/{method.name}",
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString))

    def call(self, method: str, timeout: float, **fields):
        request_class, call = self._calls[method]
        return call(request_class(**fields), timeout=timeout)

    def failure(self, error: grpc.RpcError, method: str, kind: str, broker: str,
                deadline: float, started: float, ended: float) -> Failure:
        failure = Failure(method, kind, broker, deadline, started, ended, error.code().name,
                          (error.details() or "")[:300], False)
        for key, value in error.trailing_metadata() or ():
            if key != "grpc-status-details-bin":
                continue
            try:
                status = self._status_pb2.Status.FromString(value)
            except Exception:   # a trailer that does not parse is no details at all
                return failure
            failure.has_details = True
            failure.details_code = status.code
            for detail in status.details:
                info = self._details_pb2.ErrorInfo()
                retry = self._details_pb2.RetryInfo()
                if detail.Unpack(info):
                    failure.error_infos += 1
                    failure.domain, failure.reason = info.domain, info.reason
                elif detail.Unpack(retry):
                    failure.retry_info = True
        return failure

    def close(self):
        self.channel.close()


def timed(function):
    """(result or grpc.RpcError, started, ended) of calling `function`."""
    started = time.monotonic()
    try:
        result = function()
    except grpc.RpcError as error:
        result = error
    return result, started, time.monotonic()
