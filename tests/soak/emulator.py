"""The Key Vault / Managed HSM / Entra ID emulator (tests/fakes/keyvault_emulator) as a
child process of the soak, and its control API (tests/fakes/README.md, "Control API")."""
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "5a0c0000-0000-4000-8000-00000000501c"
CLIENT_SECRET = "soak-client-secret"
VAULT = "kv1"
HSM = "hsm1"


class ControlError(RuntimeError):
    pass


class Emulator:
    """The emulator with a vault `kv1`, a managed HSM `hsm1` and Entra ID, started with
    its stdin on a pipe so that it dies with the soak whatever happens."""

    def __init__(self, source_dir: str, state_dir: str):
        os.makedirs(state_dir, exist_ok=True)
        self._log = open(os.path.join(state_dir, "emulator.log"), "w")
        self.process = subprocess.Popen(
            ["/usr/bin/python3", os.path.join(source_dir, "tests/fakes/keyvault_emulator"),
             "--vault", VAULT, "--hsm", HSM, "--entra", "--separate-entra-ca",
             "--state-dir", state_dir, "--exit-on-stdin-eof"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the key vault emulator did not start; see "
                               + os.path.join(state_dir, "emulator.log"))
        self.ready = json.loads(line)
        self.ca_file = self.ready["ca_file"]
        self.entra_ca_file = self.ready["entra_ca_file"]
        self._tls = ssl.create_default_context(cafile=self.ca_file)

    def url(self, host: str) -> str:
        return self.ready["hosts"][host]["url"]

    def control(self, endpoint: str, body: dict = None) -> dict:
        """POSTs (GET when `body` is None and the endpoint is a query) to /control/..."""
        method = "GET" if endpoint in ("counts", "requests", "tokens") else "POST"
        data = None if method == "GET" else json.dumps(body or {}).encode()
        request = urllib.request.Request(
            f"{self.ready['control']}/control/{endpoint}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, context=self._tls, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ControlError(f"control {endpoint} {body}: {error.code} {error.read()!r}")

    def set_up_soak_keys(self) -> None:
        """Registers the broker's principal (client secret, every operation on both hosts)
        and creates the soak's keys: RSA 2048 `soak-rsa` in kv1, AES-256 `soak-aes` in hsm1."""
        self.control("register-principal", {"tenant": TENANT, "client_id": CLIENT_ID,
                                            "client_secret": CLIENT_SECRET,
                                            "hosts": [VAULT, HSM]})
        self.control("create-key", {"host": VAULT, "name": "soak-rsa", "kty": "RSA",
                                    "size": 2048})
        self.control("create-key", {"host": HSM, "name": "soak-aes", "kty": "oct-HSM",
                                    "size": 256})

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
