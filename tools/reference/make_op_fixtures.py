"""Writes every op fixture: runs each module in tools/reference/ops/ (each defines `main()`).

Usage: <venv>/bin/python tools/reference/make_op_fixtures.py [family ...]
"""
import importlib
import os
import pkgutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import ops  # noqa: E402

wanted = set(sys.argv[1:])
for info in sorted(pkgutil.iter_modules(ops.__path__), key=lambda m: m.name):
    if wanted and info.name not in wanted:
        continue
    importlib.import_module(f"ops.{info.name}").main()
