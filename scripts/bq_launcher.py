"""Starts bqemulator (PyPI) offline: its DuckDB spatial-extension load is a download, which a
machine without the internet cannot make, and it exits on the failure. The load is made a
no-op here (GEOGRAPHY is then unsupported); everything else is the emulator as published."""
import sys

from bqemulator.storage import engine

engine.DuckDBEngine._load_spatial = lambda self: None

from bqemulator.cli import main  # noqa: E402

sys.exit(main())
