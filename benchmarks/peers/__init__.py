"""Benchmark scenario 10: ROSE against its peers (Dask, Ray, Parsl, concurrent.futures).

The peers run from ``.venv-bench`` (``make bench-env``), ROSE from the project's ``.venv``;
``benchmarks/run.py --only 10`` runs both sides in one command (see ``scenario.py``).
"""
