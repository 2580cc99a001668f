"""The errors a user can cause: each message names the problem and, where there is one, the remedy."""


class ConfigError(ValueError):
    """A configuration or command-line problem, with a message meant for the person who wrote it."""


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be resumed from: unreadable, from another run, or from older code."""
