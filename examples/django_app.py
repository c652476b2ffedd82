"""Django with cookiesess in one file: login, a protected page, messages, logout.

Run:  python examples/django_app.py runserver       # then open http://127.0.0.1:8000/

Any manage.py command works the same way. The database (SQLite, in the temp
directory, or $DJANGO_APP_DB) is migrated and a user alice / alice-password is
created at start. Keys come from COOKIESESS_KEYS_FILE / COOKIESESS_KEYS; without
them a throwaway development key is generated (with a warning).
"""

from __future__ import annotations

import os
import sys
import tempfile

import django
from django.conf import settings

from cookiesess import Keyring

USER, PASSWORD = "alice", "alice-password"


def dev_keys() -> None:
    """Put a throwaway key in the environment (inherited by runserver's reloader)."""
    if os.environ.get("COOKIESESS_KEYS_FILE") or os.environ.get("COOKIESESS_KEYS"):
        return
    print(
        "WARNING: no COOKIESESS_KEYS_FILE or COOKIESESS_KEYS: using a throwaway development "
        "key; sessions end on restart. Generate a real key with `cookiesess keygen`.",
        file=sys.stderr,
    )
    os.environ["COOKIESESS_KEYS"] = f"dev:{Keyring.generate('dev').primary.secret_b64()}"


dev_keys()
settings.configure(
    DEBUG=True,
    # Unused by cookiesess (keys come from COOKIESESS_KEYS); Django requires one.
    SECRET_KEY=Keyring.generate().primary.secret_b64(),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.messages",
    ],
    # Django's test client (login, force_login, client.session) builds sessions with this.
    SESSION_ENGINE="cookiesess.django",
    MIDDLEWARE=[
        "cookiesess.django.SessionMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "django.contrib.messages.middleware.MessageMiddleware",
    ],
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("DJANGO_APP_DB")
            or os.path.join(tempfile.gettempdir(), "cookiesess-django-example.sqlite3"),
        }
    },
    DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    CSRF_USE_SESSIONS=True,
    MESSAGE_STORAGE="django.contrib.messages.storage.session.SessionStorage",
    LOGIN_URL="/login/",
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "OPTIONS": {
                "context_processors": ["django.contrib.messages.context_processors.messages"],
                "loaders": [
                    (
                        "django.template.loaders.locmem.Loader",
                        {
                            "page.html": (
                                "{% for m in messages %}<p>{{ m }}</p>{% endfor %}"
                                "<p>{{ text }}</p>"
                                '<form method="post" action="{{ action }}">{% csrf_token %}'
                                "{{ form.as_p }}<button>{{ button }}</button></form>"
                            )
                        },
                    )
                ],
            },
        }
    ],
)
django.setup()

from django.contrib import messages  # noqa: E402
from django.contrib.auth import get_user_model, login, logout  # noqa: E402
from django.contrib.auth.decorators import login_required  # noqa: E402
from django.contrib.auth.forms import AuthenticationForm  # noqa: E402
from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.shortcuts import redirect, render  # noqa: E402
from django.urls import path  # noqa: E402


def login_view(request: HttpRequest) -> HttpResponse:
    form = AuthenticationForm(request, data=request.POST or None)
    if request.method == "POST" and form.is_valid():
        login(request, form.get_user())  # cycles the session id
        messages.success(request, "logged in")
        return redirect("/")
    context = {"form": form, "action": "/login/", "button": "Log in", "text": "Please log in"}
    return render(request, "page.html", context)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    visits = request.session["visits"] = request.session.get("visits", 0) + 1
    context = {
        "text": f"{request.user} ({visits} visits)",
        "action": "/logout/",
        "button": "Log out",
    }
    return render(request, "page.html", context)


def logout_view(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        logout(request)  # flushes the session: its cookies are expired
    return redirect("/login/")


urlpatterns = [
    path("", home),
    path("login/", login_view),
    path("logout/", logout_view),
]


def prepare() -> None:
    """Migrate the database and create the demo user."""
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    users = get_user_model().objects
    if not users.filter(username=USER).exists():
        users.create_user(USER, password=PASSWORD)


if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    prepare()
    execute_from_command_line(sys.argv)
