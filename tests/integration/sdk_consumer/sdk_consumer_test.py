#!/usr/bin/python3
"""The installed client SDK, consumed the way another project would.

Installs this build tree's SDK (`cmake --install --component sdk`) into a
temporary prefix and checks that each installed header compiles on its own.
Then builds examples/sdk_consumer against that prefix only, twice: with CMake
(find_package(keybroker_sdk CONFIG)) and with a bare compiler command from
`pkg-config --cflags --libs keybroker-sdk`. Starts the
real keybroker on a loopback port and runs both programs against it; each
must print OK. For each optional library given with --components (kafka,
fhir) it also builds examples/sdk_consumer/COMPONENT_check.cc both ways
(find_package COMPONENTS, pkg-config keybroker-sdk-COMPONENT) and runs it
without a broker; it must print OK too. The broker must exit cleanly when
stopped. In a sanitizer build (--sanitize, the build's KEYBROKER_SANITIZE) the
consumers are built with the same sanitizers, as the SDK library they link
needs their runtime. Removes everything it made; exits non-zero on any failure.

Usage: sdk_consumer_test.py --build-dir DIR --source-dir DIR --keybroker BIN
           --cmake CMAKE --generator NAME --cxx COMPILER --pkg-config PKG_CONFIG
           [--components COMPONENT...] [--sanitize SANITIZERS]
"""
import argparse
import glob
import json
import os
import queue
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time

STEP_TIMEOUT = 120  # seconds; a whole consumer build takes far less


def run(step, command, env=None, stdin=""):
    """Runs `command`; on failure prints its output and raises."""
    started = time.monotonic()
    result = subprocess.run(command, env=env, input=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=STEP_TIMEOUT)
    print(f"[{time.monotonic() - started:5.1f}s] {step}", flush=True)
    if result.returncode != 0:
        print(result.stdout)
        raise RuntimeError(f"{step} failed (exit {result.returncode}): {shlex.join(command)}")
    return result.stdout


