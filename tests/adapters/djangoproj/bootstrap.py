"""Create the test database and the user ``alice``: ``python -m djangoproj.bootstrap``."""

from __future__ import annotations

import os

import django

USERNAME = "alice"
PASSWORD = "correct horse battery staple"


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangoproj.settings")
    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    get_user_model().objects.create_user(USERNAME, password=PASSWORD)


if __name__ == "__main__":
    main()
