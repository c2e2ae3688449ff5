#!/usr/bin/python3
"""An outside gRPC client that knows only keybroker's .proto files.

Generates Python message classes from proto/ with protoc, starts the real
`keybroker` binary on a loopback port, calls every RPC through grpcio with
method paths taken from the proto, and reads error reasons from the standard
`grpc-status-details-bin` trailer (google.rpc.Status + google.rpc.ErrorInfo).
This proves a client in another language needs nothing but the contract.

Usage: outside_client_test.py PROTO_DIR KEYBROKER_BINARY
"""
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

PROTO_DIR, KEYBROKER = sys.argv[1], sys.argv[2]
GEN_DIR = tempfile.mkdtemp(prefix="keybroker-py-")
atexit.register(shutil.rmtree, GEN_DIR, ignore_errors=True)
subprocess.run(
    ["protoc", f"--proto_path={PROTO_DIR}", f"--python_out={GEN_DIR}",
     "keybroker/v1/key_broker.proto", "google/rpc/status.proto",
     "google/rpc/error_details.proto"],
    check=True)
sys.path.insert(0, GEN_DIR)

import grpc  # noqa: E402
from keybroker.v1 import key_broker_pb2 as kb  # noqa: E402
from google.rpc import status_pb2, error_details_pb2  # noqa: E402

SERVICE = kb.DESCRIPTOR.services_by_name["KeyBroker"]


class Broker:
    """The keybroker binary on 127.0.0.1 with a fresh data directory."""

    def __init__(self):
        self.data_dir = tempfile.mkdtemp(prefix="keybroker-data-")
        self.process = subprocess.Popen(
            [KEYBROKER, "--listen", "127.0.0.1:0", "--data-dir", self.data_dir],
            stderr=subprocess.PIPE, text=True)
        for line in self.process.stderr:
            event = json.loads(line)
            if event["event"] == "listening":
                self.address = event["address"]
                return
        raise RuntimeError("keybroker exited before listening")

    def stop(self):
        """Stops the broker; it must exit cleanly (in a sanitizer build a
        finding at exit, such as a leak, makes the status non-zero)."""
        self.process.terminate()
        _, rest = self.process.communicate(timeout=20)
        shutil.rmtree(self.data_dir, ignore_errors=True)
        if self.process.returncode != 0:
            raise RuntimeError(f"keybroker exited {self.process.returncode} on SIGTERM:\n{rest}")


def method(channel, name):
    """A callable for RPC `name`, built from the service descriptor only."""
    descriptor = SERVICE.methods_by_name[name]
    request_class = getattr(kb, descriptor.input_type.name)
    response_class = getattr(kb, descriptor.output_type.name)
    call = channel.unary_unary(
        f"/{SERVICE.full_name}/{name}",
        request_serializer=request_class.SerializeToString,
        response_deserializer=response_class.FromString)
    return lambda **fields: call(request_class(**fields), timeout=10)


def reason_of(error):
    """The ErrorInfo reason in a failed call's rich status."""
    for key, value in error.trailing_metadata():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason, info.domain, status.code
    return None


class OutsideClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        cls.channel = grpc.insecure_channel(cls.broker.address)
        cls.rpc = {m.name: method(cls.channel, m.name) for m in SERVICE.methods}

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.broker.stop()

    def assert_error(self, code, reason, call, **fields):
        with self.assertRaises(grpc.RpcError) as raised:
            self.rpc[call](**fields)
        self.assertEqual(raised.exception.code(), code)
        self.assertEqual(reason_of(raised.exception), (reason, "keybroker", code.value[0]))

    def test_every_rpc(self):
        context = {"tenant": "acme", "resource": "Patient/7"}
        dek = self.rpc["GenerateDek"](key="default", context=context)
        self.assertEqual(len(dek.plaintext), 32)
        self.assertEqual(self.rpc["Unwrap"](edek=dek.edek, context=context).plaintext,
                         dek.plaintext)

        wrapped = self.rpc["Wrap"](key="default", plaintext=b"k" * 16, context=context)
        self.assertEqual(self.rpc["Unwrap"](edek=wrapped.edek, context=context).plaintext,
                         b"k" * 16)

        rotated = self.rpc["Rotate"](key="default")
        self.assertEqual(int(rotated.key_version), int(dek.key_version) + 1)
        rewrapped = self.rpc["Rewrap"](edek=dek.edek, context=context)
        self.assertEqual(rewrapped.key_version, rotated.key_version)
        self.assertEqual(self.rpc["Unwrap"](edek=rewrapped.edek, context=context).plaintext,
                         dek.plaintext)

        described = self.rpc["DescribeKey"](key="default")
        self.assertTrue(described.accessible)
        self.assertEqual(described.key_version, rotated.key_version)
        self.assertEqual(described.algorithm, "AES-256-GCM")

    def test_error_reasons(self):
        self.assert_error(grpc.StatusCode.NOT_FOUND, "KEY_NOT_FOUND", "GenerateDek", key="nope")
        self.assert_error(grpc.StatusCode.NOT_FOUND, "KEY_NOT_FOUND", "DescribeKey", key="nope")
        self.assert_error(grpc.StatusCode.INVALID_ARGUMENT, "EDEK_INVALID", "Unwrap",
                          edek=b"\x01garbage")
        dek = self.rpc["GenerateDek"](key="default", context={"a": "1"})
        self.assert_error(grpc.StatusCode.INVALID_ARGUMENT, "EDEK_INVALID", "Unwrap",
                          edek=dek.edek, context={"a": "2"})
        self.assert_error(grpc.StatusCode.INVALID_ARGUMENT, "INVALID_REQUEST", "Wrap",
                          key="default", plaintext=b"")


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
