#!/usr/bin/env python3
"""Tests of the Helm chart in helm/keybroker, with a real helm binary.

  LintTest           helm lint with the minimum values and with complete-values.yaml
  *RenderTest        helm template with the minimum values (MINIMUM: TLS needs a
                     certificate), complete-values.yaml, cert-manager, a writable keyring:
                     security context, probes, ports, Services, the rendered config.yaml,
                     Secret mounts, the NetworkPolicy, alert rules
  PlaintextRenderTest  plaintext gRPC renders only on a loopback address or with
                     insecurePlaintext
  SchemaTest         typos and impossible combinations are refused at render time
  AlertRulesTest     promtool checks and unit-tests the rendered alert rules: customer-caused
                     failures never alert, each service fault does
  BrokerStartsTest   the default rendering's config.yaml, with the files its Secrets
                     would hold (a keyring from keybrokerctl, a self-signed certificate
                     from openssl), starts the real keybroker: it serves TLS on the
                     rendered gRPC port and the probe paths answer 200 over plain HTTP on
                     the metrics port

Environment: HELM (the helm binary; tests/helm/fetch_helm.py provides it under ctest),
KEYBROKER_BUILD_DIR (keybroker and keybrokerctl, for BrokerStartsTest).
Run one class with `chart_test.py RenderTest`.
"""
import copy
import hashlib
import http.client
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CHART = os.path.join(REPO, "helm", "keybroker")
COMPLETE_VALUES = os.path.join(HERE, "complete-values.yaml")
BUILD_DIR = os.environ.get("KEYBROKER_BUILD_DIR", os.path.join(REPO, "build"))
HELM = os.environ.get("HELM", os.path.join(BUILD_DIR, "tests", "helm", "bin", "helm"))
RELEASE, NAMESPACE = "kb", "keybroker"
# The least the chart renders with: TLS is on by default and needs a certificate.
MINIMUM = ("tls.secretName=kb-server-tls",)
# Where the chart's fail messages send the user when TLS has no certificate.
TLS_FIXES = ("tls.secretName", "tls.certManager.enabled")

# The broker's configuration fields (DESIGN.md "Configuration", server/config.cc):
# a dict is a mapping with those fields, [x] a list of x, {"*": x} a map of names to x,
# a tuple of types any of them.
NUMBER = (int, float)
TRUST = {"ca_file": str, "insecure_skip_verify": bool}
IDENTITY = {
    "tenant_id": str,
    "client_id": {"password_file": str},
    "client_secret": {"password_file": str},
    "client_certificate": {"cert_file": str, "key_file": str},
    "workload_identity": {"client_id": str, "tenant_id": str, "token_file": str,
                          "authority_host": str},
    "managed_identity": {"client_id": str, "endpoint": str},
    "oauth_endpoint_url": str,
    "scope": str,
    "tls": TRUST,
}
CONFIG = {
    "listen": str,
    "metrics_listen": str,
    "log_level": str,
    "audit_log": bool,
    "tls": {"cert_file": str, "key_file": str, "client_ca_file": str, "min_version": str,
            "reload_interval_seconds": int},
    "insecure_plaintext": bool,
    "reflection": bool,
    "max_request_bytes": int,
    "allow_core_dumps": bool,
    "unix_socket_group": str,
    "max_pending_kms_calls": int,
    "authorization": {"rules": [{"callers": [str], "operations": [str], "keys": [str],
                                 "context": {"*": str}, "rate_per_second": NUMBER}]},
    "edek_authentication": {"local_key": str},
    "cache": {"metadata_ttl_seconds": int, "unwrap_ttl_seconds": int, "unwrap_max_entries": int,
              "unknown_version_ttl_seconds": int, "access_probe_seconds": int,
              "access_probe_idle_seconds": int},
    "kms": {
        "local": {"keyring_file": str, "master_key_file": str, "read_only": bool,
                  "reload_interval_seconds": int},
        "azure": {"key_vault_tls": TRUST, "request_timeout_seconds": int,
                  "max_concurrent_requests_per_vault": int, "identities": {"*": IDENTITY},
                  "key_sources": [{"vaults": [str], "identity": str}], "max_runtime_keys": int},
    },
    "keys": [{"alias": str, "local_key": str, "azure_key": str, "identity": str,
              "vault_kind": str, "hsm_random": bool, "min_decryption_version": int}],
}
# Reasons and causes that customers cause: alerts never select them.
CUSTOMER_MARKERS = ["KEY_NOT_ACCESSIBLE", "KEY_DISABLED", "KEY_NOT_FOUND", "EDEK_INVALID",
                    "CALLER_NOT_AUTHORIZED", "INVALID_REQUEST", 'cause="customer"',
                    'cause="client"', "cause!=", "cause=~"]
KNOWN_METRICS = {
    "keybroker_rpc_requests_total", "keybroker_rpc_duration_seconds_bucket",
    "keybroker_rpcs_in_flight", "keybroker_kms_requests_total",
    "keybroker_kms_request_duration_seconds_bucket", "keybroker_keyring_reloads_total", "up",
}
CHART_ALERTS = {"KeybrokerServiceErrors", "KeybrokerKmsUnavailable", "KeybrokerLatencyHigh",
                "KeybrokerKeyringReloadFailing", "KeybrokerTargetDown"}


