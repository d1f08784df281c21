"""URL routes of one area (see config/urls.py)."""

urlpatterns: list = []
