"""Runs the emulator: `python3 -m keyvault_emulator ...` (with tests/fakes on PYTHONPATH)
or `python3 tests/fakes/keyvault_emulator ...` (the directory itself)."""
import os
import sys

if __package__:
    from .cli import main
else:
    # Run as a directory: import the package from its parent, not its files as top-level modules.
    _package_dir = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _package_dir]
    sys.path.insert(0, os.path.dirname(_package_dir))
    from keyvault_emulator.cli import main

sys.exit(main())