def helm(*args, check=True):
    result = subprocess.run([HELM, *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed:\n{result.stderr}")
    return result


def template_args(values_files=(), sets=()):
    args = ["template", RELEASE, CHART, "--namespace", NAMESPACE]
    for f in values_files:
        args += ["-f", f]
    for s in sets:
        args += ["--set", s]
    return args


def render(values_files=(), sets=()):
    """The manifests of `helm template`, as {(kind, name): object}."""
    out = helm(*template_args(values_files, sets)).stdout
    manifests = {}
    for doc in yaml.safe_load_all(out):
        if doc:
            manifests[(doc["kind"], doc["metadata"]["name"])] = doc
    return manifests


def assert_refused(test, sets, *messages):
    """Fails unless helm template refuses `sets`, saying each of `messages`."""
    result = helm(*template_args(sets=sets), check=False)
    test.assertNotEqual(result.returncode, 0, f"--set {sets} was accepted")
    for message in messages:
        test.assertIn(message, result.stderr)


def of_kind(manifests, kind):
    return [m for (k, _), m in sorted(manifests.items()) if k == kind]


def one(manifests, kind):
    found = of_kind(manifests, kind)
    assert len(found) == 1, f"{len(found)} {kind} rendered"
    return found[0]


def check_config_fields(test, node, spec, path="config"):
    """Fails on a field the broker does not know, or of the wrong type."""
    if isinstance(spec, list):
        test.assertIsInstance(node, list, path)
        for i, item in enumerate(node):
            check_config_fields(test, item, spec[0], f"{path}[{i}]")
    elif isinstance(spec, dict) and "*" in spec:
        test.assertIsInstance(node, dict, path)
        for name, item in node.items():
            check_config_fields(test, item, spec["*"], f"{path}.{name}")
    elif isinstance(spec, dict):
        test.assertIsInstance(node, dict, path)
        for key, value in node.items():
            test.assertIn(key, spec, f"{path}.{key} is not a broker configuration field")
            check_config_fields(test, value, spec[key], f"{path}.{key}")
    else:
        test.assertIsInstance(node, spec, path)
        if spec is int or (isinstance(spec, tuple) and int in spec):
            test.assertNotIsInstance(node, bool, path)


def file_paths(node, path="config"):
    """{config path: file path} of every *_file field."""
    found = {}
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}"
            if key.endswith("_file") and isinstance(value, str):
                found[sub] = value
            else:
                found.update(file_paths(value, sub))
    elif isinstance(node, list):
        for i, item in enumerate(node):
            found.update(file_paths(item, f"{path}[{i}]"))
    return found


def port_of(address):
    return int(address.rsplit(":", 1)[1])


def ingress_from(policy, port):
    """The peers a NetworkPolicy admits on a named port; None: any."""
    rules = [r for r in policy["spec"]["ingress"] if any(p["port"] == port for p in r["ports"])]
    assert len(rules) == 1, f"{len(rules)} ingress rules for port {port}"
    return rules[0].get("from")


class Rendering:
    """One rendering's Deployment, container, config and volumes, by name."""

    def __init__(self, manifests):
        self.manifests = manifests
        self.deployment = one(manifests, "Deployment")
        self.pod = self.deployment["spec"]["template"]["spec"]
        self.container = self.pod["containers"][0]
        self.config_map = [c for c in of_kind(manifests, "ConfigMap")
                           if "config.yaml" in c.get("data", {})][0]
        self.config_text = self.config_map["data"]["config.yaml"]
        self.config = yaml.safe_load(self.config_text)
        self.volumes = {v["name"]: v for v in self.pod["volumes"]}
        self.mounts = self.container["volumeMounts"]
        self.ports = {p["name"]: p["containerPort"] for p in self.container["ports"]}

    def mount_for(self, path):
        """The volume mount that `path` lies under (the deepest), or None."""
        best = None
        for mount in self.mounts:
            root = mount["mountPath"].rstrip("/") + "/"
            if path.startswith(root) and (best is None or len(root) > len(best["mountPath"])):
                best = mount
        return best

    def config_file_arg(self):
        args = self.container["args"]
        return args[args.index("--config") + 1]

    def probe_port(self, probe):
        port = probe["httpGet"]["port"]
        return self.ports[port] if isinstance(port, str) else port


class LintTest(unittest.TestCase):
    def test_lint_minimum_values(self):
        helm("lint", "--strict", CHART, *[a for s in MINIMUM for a in ("--set", s)])

    def test_lint_complete_values(self):
        helm("lint", "--strict", CHART, "-f", COMPLETE_VALUES)

    def test_readme_lists_every_value(self):
        with open(os.path.join(CHART, "README.md"), encoding="utf-8") as f:
            readme = f.read()
        table = readme[readme.index("## Values"):]
        listed = set(re.findall(r"^\| `([^`]+)` \|", table, re.MULTILINE))
        with open(os.path.join(CHART, "values.yaml"), encoding="utf-8") as f:
            values = yaml.safe_load(f)

        def leaves(node, path):
            if isinstance(node, dict) and node:
                for key, value in node.items():
                    yield from leaves(value, f"{path}.{key}" if path else key)
            else:
                yield path
        for leaf in leaves(values, ""):
            parts = leaf.split(".")
            prefixes = [".".join(parts[:i]) for i in range(1, len(parts) + 1)]
            self.assertTrue(any(p in listed or p + ".*" in listed for p in prefixes),
                            f"helm/keybroker/README.md does not list {leaf}")


class RenderChecks:
    """Checks every rendering must pass; subclasses choose the values."""
    values_files = ()
    sets = ()

    @classmethod
    def setUpClass(cls):
        cls.r = Rendering(render(cls.values_files, cls.sets))

    def test_pod_security_context(self):
        pod = self.r.pod["securityContext"]
        self.assertIs(pod["runAsNonRoot"], True)
        self.assertEqual(pod["runAsUser"], 65532)
        self.assertNotEqual(pod["runAsGroup"], 0)
        self.assertEqual(pod["seccompProfile"]["type"], "RuntimeDefault")

    def test_container_security_context(self):
        sc = self.r.container["securityContext"]
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertIs(sc["runAsNonRoot"], True)
        self.assertEqual(sc["runAsUser"], 65532)
        self.assertIs(sc.get("privileged", False), False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        self.assertNotIn("add", sc["capabilities"])
        self.assertEqual(sc["seccompProfile"]["type"], "RuntimeDefault")

    def test_tmp_is_a_writable_empty_dir(self):
        tmp = [m for m in self.r.mounts if m["mountPath"] == "/tmp"]
        self.assertEqual(len(tmp), 1)
        self.assertIn("emptyDir", self.r.volumes[tmp[0]["name"]])
        self.assertFalse(tmp[0].get("readOnly", False))

    def test_graceful_termination_outlasts_the_drain(self):
        self.assertGreater(self.r.pod["terminationGracePeriodSeconds"], 15)

    def test_probes_hit_the_metrics_port(self):
        metrics_port = port_of(self.r.config["metrics_listen"])
        paths = {}
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = self.r.container[kind]
            self.assertEqual(probe["httpGet"]["port"], "metrics", f"{kind}: a named port")
            self.assertEqual(self.r.probe_port(probe), metrics_port, kind)
            paths[kind] = probe["httpGet"]["path"]
        self.assertEqual(paths["livenessProbe"], "/healthz")
        self.assertEqual(paths["startupProbe"], "/healthz")
        self.assertEqual(paths["readinessProbe"], "/readyz")

    def test_container_ports_are_the_configured_listen_ports(self):
        self.assertEqual(self.r.ports["grpc"], port_of(self.r.config["listen"]))
        self.assertEqual(self.r.ports["metrics"], port_of(self.r.config["metrics_listen"]))

    def test_services_target_the_named_ports(self):
        pod_labels = self.r.deployment["spec"]["template"]["metadata"]["labels"]
        services = {s["metadata"]["name"]: s for s in of_kind(self.r.manifests, "Service")}
        main = services[self.r.deployment["metadata"]["name"]]
        headless = services[self.r.deployment["metadata"]["name"] + "-headless"]
        for service in (main, headless):
            for key, value in service["spec"]["selector"].items():
                self.assertEqual(pod_labels.get(key), value)
        main_ports = {p["name"]: p for p in main["spec"]["ports"]}
        self.assertEqual(main_ports["grpc"]["targetPort"], "grpc")
        self.assertEqual(main_ports["metrics"]["targetPort"], "metrics")
        self.assertEqual(headless["spec"]["clusterIP"], "None")
        headless_ports = {p["name"]: p for p in headless["spec"]["ports"]}
        # Clients of a headless Service dial the pods: its port is the container's.
        self.assertEqual(headless_ports["grpc"]["port"], self.r.ports["grpc"])
        self.assertEqual(headless_ports["grpc"]["targetPort"], "grpc")

    def test_config_has_only_broker_fields(self):
        check_config_fields(self, self.r.config, CONFIG)
        self.assertTrue(self.r.config["keys"])

    def test_container_reads_the_config_map(self):
        path = self.r.config_file_arg()
        mount = self.r.mount_for(path)
        self.assertIsNotNone(mount, f"--config {path} is under no mount")
        volume = self.r.volumes[mount["name"]]
        self.assertEqual(volume["configMap"]["name"], self.r.config_map["metadata"]["name"])
        self.assertEqual(os.path.relpath(path, mount["mountPath"]), "config.yaml")

    def test_every_config_path_is_under_a_mount(self):
        for field, path in file_paths(self.r.config).items():
            self.assertTrue(os.path.isabs(path), f"{field}: {path}")
            mount = self.r.mount_for(path)
            self.assertIsNotNone(mount, f"{field}: {path} lies under no volume mount")
            volume = self.r.volumes[mount["name"]]
            source = volume.get("secret") or volume.get("configMap") or {}
            if "items" in source:  # the file must be one of the projected keys
                relative = os.path.relpath(path, mount["mountPath"])
                self.assertIn(relative, [i["path"] for i in source["items"]], field)

    def test_secret_mounts_are_read_only_without_sub_path(self):
        secret_volumes = {n for n, v in self.r.volumes.items() if "secret" in v}
        self.assertTrue(secret_volumes)
        for mount in self.r.mounts:
            if mount["name"] in secret_volumes:
                self.assertIs(mount.get("readOnly"), True, mount["name"])
                # a subPath mount never sees the Secret change: no keyring reload
                self.assertNotIn("subPath", mount, mount["name"])
        for name in secret_volumes:
            self.assertEqual(self.r.volumes[name]["secret"]["defaultMode"], 0o440, name)

    def test_config_checksum_rolls_the_pods(self):
        annotations = self.r.deployment["spec"]["template"]["metadata"]["annotations"]
        self.assertRegex(annotations["checksum/config"], r"^[0-9a-f]{64}$")
        changed = Rendering(render(self.values_files, list(self.sets) + ["config.log_level=debug"]))
        changed_annotations = changed.deployment["spec"]["template"]["metadata"]["annotations"]
        self.assertNotEqual(changed_annotations["checksum/config"], annotations["checksum/config"])

    def test_keyring_from_secret_is_read_only_and_reloaded(self):
        local = self.r.config["kms"]["local"]
        self.assertIs(local["read_only"], True)
        self.assertGreaterEqual(local["reload_interval_seconds"], 1)
        mount = self.r.mount_for(local["keyring_file"])
        self.assertIn("secret", self.r.volumes[mount["name"]])
        self.assertEqual(self.r.mount_for(local["master_key_file"])["name"], mount["name"])

    def test_pod_disruption_budget_selects_the_pods(self):
        pdb = one(self.r.manifests, "PodDisruptionBudget")
        pod_labels = self.r.deployment["spec"]["template"]["metadata"]["labels"]
        for key, value in pdb["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(pod_labels.get(key), value)

    def test_topology_spread(self):
        self.assertTrue(self.r.pod.get("topologySpreadConstraints"))


class DefaultRenderTest(RenderChecks, unittest.TestCase):
    sets = MINIMUM

    def test_defaults(self):
        config = self.r.config
        self.assertEqual(config["listen"], "0.0.0.0:50051")
        self.assertEqual(config["metrics_listen"], "0.0.0.0:9090")
        self.assertEqual(config["log_level"], "info")
        self.assertIs(config["audit_log"], True)
        self.assertEqual(config["keys"], [{"alias": "default", "local_key": "service-default"}])
        self.assertEqual(config["cache"], {"metadata_ttl_seconds": 30, "unwrap_ttl_seconds": 30,
                                           "unwrap_max_entries": 100000,
                                           "access_probe_seconds": 10,
                                           "access_probe_idle_seconds": 900})
        self.assertEqual(config["kms"]["local"]["reload_interval_seconds"], 10)
        self.assertNotIn("azure", config["kms"])
        self.assertNotIn("authorization", config)
        self.assertEqual(self.r.deployment["spec"]["replicas"], 2)
        self.assertIs(self.r.pod["automountServiceAccountToken"], False)
        self.assertEqual(self.r.pod["securityContext"]["fsGroup"], 65532)
        for kind in ("HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule",
                     "PersistentVolumeClaim", "Certificate"):
            self.assertFalse(of_kind(self.r.manifests, kind), f"{kind} is off by default")

    def test_tls_by_default(self):
        config = self.r.config
        self.assertNotIn("insecure_plaintext", config)
        tls = config["tls"]
        self.assertEqual(set(tls), {"cert_file", "key_file", "min_version",
                                    "reload_interval_seconds"}, "no client CA without one named")
        self.assertEqual(tls["min_version"], "1.2")
        self.assertIn('min_version: "1.2"', self.r.config_text, "a string, not the number 1.2")
        self.assertEqual(tls["reload_interval_seconds"], 60)
        for field in ("cert_file", "key_file"):
            volume = self.r.volumes[self.r.mount_for(tls[field])["name"]]
            self.assertEqual(volume["secret"]["secretName"], "kb-server-tls")

    def test_mutual_tls_when_asked_or_a_client_ca_is_named(self):
        for extra, volume in ((["tls.clientCA.enabled=true"], {"secret": "kb-server-tls"}),
                              (["tls.clientCA.configMapName=clients-ca"],
                               {"configMap": "clients-ca"})):
            r = Rendering(render(sets=[*MINIMUM, *extra]))
            source = r.volumes[r.mount_for(r.config["tls"]["client_ca_file"])["name"]]
            (kind, name), = volume.items()
            self.assertEqual(source[kind].get("secretName", source[kind].get("name")), name, extra)

    def test_tls_min_version_from_the_value(self):
        # --set makes 1.3 a number; the broker gets the string.
        r = Rendering(render(sets=[*MINIMUM, "tls.minVersion=1.3", "tls.reloadIntervalSeconds=5"]))
        self.assertEqual(r.config["tls"]["min_version"], "1.3")
        self.assertEqual(r.config["tls"]["reload_interval_seconds"], 5)

    def test_network_policy_admits_metrics_from_the_monitoring_namespace_only(self):
        policy = one(self.r.manifests, "NetworkPolicy")
        self.assertEqual(policy["spec"]["policyTypes"], ["Ingress"])
        self.assertEqual(ingress_from(policy, "metrics"), [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}])
        self.assertIsNone(ingress_from(policy, "grpc"), "gRPC: any source by default")
        moved = one(render(sets=[*MINIMUM, "networkPolicy.monitoringNamespace=observability"]),
                    "NetworkPolicy")
        self.assertEqual(ingress_from(moved, "metrics"), [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}}])

    def test_keyring_secret_holds_keyring_and_master_key(self):
        volume = self.r.volumes["keyring"]["secret"]
        self.assertEqual(volume["secretName"], f"{RELEASE}-keybroker-keyring")
        self.assertEqual(sorted(i["key"] for i in volume["items"]), ["keyring", "master-key"])


