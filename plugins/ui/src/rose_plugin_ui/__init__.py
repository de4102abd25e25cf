"""rose-plugin-ui: ``rose ui``, a live web view of the campaigns of a runs folder.

The entry point (:mod:`rose_plugin_ui.plugin`) only declares the command; the web stack
(Starlette, uvicorn) is imported when ``rose ui`` runs.
"""

from __future__ import annotations

__all__: list[str] = []
