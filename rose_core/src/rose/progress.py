"""Deprecated alias of :mod:`rose.builtin.progress` (kept for ROSE 0.4; removed in 0.6).

Use ``rose.tracker("progress", ...)`` or ``from rose.builtin.progress import ProgressTracker``.
"""

from __future__ import annotations

import sys
import warnings

from rose.builtin import progress as _target

warnings.warn(
    "rose.progress moved to rose.builtin.progress; use rose.tracker('progress', ...) or "
    "`from rose.builtin.progress import ProgressTracker`",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _target
