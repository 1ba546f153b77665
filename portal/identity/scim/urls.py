from django.urls import path

from . import views

urlpatterns = [
    path("Users", views.users, name="scim_users"),
    path("Users/<str:pk>", views.user, name="scim_user"),
    path("Groups", views.groups, name="scim_groups"),
    path("Groups/<str:pk>", views.group, name="scim_group"),
    path("ServiceProviderConfig", views.service_provider_config, name="scim_service_provider_config"),
    path("ResourceTypes", views.resource_types, name="scim_resource_types"),
]
