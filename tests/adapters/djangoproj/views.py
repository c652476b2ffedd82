"""Views of the test project: each reports what the session holds as JSON."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render


def _report(request: HttpRequest) -> JsonResponse:
    return JsonResponse(
        {
            "user": request.user.get_username() if request.user.is_authenticated else "",
            "session_id": request.session.id,
            "keys": sorted(request.session.keys()),
        }
    )


def whoami(request: HttpRequest) -> JsonResponse:
    return _report(request)


@login_required
def private(request: HttpRequest) -> JsonResponse:
    return _report(request)


def flash(request: HttpRequest) -> HttpResponse:
    messages.success(request, "saved")
    messages.warning(request, "careful")
    return redirect("messages")


def show_messages(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"messages": [str(m) for m in messages.get_messages(request)]})


def form(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return HttpResponse("accepted")
    return render(request, "form.html")


async def async_view(request: HttpRequest) -> JsonResponse:
    count = await request.session.aget("count", 0) + 1
    await request.session.aset("count", count)
    return JsonResponse({"count": count, "session_id": request.session.id})