class CertManagerRenderTest(RenderChecks, unittest.TestCase):
    """The server certificate from a cert-manager Certificate the chart renders."""
    sets = ("tls.certManager.enabled=true", "tls.certManager.issuerRef.name=cluster-ca")

    def test_certificate_covers_both_services_in_every_form(self):
        certificate = one(self.r.manifests, "Certificate")
        self.assertEqual(certificate["apiVersion"], "cert-manager.io/v1")
        spec = certificate["spec"]
        self.assertEqual(spec["issuerRef"], {"name": "cluster-ca", "kind": "Issuer",
                                             "group": "cert-manager.io"})
        self.assertIn("server auth", spec["usages"])
        services = [s["metadata"]["name"] for s in of_kind(self.r.manifests, "Service")]
        self.assertEqual(len(services), 2)
        for service in services:
            for suffix in ("", f".{NAMESPACE}", f".{NAMESPACE}.svc",
                           f".{NAMESPACE}.svc.cluster.local"):
                self.assertIn(service + suffix, spec["dnsNames"])

    def test_pods_mount_the_certificates_secret(self):
        secret = one(self.r.manifests, "Certificate")["spec"]["secretName"]
        self.assertEqual(secret, f"{RELEASE}-keybroker-tls")
        tls = self.r.config["tls"]
        for field in ("cert_file", "key_file"):
            volume = self.r.volumes[self.r.mount_for(tls[field])["name"]]
            self.assertEqual(volume["secret"]["secretName"], secret, field)

    def test_mutual_tls_with_the_issuers_ca(self):
        # cert-manager writes the issuer's CA as ca.crt beside the certificate.
        ca_file = self.r.config["tls"]["client_ca_file"]
        volume = self.r.volumes[self.r.mount_for(ca_file)["name"]]["secret"]
        self.assertEqual(volume["secretName"], f"{RELEASE}-keybroker-tls")
        self.assertEqual(os.path.basename(ca_file), "ca.crt")
        self.assertEqual([i["key"] for i in volume["items"]], ["ca.crt"])

    def test_mutual_tls_can_be_turned_off(self):
        r = Rendering(render(sets=[*self.sets, "tls.clientCA.enabled=false"]))
        self.assertNotIn("client_ca_file", r.config["tls"])
        self.assertNotIn("client-ca", r.volumes)

    def test_certificate_names_its_secret_and_skips_a_disabled_headless_service(self):
        r = Rendering(render(sets=[*self.sets, "tls.secretName=broker-tls",
                                   "headlessService.enabled=false",
                                   "tls.certManager.extraDnsNames[0]=keys.example.com"]))
        spec = one(r.manifests, "Certificate")["spec"]
        self.assertEqual(spec["secretName"], "broker-tls")
        self.assertEqual(r.volumes["tls"]["secret"]["secretName"], "broker-tls")
        self.assertFalse([n for n in spec["dnsNames"] if "headless" in n])
        self.assertIn("keys.example.com", spec["dnsNames"])

    def test_an_issuer_is_required(self):
        assert_refused(self, ["tls.certManager.enabled=true"], "tls.certManager.issuerRef.name")


