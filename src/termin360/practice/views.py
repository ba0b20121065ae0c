"""Web pages of the practice calendar. Pages read through ``selectors``; every change
goes through the JSON API (``/api/v1/``) from the page's script."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok", "role": "practice"})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "practice/home.html", {})
