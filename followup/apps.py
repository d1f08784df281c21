from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "Follow-up"

    def ready(self) -> None:
        # Registers the protocol files check (manage.py check names a bad file).
        from followup import checks  # noqa: F401
