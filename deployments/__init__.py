"""Prefect deployments of the flows: `python -m deployments serve`, and prefect.yaml for `prefect deploy --all`."""

import flows  # noqa: F401  (first: it sets Prefect's environment before Prefect reads it)
