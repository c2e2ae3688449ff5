#!/usr/bin/python3
"""Runs keyvault_sdk.test.js: the Azure SDK for JavaScript (@azure/keyvault-keys and
@azure/identity, the exact versions in package-lock.json) against the Key Vault emulator.

  run_sdk_test.py WORK_DIR

1. Checks for Node.js >= 20 and npm (the SDK's own minimum).
2. Installs the locked packages into WORK_DIR with `npm ci` (a directory in the build
   tree; skipped when WORK_DIR already holds exactly this lock file's install). This needs
   the npm registry: without it the test fails here and says so.
3. Starts the emulator (vault kv1, Managed HSM hsm1, Entra ID with its own CA, plain-HTTP
   IMDS; vaults name themselves by their listener URL so the SDK can follow kid and
   nextLink), then `node --test keyvault_sdk.test.js` with NODE_EXTRA_CA_CERTS trusting
   the emulator's two CAs and AZURE_POD_IDENTITY_AUTHORITY_HOST pointing managed identity
   at its IMDS. Exits with node's status.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "..", "fakes", "keyvault_emulator")
LOCK_FILES = ("package.json", "package-lock.json")
MIN_NODE_MAJOR = 20
STAMP = ".keybroker-lock-sha256"


def fail(message: str) -> None:
    print(f"azure_sdk_js: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def check_node() -> None:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        fail("node and npm are needed (Debian: apt-get install nodejs npm; "
             "scripts/install-deps.sh installs them)")
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        fail(f"Node.js >= {MIN_NODE_MAJOR} is needed by the pinned Azure SDK packages, "
             f"found {version or 'none'} at {node}")
    print(f"azure_sdk_js: node {version} ({node})", flush=True)


def lock_digest() -> str:
    digest = hashlib.sha256()
    for name in LOCK_FILES:
        with open(os.path.join(HERE, name), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def install(work_dir: str) -> None:
    """npm ci into work_dir, unless it already holds this lock file's packages."""
    os.makedirs(work_dir, exist_ok=True)
    digest = lock_digest()
    stamp = os.path.join(work_dir, "node_modules", STAMP)
    if os.path.exists(stamp) and open(stamp).read().strip() == digest:
        print("azure_sdk_js: packages already installed from this lock file", flush=True)
        return
    for name in LOCK_FILES:
        shutil.copyfile(os.path.join(HERE, name), os.path.join(work_dir, name))
    # --ignore-scripts: no package's install script runs on this machine.
    command = ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"]
    print(f"azure_sdk_js: {' '.join(command)} in {work_dir}", flush=True)
    try:
        result = subprocess.run(command, cwd=work_dir, timeout=600)
    except subprocess.TimeoutExpired:
        fail("npm ci took more than 10 minutes (is the npm registry reachable?)")
    if result.returncode != 0:
        fail(f"npm ci exited with {result.returncode}: the pinned packages could not be "
             "installed (this test needs the npm registry)")
    with open(stamp, "w") as f:
        f.write(digest + "\n")


class Emulator:
    def __init__(self, state_dir: str):
        self.process = subprocess.Popen(
            [sys.executable, EMULATOR, "--state-dir", state_dir, "--exit-on-stdin-eof",
             "--vault", "kv1", "--hsm", "hsm1", "--entra", "--imds", "--separate-entra-ca",
             "--public-names", "listener"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=20)
            fail("the emulator exited before its ready line")
        self.ready = json.loads(line)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.process.stdin.close()
        self.process.stdout.close()


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    work_dir = os.path.abspath(sys.argv[1])
    check_node()
    install(work_dir)
    state_dir = tempfile.mkdtemp(prefix="azure-sdk-js-")
    emulator = Emulator(state_dir)
    try:
        ready = emulator.ready
        cas = os.path.join(state_dir, "trusted-cas.pem")
        with open(cas, "w") as out:
            for name in dict.fromkeys((ready["ca_file"], ready["entra_ca_file"])):
                with open(name) as f:
                    out.write(f.read())
        env = dict(os.environ,
                   NODE_PATH=os.path.join(work_dir, "node_modules"),
                   NODE_EXTRA_CA_CERTS=cas,
                   EMULATOR_READY=json.dumps(ready),
                   TEST_STATE_DIR=state_dir,
                   # How the SDK's managed identity finds a non-default IMDS.
                   AZURE_POD_IDENTITY_AUTHORITY_HOST=ready["hosts"]["imds"]["url"])
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET",
                     "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST", "IDENTITY_ENDPOINT",
                     "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET", "IMDS_ENDPOINT"):
            env.pop(name, None)   # the machine's own Azure settings must not leak in
        test = os.path.join(HERE, "keyvault_sdk.test.js")
        return subprocess.run(["node", "--test", "--test-reporter=spec", test], env=env,
                              timeout=600).returncode
    finally:
        emulator.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
