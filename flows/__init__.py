"""Prefect flows, each runnable as `python -m flows.<name>`."""

import os

# Prefect's telemetry fails loudly offline and is not wanted wherever this project starts Prefect.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