class PlaintextRenderTest(unittest.TestCase):
    """Plaintext gRPC renders only on a loopback address, or when asked for by name."""

    def test_plaintext_on_the_network_is_refused(self):
        assert_refused(self, ["tls.enabled=false"], "insecurePlaintext=true", "0.0.0.0",
                       "loopback")
        assert_refused(self, ["tls.enabled=false", "bindAddress=::"], "insecurePlaintext=true")
        # config cannot slip it past the chart
        assert_refused(self, ["tls.enabled=false", "config.insecure_plaintext=true"],
                       "insecure_plaintext")

    def test_insecure_plaintext_renders_the_broker_field(self):
        for sets in (["tls.enabled=false", "insecurePlaintext=true"], ["insecurePlaintext=true"]):
            r = Rendering(render(sets=sets))
            self.assertIs(r.config["insecure_plaintext"], True, sets)
            self.assertNotIn("tls", r.config, sets)
            self.assertNotIn("tls", r.volumes, sets)
            self.assertEqual(r.config["listen"], "0.0.0.0:50051")

    def test_insecure_plaintext_and_a_certificate_are_refused_together(self):
        assert_refused(self, [*MINIMUM, "insecurePlaintext=true"], "insecurePlaintext",
                       "tls.enabled=false")

    def test_plaintext_on_loopback_renders(self):
        for address in ("127.0.0.1", "::1"):
            r = Rendering(render(sets=["tls.enabled=false", f"bindAddress={address}"]))
            self.assertNotIn("tls", r.config)
            self.assertNotIn("insecure_plaintext", r.config)
            self.assertTrue(r.config["listen"].startswith(("127.0.0.1:", "[::1]:")))

    def test_mutual_tls_needs_tls(self):
        assert_refused(self, ["tls.enabled=false", "bindAddress=127.0.0.1",
                              "tls.clientCA.enabled=true"], "tls.clientCA.enabled")


