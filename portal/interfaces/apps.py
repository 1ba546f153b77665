from django.apps import AppConfig


class InterfacesConfig(AppConfig):
    name = "portal.interfaces"
    label = "interfaces"
