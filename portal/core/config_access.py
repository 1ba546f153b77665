"""The SCP client's settings as keyword arguments (for code that builds its own client, e.g. benchmarks)."""

from django.conf import settings


def scp_settings() -> dict:
    config = settings.CONFIG
    return {
        "virtualserver_url": str(config.scp_virtualserver_url),
        "vpc_url": str(config.scp_vpc_url),
        "access_key": config.scp_access_key,
        "secret_key": config.scp_secret_key.get_secret_value(),
        "virtualserver_version": config.scp_virtualserver_api_version,
        "vpc_version": config.scp_vpc_api_version,
        "accept_language": config.scp_accept_language,
        "connect_timeout": config.scp_connect_timeout,
        "read_timeout": config.scp_read_timeout,
    }