class CompleteRenderTest(RenderChecks, unittest.TestCase):
    values_files = (COMPLETE_VALUES,)

    def test_mutual_tls(self):
        tls = self.r.config["tls"]
        self.assertEqual(self.r.volumes[self.r.mount_for(tls["cert_file"])["name"]]
                         ["secret"]["secretName"], "keybroker-server-tls")
        self.assertEqual(self.r.mount_for(tls["cert_file"]), self.r.mount_for(tls["key_file"]))
        ca = self.r.volumes[self.r.mount_for(tls["client_ca_file"])["name"]]
        self.assertEqual(ca["configMap"]["name"], "keybroker-client-ca")
        self.assertEqual(tls["min_version"], "1.3")
        self.assertEqual(tls["reload_interval_seconds"], 30)

    def test_certificate_writes_the_named_secret(self):
        spec = one(self.r.manifests, "Certificate")["spec"]
        self.assertEqual(spec["secretName"], "keybroker-server-tls")
        self.assertEqual(spec["issuerRef"]["kind"], "ClusterIssuer")
        self.assertEqual(spec["privateKey"], {"algorithm": "RSA", "size": 3072,
                                              "rotationPolicy": "Always"})
        self.assertIn("key encipherment", spec["usages"])
        self.assertIn("keybroker-headless.keybroker.svc.cluster.example", spec["dnsNames"])
        self.assertIn("keybroker.example.com", spec["dnsNames"])

    def test_broker_settings_pass_through(self):
        with open(COMPLETE_VALUES, encoding="utf-8") as f:
            given = yaml.safe_load(f)["config"]
        for field in ("authorization", "edek_authentication", "reflection",
                      "max_request_bytes", "allow_core_dumps", "unix_socket_group",
                      "max_pending_kms_calls", "cache", "keys"):
            self.assertEqual(self.r.config[field], given[field], field)

    def test_key_sources_pass_through(self):
        with open(COMPLETE_VALUES, encoding="utf-8") as f:
            given = yaml.safe_load(f)["config"]["kms"]["azure"]
        azure = self.r.config["kms"]["azure"]
        self.assertEqual(azure["key_sources"], given["key_sources"])
        self.assertEqual(azure["max_runtime_keys"], given["max_runtime_keys"])

    def test_identities_of_every_kind(self):
        azure = self.r.config["kms"]["azure"]
        identities = azure["identities"]
        self.assertEqual(sorted(identities), ["fhir-prod", "in-cluster", "node", "tenant-b-cert"])
        secret = identities["fhir-prod"]
        self.assertEqual(secret["tenant_id"], "00000000-0000-0000-0000-000000000000")
        self.assertEqual(secret["oauth_endpoint_url"], "https://login.microsoftonline.com")
        for field in ("client_id", "client_secret"):
            mount = self.r.mount_for(secret[field]["password_file"])
            self.assertEqual(self.r.volumes[mount["name"]]["secret"]["secretName"],
                             "fhir-prod-entra")
        self.assertIn("secret", self.r.volumes[self.r.mount_for(secret["tls"]["ca_file"])["name"]])
        cert = identities["tenant-b-cert"]
        self.assertEqual(set(cert["client_certificate"]), {"cert_file", "key_file"})
        self.assertEqual(identities["in-cluster"],
                         {"workload_identity": {"client_id": "33333333-3333-3333-3333-333333333333"}})
        self.assertEqual(identities["node"]["managed_identity"]["endpoint"],
                         "http://169.254.169.254")
        self.assertEqual(azure["request_timeout_seconds"], 8)
        self.assertEqual(azure["max_concurrent_requests_per_vault"], 32)
        ca = self.r.volumes[self.r.mount_for(azure["key_vault_tls"]["ca_file"])["name"]]
        self.assertEqual(ca["configMap"]["name"], "key-vault-ca")

    def test_workload_identity_gets_its_token(self):
        labels = self.r.deployment["spec"]["template"]["metadata"]["labels"]
        self.assertEqual(labels["azure.workload.identity/use"], "true")
        self.assertIs(self.r.pod["automountServiceAccountToken"], True)
        account = one(self.r.manifests, "ServiceAccount")
        self.assertEqual(self.r.pod["serviceAccountName"], account["metadata"]["name"])

    def test_keys_pass_through(self):
        keys = {k["alias"]: k for k in self.r.config["keys"]}
        self.assertEqual(keys["tenant-b"], {"alias": "tenant-b", "identity": "tenant-b-cert",
                                            "azure_key": "https://hsm-b.managedhsm.azure.net/keys/cmk",
                                            "vault_kind": "managed_hsm", "hsm_random": True})

    def test_autoscaler_owns_the_replica_count(self):
        hpa = one(self.r.manifests, "HorizontalPodAutoscaler")
        self.assertEqual(hpa["spec"]["scaleTargetRef"]["name"],
                         self.r.deployment["metadata"]["name"])
        self.assertNotIn("replicas", self.r.deployment["spec"])
        self.assertEqual(one(self.r.manifests, "PodDisruptionBudget")["spec"]["minAvailable"], 2)

    def test_service_monitor_scrapes_the_main_service_only(self):
        monitor = one(self.r.manifests, "ServiceMonitor")
        selector = monitor["spec"]["selector"]["matchLabels"]
        matching = [s for s in of_kind(self.r.manifests, "Service")
                    if all(s["metadata"]["labels"].get(k) == v for k, v in selector.items())]
        self.assertEqual(len(matching), 1, "one Service, so each pod is scraped once")
        ports = {p["name"] for p in matching[0]["spec"]["ports"]}
        self.assertEqual([e["port"] for e in monitor["spec"]["endpoints"]], ["metrics"])
        self.assertIn("metrics", ports)
        self.assertEqual(monitor["spec"]["endpoints"][0]["path"], "/metrics")
        self.assertEqual(monitor["spec"]["namespaceSelector"]["matchNames"], [NAMESPACE])

    def test_alerts_fire_on_service_faults_only(self):
        rule = one(self.r.manifests, "PrometheusRule")
        alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"] if "alert" in r}
        self.assertTrue(CHART_ALERTS <= set(alerts))
        self.assertIn('cause="service"', alerts["KeybrokerServiceErrors"]["expr"])
        self.assertIn("KMS_UNAVAILABLE", alerts["KeybrokerKmsUnavailable"]["expr"])
        self.assertIn("KMS_THROTTLED", alerts["KeybrokerKmsUnavailable"]["expr"])
        self.assertIn("by (namespace, job, kms)", alerts["KeybrokerKmsUnavailable"]["expr"])
        self.assertIn('code="OK"', alerts["KeybrokerLatencyHigh"]["expr"])
        self.assertIn("0.95", alerts["KeybrokerLatencyHigh"]["expr"])
        self.assertEqual(alerts["KeybrokerServiceErrors"]["for"], "5m")
        for name in CHART_ALERTS:
            expr = alerts[name]["expr"]
            for marker in CUSTOMER_MARKERS:
                self.assertNotIn(marker, expr, f"{name} selects a customer-caused condition")
            metrics = set(re.findall(r"\b(keybroker_[a-z_]+|up)\{", expr))
            self.assertTrue(metrics, name)
            self.assertTrue(metrics <= KNOWN_METRICS, f"{name}: {metrics - KNOWN_METRICS}")
            self.assertIn(f'namespace="{NAMESPACE}"', expr)

    def test_network_policy(self):
        policy = one(self.r.manifests, "NetworkPolicy")
        ingress_ports = [p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]]
        self.assertEqual(sorted(ingress_ports), ["grpc", "metrics"])
        self.assertEqual(ingress_from(policy, "grpc"),
                         [{"namespaceSelector": {"matchLabels": {"keybroker-client": "true"}}}])
        self.assertEqual(ingress_from(policy, "metrics"), [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "observability"}}},
            {"ipBlock": {"cidr": "10.240.0.0/16"}}])
        egress_ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
        self.assertTrue({53, 443, 80, 3128} <= egress_ports)  # 80: IMDS, managed identity

    def test_image_is_pinned_by_digest(self):
        self.assertEqual(self.r.container["image"],
                         "registry.example.com/keybroker@sha256:" + "0123456789abcdef" * 4)


