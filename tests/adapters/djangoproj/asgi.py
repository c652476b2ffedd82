"""ASGI entry point of the test project (served by uvicorn in the tests)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")
application = get_asgi_application()
