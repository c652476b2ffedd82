"""Settings of the test project: auth, contenttypes, messages, cookiesess sessions."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

DATA_DIR = Path(os.environ.get("DJANGOPROJ_DIR") or tempfile.mkdtemp(prefix="djangoproj-"))

# A high-entropy test secret: Keyring.from_secrets refuses weak ones.
SECRET_KEY = "djangoproj-5Yq0b7TnW2kR9xVfL3cJ8sHd6MpA1uZeG4oQiN-test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.messages",
    "django.contrib.sessions",  # only for its clearsessions command
]
MIDDLEWARE = [
    "cookiesess.django.SessionMiddleware",  # instead of django.contrib.sessions'
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "djangoproj.urls"
DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(DATA_DIR / "db.sqlite3")}
}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only

# Django's test client, auth.login outside a request and clearsessions use this.
SESSION_ENGINE = "cookiesess.django"
COOKIESESS = {"keys": "t1:M08xMqzGRaRwNBrYCFAP0KzVLX3o3BR-F8KyVde4rTQ"}
CSRF_USE_SESSIONS = True
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/private/"
LOGOUT_REDIRECT_URL = "/whoami/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "loaders": [
                (
                    "django.template.loaders.locmem.Loader",
                    {
                        "registration/login.html": (
                            '<form method="post">{% csrf_token %}{{ form.as_p }}'
                            "<button>Log in</button></form>"
                        ),
                        "form.html": (
                            '<form method="post">{% csrf_token %}<button>Send</button></form>'
                        ),
                    },
                )
            ],
        },
    }
]
