#!/usr/bin/python3
"""A real Prometheus server scrapes a running broker cleanly.

Starts the real `keybroker` binary (local keyring, metrics on a loopback
port), makes a few RPCs through grpcio (message classes generated from
proto/ with protoc, as outside_client does), checks a raw scrape with
`promtool check metrics`, then points Debian's Prometheus at the broker and
asks its HTTP API: the target is up with no scrape error, `up` is 1, and
keybroker_rpc_requests_total has exactly the series and values of the RPCs
made. Both processes are killed at the end, whatever happened.

Usage: prometheus_scrape_test.py PROTO_DIR KEYBROKER_BINARY
"""
import atexit
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import urllib.request

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
PROTO_DIR, KEYBROKER = sys.argv[1], sys.argv[2]
GEN_DIR = tempfile.mkdtemp(prefix="keybroker-py-")
atexit.register(shutil.rmtree, GEN_DIR, ignore_errors=True)
subprocess.run(["protoc", f"--proto_path={PROTO_DIR}", f"--python_out={GEN_DIR}",
                "keybroker/v1/key_broker.proto"], check=True)
sys.path.insert(0, GEN_DIR)

import grpc  # noqa: E402
from keybroker.v1 import key_broker_pb2 as kb  # noqa: E402

SERVICE = kb.DESCRIPTOR.services_by_name["KeyBroker"]


def rpc(channel, name, **fields):
    """Calls RPC `name` with a request of `fields`, built from the descriptor."""
    descriptor = SERVICE.methods_by_name[name]
    call = channel.unary_unary(
        f"/{SERVICE.full_name}/{name}",
        request_serializer=getattr(kb, descriptor.input_type.name).SerializeToString,
        response_deserializer=getattr(kb, descriptor.output_type.name).FromString)
    return call(getattr(kb, descriptor.input_type.name)(**fields), timeout=10)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode("utf-8")


def stop(process):
    """Terminates `process`, killing it if it does not exit in time."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Broker:
    """keybroker on 127.0.0.1 with metrics on 127.0.0.1, both on free ports."""

    def __init__(self, data_dir):
        self.process = subprocess.Popen(
            [KEYBROKER, "--listen", "127.0.0.1:0", "--data-dir", data_dir,
             "--metrics-listen", "127.0.0.1:0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.lines = []
        self.address = self.metrics_address = None
        for line in self.process.stderr:
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "metrics_listening":
                self.metrics_address = event["address"]
            if event.get("event") == "listening":
                self.address = event["address"]
                break
        # Keep reading, so that a full pipe never blocks the broker.
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.process.stderr),
                                       daemon=True)
        self.reader.start()
        if self.address is None or self.metrics_address is None:
            self.stop()
            raise RuntimeError("keybroker did not report both listening addresses:\n"
                               + "".join(self.lines))

    def stop(self):
        """Stops the broker; it must exit cleanly (in a sanitizer build a
        finding at exit, such as a leak, makes the status non-zero)."""
        stop(self.process)
        self.reader.join(timeout=5)
        self.process.stderr.close()
        if self.process.returncode != 0:
            raise AssertionError(f"keybroker exited {self.process.returncode} on SIGTERM:\n"
                                 + "".join(self.lines))


class PrometheusScrapeTest(unittest.TestCase):
    def setUp(self):
        for binary in (PROMETHEUS, PROMTOOL):
            if not os.access(binary, os.X_OK):
                self.fail(f"{binary} is missing: scripts/install-deps.sh installs Debian's "
                          "prometheus package, which this test needs")
        self.dir = tempfile.mkdtemp(prefix="keybroker-prometheus-")
        self.addCleanup(shutil.rmtree, self.dir, ignore_errors=True)

    def start_broker(self):
        os.mkdir(os.path.join(self.dir, "data"))
        broker = Broker(os.path.join(self.dir, "data"))
        self.addCleanup(broker.stop)
        return broker

    def start_prometheus(self, target):
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as config:
            config.write("global:\n"
                         "  scrape_interval: 1s\n"
                         "  scrape_timeout: 1s\n"
                         "scrape_configs:\n"
                         "  - job_name: keybroker\n"
                         f"    static_configs: [{{targets: ['{target}']}}]\n")
        url = f"http://127.0.0.1:{free_port()}"
        log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.addCleanup(log.close)
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config.name}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'tsdb')}",
             f"--web.listen-address={url[len('http://'):]}"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(stop, process)
        self.prometheus_log = log.name
        return url

    def wait_for(self, what, probe, timeout):
        """Calls `probe` until it returns a true value; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                result = probe()
                if result:
                    return result
                last = None
            except OSError as error:   # Prometheus not listening yet
                last = error
            time.sleep(0.5)
        with open(self.prometheus_log) as log:
            tail = log.read()[-3000:]
        self.fail(f"timed out waiting for {what} (last error: {last}); Prometheus log:\n{tail}")

    def api(self, url, path, **params):
        status, body = http_get(f"{url}/api/v1/{path}?{urllib.parse.urlencode(params)}")
        answer = json.loads(body)
        self.assertEqual((status, answer["status"]), (200, "success"), body)
        return answer["data"]

    def test_prometheus_scrapes_the_broker(self):
        broker = self.start_broker()
        with grpc.insecure_channel(broker.address) as channel:
            context = {"tenant": "acme"}
            deks = [rpc(channel, "GenerateDek", key="default", context=context)
                    for _ in range(3)]
            for dek in deks[:2]:
                self.assertEqual(rpc(channel, "Unwrap", edek=dek.edek, context=context).plaintext,
                                 dek.plaintext)
            with self.assertRaises(grpc.RpcError) as raised:
                rpc(channel, "GenerateDek", key="nope", context=context)
            self.assertEqual(raised.exception.code(), grpc.StatusCode.NOT_FOUND)
        expected = {
            ("GenerateDek", "OK", "none", "none"): 3,
            ("Unwrap", "OK", "none", "none"): 2,
            ("GenerateDek", "NOT_FOUND", "KEY_NOT_FOUND", "client"): 1,
        }

        status, scrape = http_get(f"http://{broker.metrics_address}/metrics")
        self.assertEqual(status, 200)
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=scrape,
                              capture_output=True, text=True)
        self.assertEqual((lint.returncode, lint.stdout + lint.stderr), (0, ""),
                         "promtool check metrics found problems")

        url = self.start_prometheus(broker.metrics_address)

        def target_up():
            targets = self.api(url, "targets", state="active")["activeTargets"]
            return (len(targets) == 1 and targets[0]["health"] == "up"
                    and targets[0]["lastError"] == "" and targets[0])
        target = self.wait_for("the broker's target to be up", target_up, 40)
        self.assertEqual(target["scrapeUrl"], f"http://{broker.metrics_address}/metrics")
        self.assertEqual(target["labels"]["job"], "keybroker")

        def rpc_series():
            result = self.api(url, "query", query="keybroker_rpc_requests_total")["result"]
            return {(s["metric"]["method"], s["metric"]["code"], s["metric"]["reason"],
                     s["metric"]["cause"]): float(s["value"][1]) for s in result}
        self.wait_for("keybroker_rpc_requests_total in Prometheus", rpc_series, 20)
        self.assertEqual(rpc_series(), expected)
        for sample in self.api(url, "query", query="keybroker_rpc_requests_total")["result"]:
            self.assertEqual(sample["metric"]["job"], "keybroker")
            self.assertEqual(sample["metric"]["instance"], broker.metrics_address)

        up = self.api(url, "query", query='up{job="keybroker"}')["result"]
        self.assertEqual([float(s["value"][1]) for s in up], [1.0])


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
