"""Old import path of `catalyst mock-groq`; see catalyst.local_server.cli."""

from catalyst.local_server.cli import add_arguments, is_loopback, run, settings_from_args

__all__ = ["add_arguments", "is_loopback", "run", "settings_from_args"]
