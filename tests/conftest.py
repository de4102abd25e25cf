"""Core test fixtures (helpers live in core_support.py)."""

from core_support import fake_site  # noqa: F401 - re-exported fixture
