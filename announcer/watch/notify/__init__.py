"""Alerts by e-mail and webhook (see ``service``): episodes, wording, channels, couriers."""
