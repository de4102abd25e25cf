"""Entry point ``optuna`` (placeholder, filled below)."""
