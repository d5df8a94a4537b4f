from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "oddslab.web"
    label = "web"
    verbose_name = "Player pages"
