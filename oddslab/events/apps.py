from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "oddslab.events"
    label = "events"
    verbose_name = "Events, markets and prices"
