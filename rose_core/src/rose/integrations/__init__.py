"""ROSE 0.3 path ``rose.integrations``: trackers, which now come from plugins.

``rose.integrations.mlflow_tracker.MLflowTracker`` is the MLflow plugin's tracker and
``rose.integrations.clearml_tracker.ClearMLTracker`` the ClearML plugin's. New code asks
for a tracker by name: ``rose.tracker("mlflow", experiment_name=...)``.
"""
