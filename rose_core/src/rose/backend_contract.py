"""Deprecated alias of :mod:`rose.testing.backend` (kept for ROSE 0.4; removed in 0.6).

Use ``from rose.testing import BackendContract`` (helpers: ``rose.testing.backend``).
"""

from __future__ import annotations

import sys
import warnings

from rose.testing import backend as _target

warnings.warn(
    "rose.backend_contract moved to rose.testing.backend; use `from rose.testing import BackendContract`",
    DeprecationWarning,
    stacklevel=2,
)
sys.modules[__name__] = _target
