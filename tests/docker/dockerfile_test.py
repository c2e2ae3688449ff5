#!/usr/bin/env python3
"""Checks the Dockerfile that no Docker engine here can build.

- The runtime stage installs a Debian package for every shared library that `ldd`
  reports for the built keybroker and keybrokerctl (each library mapped to its
  package with `dpkg -S`), and no package that none of them needs.
- It runs as a numeric non-root user, copies only the two binaries from the
  build stage, exposes the gRPC and metrics ports and starts keybroker.
- The build stage builds with the project's own scripts (Release, two jobs).

The binaries are read from KEYBROKER_BUILD_DIR (default: <repo>/build).
"""
import json
import os
import re
import shlex
import subprocess
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("KEYBROKER_BUILD_DIR", os.path.join(REPO, "build"))
BINARIES = {
    "keybroker": os.path.join(BUILD_DIR, "server", "keybroker"),
    "keybrokerctl": os.path.join(BUILD_DIR, "ctl", "keybrokerctl"),
}
# Installed for what the binaries do rather than what they link: the system's
# trust roots for Key Vault and Entra ID.
NOT_LINKED_BUT_NEEDED = {"ca-certificates"}


def parse_dockerfile(path):
    """Returns the stages: [{"from": [...], "name": str|None, "instructions": [(KEYWORD, args)]}]."""
    logical, current = [], ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.lstrip().startswith("#"):
                continue  # comments, also inside a continued instruction
            if line.endswith("\\"):
                current += line[:-1] + " "
                continue
            current += line
            if current.strip():
                logical.append(current.strip())
            current = ""
    if current.strip():
        logical.append(current.strip())
    stages = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        args = " ".join(args.split())
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append({"from": words[0], "name": name, "instructions": []})
        elif stages:
            stages[-1]["instructions"].append((keyword, args))
    return stages


def apt_installed_packages(run_args):
    """The package names of every `apt-get install` in a RUN's shell command."""
    packages = []
    for command in re.split(r"&&|;|\|\|", run_args):
        words = shlex.split(command)
        if len(words) >= 2 and words[0] in ("apt-get", "apt") and "install" in words:
            after = words[words.index("install") + 1:]
            packages += [w for w in after if not w.startswith("-")]
    return packages


def linked_libraries(binary):
    """The resolved paths of the shared libraries `ldd` lists for `binary`."""
    output = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libraries = []
    for line in output.splitlines():
        line = line.strip()
        if "not found" in line:
            raise AssertionError(f"{binary}: ldd cannot resolve {line}")
        match = re.match(r"\S+ => (/\S+) \(", line) or re.match(r"(/\S+) \(", line)
        if match:
            libraries.append(match.group(1))
        # else linux-vdso.so.1: the kernel's, no file
    return libraries


def spellings(path):
    """`path` and its merged-/usr twins: dpkg knows each file under one of them."""
    names = []
    for p in (path, os.path.realpath(path)):
        names += [p, p[len("/usr"):] if p.startswith("/usr/") else "/usr" + p]
    return list(dict.fromkeys(names))


