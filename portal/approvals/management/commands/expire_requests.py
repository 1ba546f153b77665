from django.core.management.base import BaseCommand

from portal.core.context import RequestContext, bound, new_correlation_id
from portal.interfaces.services.decisions import requests_expire_due


class Command(BaseCommand):
    help = "Expire pending requests nobody decided in time."

    def handle(self, *args, **options):
        with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="manage.py expire_requests")):
            self.stdout.write(f"{requests_expire_due()} request(s) expired")
