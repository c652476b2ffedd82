"""URLs of the test project."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from djangoproj import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("private/", views.private, name="private"),
    path("whoami/", views.whoami, name="whoami"),
    path("flash/", views.flash, name="flash"),
    path("messages/", views.show_messages, name="messages"),
    path("form/", views.form, name="form"),
    path("async/", views.async_view, name="async"),
]
