from unit.providers.kit import client, service

__all__ = ["client", "service"]
