"""URLs of the legacy project."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone


def whoami(request: HttpRequest) -> JsonResponse:
    user = request.user.get_username() if request.user.is_authenticated else ""
    return JsonResponse({"user": user, "keys": sorted(request.session.keys())})


def remember_not(request: HttpRequest) -> JsonResponse:
    """A "remember me" unchecked: the session ends with the browser."""
    request.session.set_expiry(0)
    return whoami(request)


def expire_in_an_hour(request: HttpRequest) -> JsonResponse:
    """An explicit expiry date, stored by Django as an ISO string."""
    request.session.set_expiry(timezone.now() + dt.timedelta(hours=1))
    return whoami(request)


def ignore(request: HttpRequest) -> JsonResponse:
    """A view that never touches the session."""
    return JsonResponse({})


urlpatterns = [
    path("ignore/", ignore),
    path("login/", auth_views.LoginView.as_view()),
    path("private/", login_required(whoami)),
    path("whoami/", whoami),
    path("forget-me/", remember_not),
    path("expire-in-an-hour/", expire_in_an_hour),
]
