from django.core.management.base import BaseCommand

from portal.core.context import RequestContext, bound, new_correlation_id
from portal.interfaces.services import requests_reconcile_due


class Command(BaseCommand):
    help = "Settle requests whose outcome is unknown (or executing past the lease) from the servers' interfaces."

    def handle(self, *args, **options):
        with bound(RequestContext(correlation_id=new_correlation_id(), actor_name="manage.py reconcile")):
            self.stdout.write(f"{requests_reconcile_due()} request(s) settled")
