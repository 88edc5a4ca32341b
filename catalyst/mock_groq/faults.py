"""Old import path; see catalyst.local_server.faults."""

from catalyst.local_server.faults import DropConnection, FaultInjector, RateLimiter

__all__ = ["DropConnection", "FaultInjector", "RateLimiter"]