class PersistentVolumeRenderTest(unittest.TestCase):
    """The single-replica mode: the keyring on a claim, written by the broker."""

    def test_writable_keyring_on_a_claim(self):
        r = Rendering(render(sets=[*MINIMUM, "localKeyring.mode=persistentVolume",
                                   "replicaCount=1"]))
        local = r.config["kms"]["local"]
        self.assertIs(local["read_only"], False)
        data = r.mount_for(local["keyring_file"])
        self.assertIn("persistentVolumeClaim", r.volumes[data["name"]])
        self.assertFalse(data.get("readOnly", False))
        self.assertIn("secret", r.volumes[r.mount_for(local["master_key_file"])["name"]])
        claim = one(r.manifests, "PersistentVolumeClaim")
        self.assertEqual(claim["metadata"]["annotations"]["helm.sh/resource-policy"], "keep")
        self.assertEqual(r.deployment["spec"]["strategy"]["type"], "Recreate")
        for field, path in file_paths(r.config).items():
            self.assertIsNotNone(r.mount_for(path), field)


class SchemaTest(unittest.TestCase):
    def assert_refused(self, sets, message):
        assert_refused(self, [*MINIMUM, *sets], message)

    def test_typos_are_refused(self):
        self.assert_refused(["config.log_levl=debug"], "log_levl")
        self.assert_refused(["config.kms.local.reload_intervel_seconds=5"],
                            "reload_intervel_seconds")
        self.assert_refused(["config.cache.unwrap_ttl=5"], "unwrap_ttl")
        self.assert_refused(["localKeyring.mod=secret"], "mod")
        self.assert_refused(["probes.liveness.pth=/x"], "pth")
        self.assert_refused(["prometheusRule.alerts.serviceErrors.treshold=0.1"], "treshold")
        self.assert_refused(["replicaCont=3"], "replicaCont")
        self.assert_refused(["config.authorization.rules[0].callers[0]=a",
                             "config.authorization.rules[0].operations[0]=Unrwap",
                             "config.authorization.rules[0].keys[0]=k"], "operations")
        self.assert_refused(["config.authorization.rules[0].callers[0]=a",
                             "config.authorization.rules[0].operations[0]=Unwrap",
                             "config.authorization.rules[0].key[0]=k"], "key")
        self.assert_refused(["config.cache.unknown_version_ttl=5"], "unknown_version_ttl")
        self.assert_refused(["tls.certManager.issuer=ca"], "issuer")

    def test_bad_values_are_refused(self):
        self.assert_refused(["config.log_level=verbose"], "log_level")
        self.assert_refused(["config.cache.unwrap_ttl_seconds=0"], "unwrap_ttl_seconds")
        self.assert_refused(["localKeyring.mode=emptyDir"], "mode")
        self.assert_refused(["containerPorts.grpc=70000"], "grpc")
        self.assert_refused(["tls.minVersion=1.1"], "minVersion")
        self.assert_refused(["config.max_request_bytes=0"], "max_request_bytes")
        self.assert_refused(["config.authorization.rules[0].callers[0]=a",
                             "config.authorization.rules[0].operations[0]=Unwrap"], "keys")
        # TLS and plaintext are the chart's to render, not config's
        self.assert_refused(["config.tls.min_version=1.3"], "tls")
        self.assert_refused(["config.keys[0].alias=default,config.keys[0].local_key=a,"
                             "config.keys[0].azure_key=https://v.vault.azure.net/keys/k"], "keys")

    def test_identity_needs_exactly_one_kind(self):
        self.assert_refused(["azure.identities.x.tenantId=t",
                             "azure.identities.x.clientSecret.secretName=s",
                             "azure.identities.x.managedIdentity.clientId=c"], "identities")

    def test_impossible_combinations_are_refused(self):
        self.assert_refused(["localKeyring.mode=persistentVolume"], "replicaCount 1")
        assert_refused(self, [], *TLS_FIXES)  # the defaults: TLS without a certificate
        self.assert_refused(["localKeyring.enabled=false",
                             "config.keys[0].alias=a",
                             "config.keys[0].azure_key=https://v.vault.azure.net/keys/k",
                             "config.keys[0].identity=i",
                             "azure.identities.i.managedIdentity.clientId=c",
                             "config.edek_authentication.local_key=mac"], "enable localKeyring")
        self.assert_refused(["config.keys[0].alias=a",
                             "config.keys[0].azure_key=https://v.vault.azure.net/keys/k",
                             "config.keys[0].identity=nobody"], "nobody")
        self.assert_refused(["azure.identities.i.managedIdentity.clientId=c",
                             "config.kms.azure.key_sources[0].vaults[0]=*.vault.azure.net",
                             "config.kms.azure.key_sources[0].identity=nobody"],
                            "key_sources[0]: identity \"nobody\"")


