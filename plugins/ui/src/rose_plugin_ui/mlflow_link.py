"""The MLflow run of a campaign, found read-only in the runs folder's ``mlflow.db``.

The MLflow tracker (rose-plugin-mlflow) keeps its default store in the runs folder
(``sqlite:///<runs>/mlflow.db``) and tags each campaign's run with ``rose.run_dir``. This
module opens that database read-only (no MLflow import, nothing written) and returns the
run's address in an MLflow UI (``mlflow ui --backend-store-uri sqlite:///...``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from typing import Any
from urllib.parse import quote

__all__ = ["STORE_NAME", "mlflow_link"]

logger = logging.getLogger(__name__)

#: the file name of the MLflow tracker's default store in a runs folder
STORE_NAME = "mlflow.db"


def mlflow_link(root: str, run_dir: str, server: str) -> dict[str, Any] | None:
    """``{"url", "run_id", "experiment_id", "serve"}`` for the campaign ``run_dir``, else None."""
    store = os.path.join(root, STORE_NAME)
    if not os.path.isfile(store):
        return None
    try:
        connection = sqlite3.connect(f"file:{quote(store)}?mode=ro", uri=True, timeout=1.0)
        try:
            row = connection.execute(
                "SELECT runs.run_uuid, runs.experiment_id FROM runs JOIN tags ON tags.run_uuid = runs.run_uuid "
                "WHERE tags.key = 'rose.run_dir' AND tags.value = ? ORDER BY runs.start_time DESC LIMIT 1",
                (run_dir,),
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        logger.info("could not read %s for the MLflow link: %s", store, exc)
        return None
    if row is None:
        return None
    run_id, experiment = row
    return {"url": f"{server.rstrip('/')}/#/experiments/{experiment}/runs/{run_id}", "run_id": run_id,
            "experiment_id": str(experiment), "serve": f"mlflow ui --backend-store-uri sqlite:///{store}"}