class Broker:
    """keybroker on 127.0.0.1:0 with a fresh data directory."""

    def __init__(self, binary, data_dir):
        self.process = subprocess.Popen(
            [binary, "--listen", "127.0.0.1:0", "--data-dir", data_dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True)
        self.lines = queue.Queue()
        # Keeps reading so that the broker never blocks on a full pipe.
        threading.Thread(target=self._read, daemon=True).start()
        self.address = self._wait_for_address(timeout=20)

    def _read(self):
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_address(self, timeout):
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            seen.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "listening":
                return event["address"]
        raise RuntimeError("keybroker did not start listening:\n" + "".join(seen))

    def stop(self):
        """Stops the broker; returns its exit status and what it printed."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        lines = []
        while True:
            try:
                line = self.lines.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            lines.append(line)
        return self.process.returncode, "".join(lines)


def sanitizer_flags(args):
    """Compiler and linker flags matching the build's sanitizers ([] if none)."""
    if not args.sanitize:
        return []
    return [f"-fsanitize={args.sanitize}", "-fno-sanitize-recover=all"]


def install(args, prefix):
    run("install the SDK", [args.cmake, "--install", args.build_dir, "--prefix", prefix,
                            "--component", "sdk"])
    pc_files = glob.glob(os.path.join(prefix, "**", "keybroker-sdk.pc"), recursive=True)
    config = glob.glob(os.path.join(prefix, "**", "keybroker_sdkConfig.cmake"), recursive=True)
    if len(pc_files) != 1 or len(config) != 1:
        raise RuntimeError(f"installed tree lacks keybroker-sdk.pc or keybroker_sdkConfig.cmake: "
                           f"{pc_files} {config}")
    pc_dir, cmake_dir = os.path.dirname(pc_files[0]), os.path.dirname(config[0])
    for component in args.components:
        for path in (os.path.join(pc_dir, f"keybroker-sdk-{component}.pc"),
                     os.path.join(cmake_dir, f"keybroker_sdk_{component}Targets.cmake")):
            if not os.path.isfile(path):
                raise RuntimeError(f"installed tree lacks {os.path.relpath(path, prefix)}")
    return pc_dir


def build_with_cmake(args, prefix, work):
    source = os.path.join(args.source_dir, "examples", "sdk_consumer")
    build = os.path.join(work, "cmake-build")
    # Only the prefix may supply the SDK: nothing from this tree's cache.
    env = {k: v for k, v in os.environ.items() if k not in ("CMAKE_PREFIX_PATH", "CPATH")}
    run("configure the consumer (find_package)",
        [args.cmake, "-S", source, "-B", build, "-G", args.generator,
         f"-DCMAKE_CXX_COMPILER={args.cxx}", f"-DCMAKE_PREFIX_PATH={prefix}",
         f"-DKEYBROKER_SDK_COMPONENTS={';'.join(args.components)}",
         f"-DCMAKE_CXX_FLAGS={' '.join(sanitizer_flags(args))}",
         f"-DCMAKE_EXE_LINKER_FLAGS={' '.join(sanitizer_flags(args))}"], env=env)
    run("build the consumer (find_package)", [args.cmake, "--build", build], env=env)
    checks = {component: os.path.join(build, f"{component}_check")
              for component in args.components}
    return os.path.join(build, "sdk_consumer"), checks


def build_with_pkg_config(args, pc_dir, work):
    env = dict(os.environ, PKG_CONFIG_PATH=pc_dir)
    flags = run("pkg-config --cflags --libs keybroker-sdk",
                [args.pkg_config, "--cflags", "--libs", "keybroker-sdk"], env=env)
    binary = os.path.join(work, "sdk_consumer_pkg_config")
    main = os.path.join(args.source_dir, "examples", "sdk_consumer", "main.cc")
    run("build the consumer (pkg-config)",
        [args.cxx, "-std=c++17", main, "-o", binary] + sanitizer_flags(args) + shlex.split(flags),
        env=env)
    checks = {}
    for component in args.components:
        module = f"keybroker-sdk-{component}"
        flags = run(f"pkg-config --cflags --libs {module}",
                    [args.pkg_config, "--cflags", "--libs", module], env=env)
        checks[component] = os.path.join(work, f"{component}_check_pkg_config")
        source = os.path.join(args.source_dir, "examples", "sdk_consumer", f"{component}_check.cc")
        run(f"build {component}_check (pkg-config)",
            [args.cxx, "-std=c++17", source, "-o", checks[component]] + sanitizer_flags(args)
            + shlex.split(flags), env=env)
    return binary, checks


def compile_each_header(args, prefix, pc_dir):
    """Every installed header compiles on its own with the pkg-config flags (of
    keybroker-sdk and of the optional libraries)."""
    env = dict(os.environ, PKG_CONFIG_PATH=pc_dir)
    modules = ["keybroker-sdk"] + [f"keybroker-sdk-{component}" for component in args.components]
    flags = shlex.split(run(f"pkg-config --cflags {' '.join(modules)}",
                            [args.pkg_config, "--cflags"] + modules, env=env))
    include_dir = os.path.join(prefix, "include")
    headers = sorted(glob.glob(os.path.join(include_dir, "keybroker", "**", "*.h"), recursive=True))
    if not headers:
        raise RuntimeError("no headers installed")
    for header in headers:
        name = os.path.relpath(header, include_dir)
        run(f"compile {name} alone",
            [args.cxx, "-std=c++17", "-fsyntax-only", "-x", "c++", "-"] + flags,
            env=env, stdin=f'#include "{name}"\n')


def run_consumer(name, binary, address):
    output = run(f"run the consumer ({name}) against {address}", [binary, address])
    if output.strip() != "OK":
        raise RuntimeError(f"consumer ({name}) printed {output!r}, not OK")


def run_check(name, binary):
    output = run(f"run {name}", [binary])
    if output.strip() != "OK":
        raise RuntimeError(f"{name} printed {output!r}, not OK")


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--build-dir", "--source-dir", "--keybroker", "--cmake", "--generator", "--cxx",
                 "--pkg-config"):
        parser.add_argument(flag, required=True)
    parser.add_argument("--components", nargs="*", default=[], choices=["kafka", "fhir"])
    parser.add_argument("--sanitize", default="")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="keybroker-sdk-consumer-")
    broker = None
    try:
        prefix = os.path.join(work, "prefix")
        pc_dir = install(args, prefix)
        compile_each_header(args, prefix, pc_dir)
        cmake_consumer, cmake_checks = build_with_cmake(args, prefix, work)
        pc_consumer, pc_checks = build_with_pkg_config(args, pc_dir, work)
        for component in args.components:
            run_check(f"{component}_check (find_package)", cmake_checks[component])
            run_check(f"{component}_check (pkg-config)", pc_checks[component])
        broker = Broker(args.keybroker, os.path.join(work, "data"))
        for name, binary in (("find_package", cmake_consumer), ("pkg-config", pc_consumer)):
            run_consumer(name, binary, broker.address)
        code, output = broker.stop()
        broker = None
        if code != 0:
            raise RuntimeError(f"keybroker exited {code} on SIGTERM:\n{output}")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    finally:
        if broker is not None:
            broker.stop()
        shutil.rmtree(work, ignore_errors=True)
    print("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