class AlertRulesTest(unittest.TestCase):
    """The rendered alert rules, evaluated by Prometheus' own promtool: customer-caused
    failures never fire an alert, service faults fire each one."""

    SEL = f'job="{RELEASE}-keybroker",namespace="{NAMESPACE}"'

    def setUp(self):
        self.promtool = shutil.which("promtool")
        if not self.promtool:
            self.skipTest("promtool (Debian package prometheus) is not installed")
        rule = one(render(sets=[*MINIMUM, "prometheusRule.enabled=true"]), "PrometheusRule")
        self.groups = rule["spec"]["groups"]
        self.tmp = tempfile.TemporaryDirectory(prefix="chart-alerts-")
        self.addCleanup(self.tmp.cleanup)

    def promtool_run(self, *args):
        result = subprocess.run([self.promtool, *args], capture_output=True, text=True,
                                timeout=60, cwd=self.tmp.name)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def write(self, name, document):
        with open(os.path.join(self.tmp.name, name), "w") as f:
            yaml.safe_dump(document, f, sort_keys=False)

    def series(self, name, labels, values):
        all_labels = ",".join([self.SEL] + [f'{k}="{v}"' for k, v in labels.items()])
        return {"series": f"{name}{{{all_labels}}}", "values": values}

    def rpc(self, method, code, reason, cause, values):
        return self.series("keybroker_rpc_requests_total",
                           {"method": method, "code": code, "reason": reason, "cause": cause},
                           values)

    def kms(self, outcome, values):
        return self.series("keybroker_kms_requests_total",
                           {"kms": "azure_key_vault", "operation": "unwrap", "outcome": outcome}, values)

    def latency(self, method, code, buckets):
        return [self.series("keybroker_rpc_duration_seconds_bucket",
                            {"method": method, "code": code, "le": le}, values)
                for le, values in buckets.items()]

    def test_rules_are_valid(self):
        self.write("rules.yaml", {"groups": self.groups})
        self.promtool_run("check", "rules", "rules.yaml")

    def test_customer_caused_failures_never_alert_and_service_faults_do(self):
        # Annotations are prose: promtool would compare them word for word.
        groups = copy.deepcopy(self.groups)
        for group in groups:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        self.write("rules.yaml", {"groups": groups})
        job = {"job": f"{RELEASE}-keybroker", "namespace": NAMESPACE}
        customer_caused = [
            # Most calls fail because customers revoked or disabled their keys, or
            # clients sent bad EDEKs; Key Vault answers 403 slowly. None of it pages.
            self.rpc("Unwrap", "PERMISSION_DENIED", "KEY_NOT_ACCESSIBLE", "customer", "0+50x40"),
            self.rpc("Unwrap", "FAILED_PRECONDITION", "KEY_DISABLED", "customer", "0+10x40"),
            self.rpc("Unwrap", "INVALID_ARGUMENT", "EDEK_INVALID", "client", "0+20x40"),
            self.rpc("Unwrap", "OK", "none", "none", "0+20x40"),
            self.kms("KEY_NOT_ACCESSIBLE", "0+50x40"),
            self.kms("KEY_DISABLED", "0+10x40"),
            self.kms("OK", "0+20x40"),
            self.series("keybroker_keyring_reloads_total", {"pod": "kb-0", "outcome": "OK"},
                        "0+1x40"),
            self.series("up", {"instance": "10.0.0.1:9090"}, "1x40"),
        ] + self.latency("Unwrap", "OK", {"0.1": "0+20x40", "+Inf": "0+20x40"}) \
          + self.latency("Unwrap", "PERMISSION_DENIED", {"0.1": "0x40", "+Inf": "0+60x40"})
        service_faults = [
            self.rpc("GenerateDek", "INTERNAL", "INTERNAL", "service", "0+10x40"),
            self.rpc("GenerateDek", "OK", "none", "none", "0+90x40"),
            self.kms("KMS_UNAVAILABLE", "0+30x40"),
            self.kms("OK", "0+70x40"),
            self.series("keybroker_keyring_reloads_total",
                        {"pod": "kb-0", "outcome": "INTERNAL"}, "0+1x40"),
            self.series("up", {"instance": "10.0.0.1:9090"}, "0x40"),
        ] + self.latency("GenerateDek", "OK", {"0.1": "0x40", "1": "0+100x40", "+Inf": "0+100x40"})

        def alerts(severity, **labels):
            return [{"exp_labels": {**job, **labels, "severity": severity}}]
        at = "30m"
        self.write("test.yaml", {
            "rule_files": ["rules.yaml"],
            "evaluation_interval": "1m",
            "tests": [
                {"interval": "1m", "input_series": customer_caused,
                 "alert_rule_test": [{"eval_time": at, "alertname": name, "exp_alerts": []}
                                     for name in sorted(CHART_ALERTS)]},
                {"interval": "1m", "input_series": service_faults, "alert_rule_test": [
                    {"eval_time": at, "alertname": "KeybrokerServiceErrors",
                     "exp_alerts": alerts("critical")},
                    {"eval_time": at, "alertname": "KeybrokerKmsUnavailable",
                     "exp_alerts": alerts("critical", kms="azure_key_vault")},
                    {"eval_time": at, "alertname": "KeybrokerLatencyHigh",
                     "exp_alerts": alerts("warning", method="GenerateDek")},
                    {"eval_time": at, "alertname": "KeybrokerKeyringReloadFailing",
                     "exp_alerts": alerts("critical", pod="kb-0", outcome="INTERNAL")},
                    {"eval_time": at, "alertname": "KeybrokerTargetDown",
                     "exp_alerts": alerts("warning", instance="10.0.0.1:9090")},
                ]},
            ],
        })
        self.promtool_run("test", "rules", "test.yaml")


