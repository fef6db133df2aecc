"""Prefect deployments of the flows: `python -m deployments serve`, and prefect.yaml for `prefect deploy --all`."""

import os

# Prefect's telemetry fails loudly offline and is not wanted wherever this project starts Prefect.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
