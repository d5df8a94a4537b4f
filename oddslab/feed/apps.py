from django.apps import AppConfig


class FeedConfig(AppConfig):
    name = "oddslab.feed"
    label = "feed"
    verbose_name = "Simulated live feed"