class BrokerStartsTest(unittest.TestCase):
    """The chart's default rendering starts the real broker (issue 6, "done when"), serving
    TLS with the Secret's certificate (issue 10)."""

    def setUp(self):
        self.keybroker = os.path.join(BUILD_DIR, "server", "keybroker")
        self.keybrokerctl = os.path.join(BUILD_DIR, "ctl", "keybrokerctl")
        for binary in (self.keybroker, self.keybrokerctl):
            self.assertTrue(os.access(binary, os.X_OK), f"{binary} is not built")
        self.openssl = shutil.which("openssl")
        self.assertIsNotNone(self.openssl, "the openssl command (Debian package openssl)")
        self.tmp = tempfile.TemporaryDirectory(prefix="chart-broker-")
        self.root = self.tmp.name
        self.process = None

    def tearDown(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if self.process:
            self.process.stderr.close()
        self.tmp.cleanup()

    def host_path(self, path):
        return os.path.join(self.root, path.lstrip("/"))

    def ctl(self, *args):
        result = subprocess.run([self.keybrokerctl, *args], capture_output=True, text=True,
                                timeout=30)
        self.assertEqual(result.returncode, 0,
                         f"keybrokerctl {' '.join(args)}: {result.stdout}{result.stderr}")

    def lay_out_volumes(self, r):
        """Creates each mount's directory and the files its ConfigMap or Secret holds."""
        local = r.config["kms"]["local"]
        tls = r.config.get("tls", {})
        # What the operator puts in the Secrets: the keyring and its master key, made
        # with keybrokerctl; the server certificate and key (and the client CA).
        secret_files = {local["keyring_file"], local["master_key_file"]}
        secret_files.update(tls[f] for f in ("cert_file", "key_file", "client_ca_file") if f in tls)
        for mount in r.mounts:
            os.makedirs(self.host_path(mount["mountPath"]), exist_ok=True)
        for mount in r.mounts:
            volume = r.volumes[mount["name"]]
            if "configMap" in volume:
                cm = [c for c in of_kind(r.manifests, "ConfigMap")
                      if c["metadata"]["name"] == volume["configMap"]["name"]]
                self.assertEqual(len(cm), 1, f"ConfigMap {volume['configMap']['name']} rendered")
                for key, text in cm[0]["data"].items():
                    with open(os.path.join(self.host_path(mount["mountPath"]), key), "w") as f:
                        f.write(text)
            elif "secret" in volume:
                for item in volume["secret"]["items"]:
                    path = os.path.join(mount["mountPath"], item["path"])
                    self.assertIn(path, secret_files, f"no test content for {path} of Secret "
                                                      f"{volume['secret']['secretName']}")
        self.make_keyring(r.config)
        if tls:
            self.make_certificate(tls)

    def make_keyring(self, config):
        local = config["kms"]["local"]
        master_key = self.host_path(local["master_key_file"])
        keyring = self.host_path(local["keyring_file"])
        self.ctl("keyring", "new-master-key", "--out", master_key)
        init = ["keyring", "init", "--keyring-file", keyring, "--master-key-file", master_key]
        names = [key["local_key"] for key in config["keys"] if "local_key" in key]
        if "edek_authentication" in config:
            names.append(config["edek_authentication"]["local_key"])
        for name in names:
            init += ["--key", name]
        self.ctl(*init)

    def make_certificate(self, tls):
        """A self-signed certificate for localhost, as the TLS Secret would hold it; it is
        its own CA, so it also serves as the client CA when there is one."""
        cert_file = self.host_path(tls["cert_file"])
        result = subprocess.run(
            [self.openssl, "req", "-x509", "-newkey", "ec",
             "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", self.host_path(tls["key_file"]), "-out", cert_file],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 0, f"openssl req: {result.stderr}")
        if "client_ca_file" in tls:
            shutil.copyfile(cert_file, self.host_path(tls["client_ca_file"]))

    def snapshot(self, r, writable):
        files = set()
        for mount in r.mounts:
            if mount["mountPath"] in writable:
                continue
            for base, _, names in os.walk(self.host_path(mount["mountPath"])):
                files.update(os.path.join(base, n) for n in names)
        return files

    def wait_for_port(self, port, deadline):
        while time.monotonic() < deadline:
            self.assertIsNone(self.process.poll(), "keybroker exited: " + self.stderr_text())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.fail(f"nothing listens on 127.0.0.1:{port}: {self.stderr_text()}")

    def http_status(self, port, path):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        except OSError:
            return None
        finally:
            connection.close()

    def tls_version(self, port, ca_file):
        """The TLS version a handshake with 127.0.0.1:port as "localhost" settles on."""
        context = ssl.create_default_context(cafile=ca_file)
        context.set_alpn_protocols(["h2"])  # what gRPC clients offer
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                return tls.version()

    def stderr_text(self):
        if self.process.poll() is None:
            return "(still running)"
        return self.process.stderr.read()[-4000:]

    def test_default_rendering_starts_the_broker(self):
        r = Rendering(render(sets=MINIMUM))
        config = copy.deepcopy(r.config)
        self.assertIn("tls", config, "the default rendering serves TLS")
        self.assertNotIn("insecure_plaintext", config)
        # Every file the configuration names lies under one of the pod's mounts.
        for field, path in file_paths(config).items():
            self.assertIsNotNone(r.mount_for(path),
                                 f"{field}: {path} lies under no volume mount: a chart bug")
        self.lay_out_volumes(r)
        writable = {m["mountPath"] for m in r.mounts if not m.get("readOnly")}
        before = self.snapshot(r, writable)

        # The same configuration, its paths moved under the temporary root.
        def relocate(node):
            if isinstance(node, dict):
                return {k: (self.host_path(v) if k.endswith("_file") else relocate(v))
                        for k, v in node.items()}
            if isinstance(node, list):
                return [relocate(v) for v in node]
            return node
        config_file = self.host_path(r.config_file_arg())
        with open(config_file, "w") as f:
            yaml.safe_dump(relocate(config), f)

        env = {k: v for k, v in os.environ.items() if not k.startswith("KEYBROKER_")}
        self.process = subprocess.Popen(
            [self.keybroker, "--config", config_file], cwd=self.root, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        self.wait_for_port(port_of(config["listen"]), deadline)
        self.assertEqual(port_of(config["listen"]), r.ports["grpc"])
        self.assertIn(self.tls_version(r.ports["grpc"], self.host_path(config["tls"]["cert_file"])),
                      ("TLSv1.2", "TLSv1.3"))
        metrics_port = port_of(config["metrics_listen"])
        self.assertEqual(metrics_port, r.ports["metrics"])
        self.wait_for_port(metrics_port, deadline)
        # The kubelet probes plain HTTP on the metrics port, whatever the gRPC port speaks.
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            probe = r.container[kind]
            port, path = r.probe_port(probe), probe["httpGet"]["path"]
            self.assertEqual(port, metrics_port, kind)
            self.assertEqual(probe["httpGet"].get("scheme", "HTTP"), "HTTP", kind)
            status = None
            while time.monotonic() < deadline:
                status = self.http_status(port, path)
                if status == 200:
                    break
                time.sleep(0.2)
            self.assertEqual(status, 200, f"{kind} GET :{port}{path}")

        self.process.send_signal(signal.SIGTERM)
        self.assertEqual(self.process.wait(timeout=20), 0, self.stderr_text())
        # Nothing was written where the pod has read-only mounts.
        self.assertEqual(self.snapshot(r, writable), before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