def owning_packages(paths):
    """{path: Debian package that ships it}, from one `dpkg -S` call."""
    candidates = sorted({c for p in paths for c in spellings(p)})
    # Exit status 1 when some spelling is unknown: expected, the others answer.
    output = subprocess.run(["dpkg", "-S"] + candidates, capture_output=True, text=True).stdout
    owner = {}
    for line in output.splitlines():
        # "libabsl20220623:amd64: /usr/lib/x86_64-linux-gnu/libabsl_base.so.20220623"
        packages, _, file = line.rpartition(": ")
        if packages and file:
            owner[file.strip()] = packages.split(",")[0].split(":")[0].strip()
    result = {}
    for path in paths:
        found = [owner[c] for c in spellings(path) if c in owner]
        if not found:
            raise AssertionError(f"no Debian package ships {path} (dpkg -S)")
        result[path] = found[0]
    return result


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.stages = parse_dockerfile(os.path.join(REPO, "Dockerfile"))
        cls.build = cls.stages[0]
        cls.runtime = cls.stages[-1]

    def instructions(self, stage, keyword):
        return [args for k, args in stage["instructions"] if k == keyword]

    def runtime_packages(self):
        packages = []
        for args in self.instructions(self.runtime, "RUN"):
            packages += apt_installed_packages(args)
        return packages

    def test_two_stages_on_debian_12(self):
        self.assertEqual(len(self.stages), 2)
        self.assertEqual(self.build["from"], "debian:12")
        self.assertEqual(self.build["name"], "build")
        self.assertEqual(self.runtime["from"], "debian:12-slim")

    def test_build_stage_uses_the_project_scripts(self):
        runs = " && ".join(self.instructions(self.build, "RUN"))
        self.assertIn("scripts/install-deps.sh", runs)
        self.assertIn("scripts/build.sh", runs)
        self.assertIn("-DCMAKE_BUILD_TYPE=Release", runs)
        self.assertIn("KEYBROKER_JOBS=2", runs)

    def test_runtime_packages_cover_every_linked_library(self):
        listed = set(self.runtime_packages())
        libraries = set()
        for binary in BINARIES.values():
            self.assertTrue(os.path.exists(binary), f"{binary} is not built")
            libraries.update(linked_libraries(binary))
        needed = {}
        for library, package in owning_packages(sorted(libraries)).items():
            needed.setdefault(package, set()).add(os.path.basename(library))
        missing = {p: sorted(libs) for p, libs in needed.items() if p not in listed}
        self.assertFalse(missing, "the runtime stage lacks packages for: " + json.dumps(missing))
        unneeded = listed - set(needed) - NOT_LINKED_BUT_NEEDED
        self.assertFalse(unneeded, f"packages no binary links: {sorted(unneeded)}")
        self.assertIn("ca-certificates", listed)

    def test_runtime_install_is_lean(self):
        installs = [a for a in self.instructions(self.runtime, "RUN") if "install" in a]
        self.assertTrue(installs)
        for args in installs:
            if "apt-get install" in args:
                self.assertIn("--no-install-recommends", args)
                self.assertIn("rm -rf /var/lib/apt/lists/*", args)

    def test_runs_as_numeric_non_root_user(self):
        users = self.instructions(self.runtime, "USER")
        self.assertTrue(users, "the runtime stage sets no USER")
        user = users[-1]
        self.assertRegex(user, r"^\d+(:\d+)?$", "USER must be numeric (runAsNonRoot can check it)")
        uid, _, gid = user.partition(":")
        self.assertNotEqual(int(uid), 0)
        if gid:
            self.assertNotEqual(int(gid), 0)
        keywords = [k for k, _ in self.runtime["instructions"]]
        last_user = len(keywords) - 1 - keywords[::-1].index("USER")
        self.assertNotIn("RUN", keywords[last_user:], "nothing may run after USER as another user")

    def test_runtime_copies_only_the_binaries(self):
        self.assertFalse(self.instructions(self.runtime, "ADD"))
        copied = []
        for args in self.instructions(self.runtime, "COPY"):
            words = args.split()
            flags = [w for w in words if w.startswith("--")]
            self.assertIn("--from=build", flags, f"COPY {args}: only from the build stage")
            sources = [w for w in words if not w.startswith("--")][:-1]
            copied += [os.path.basename(s) for s in sources]
        self.assertEqual(sorted(copied), ["keybroker", "keybrokerctl"])

    def test_ports_and_entrypoint(self):
        exposed = " ".join(self.instructions(self.runtime, "EXPOSE")).split()
        # The ports the Helm chart's default values give the container.
        with open(os.path.join(REPO, "helm", "keybroker", "values.yaml"), encoding="utf-8") as f:
            ports = re.search(r"^containerPorts:\n  grpc: (\d+).*\n  metrics: (\d+)", f.read(),
                              re.MULTILINE)
        self.assertIsNotNone(ports, "helm/keybroker/values.yaml has no containerPorts")
        self.assertEqual(sorted(exposed), sorted(ports.groups()))
        entrypoint = self.instructions(self.runtime, "ENTRYPOINT")
        self.assertEqual(len(entrypoint), 1)
        self.assertEqual(json.loads(entrypoint[0]), ["keybroker"])  # exec form, no shell
        cmd = json.loads(self.instructions(self.runtime, "CMD")[-1])
        self.assertEqual(cmd[0], "--config")

    def test_dockerignore_keeps_build_trees_out(self):
        with open(os.path.join(REPO, ".dockerignore"), encoding="utf-8") as f:
            ignored = {l.strip() for l in f if l.strip() and not l.startswith("#")}
        for entry in (".git", "build", "build-*"):
            self.assertIn(entry, ignored)


if __name__ == "__main__":
    unittest.main(verbosity=2)
