"""One rule names metrics everywhere: plot axes (``rose show``, MLflow), the progress view."""

from __future__ import annotations

from rose.builtin.progress import short_metric_name as progress_name
from rose.plotting import metric_label, short_metric_name


def test_metric_labels_join_both_rules():
    """ROSE's metrics by name, units from the name or given (also tested as rose_plugin_mlflow's metric_label),
    and a name ending in an abbreviation (the progress view's rule) is that abbreviation on axes too."""
    assert metric_label("r2_score") == "R²"
    assert metric_label("wall_time_seconds") == "wall time (s)"
    assert metric_label("holdout_auc") == "AUC"
    assert metric_label("holdout_nll", "nats") == "NLL (nats)"
    assert metric_label(None) == "metric"


def test_the_progress_view_uses_the_same_rule():
    assert progress_name is short_metric_name
    assert short_metric_name("root_mean_squared_error_rmse") == "RMSE"
    assert short_metric_name("model_accuracy") == "model_accuracy"
