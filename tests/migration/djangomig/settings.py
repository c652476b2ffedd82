"""Settings of the legacy project: Django's signed_cookies sessions, auth, CSRF."""

from __future__ import annotations

SECRET_KEY = "djangomig-Q4n8Zr1Lx6Tc3Wv9Kb2Mh7Pd5Jf0Ys-test-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"]
LEGACY_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]
COOKIESESS_MIDDLEWARE = [
    "cookiesess.django.SessionMiddleware",  # the switch: one line
    *LEGACY_MIDDLEWARE[1:],
]
MIDDLEWARE = LEGACY_MIDDLEWARE
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
ROOT_URLCONF = "djangomig.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/private/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "OPTIONS": {
            "loaders": [
                (
                    "django.template.loaders.locmem.Loader",
                    {
                        "registration/login.html": (
                            '<form method="post">{% csrf_token %}{{ form.as_p }}</form>'
                        ),
                    },
                )
            ],
        },
    }
]
