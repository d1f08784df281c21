from django.apps import AppConfig


class BackendConfig(AppConfig):
    name = "backend"
    verbose_name = "Clinic core"

    def ready(self) -> None:
        from backend.token_auth import auth_cache_connect

        auth_cache_connect()
