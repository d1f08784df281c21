"""Mounted at /bench/anchor/ by config/urls.py only when VIGIL_BENCH_ANCHOR=1."""

from django.urls import path

from bench.anchor.views import AnchorCheckInApi

urlpatterns = [
    path("check-ins/", AnchorCheckInApi.as_view(), name="bench-anchor-check-ins"),
]
