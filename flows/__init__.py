"""Prefect flows, each runnable as `python -m flows.<name>`."""

import os

# Prefect's telemetry fails loudly offline and is not wanted wherever this project starts Prefect.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Without PREFECT_API_URL each command starts a temporary local API; on a busy two-core machine its
# first start (a fresh database) can take longer than Prefect's default 20 s.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
