"""Errors the builders raise; each message says what to fix."""


class BuildError(Exception):
    """A manifest cannot be built from the given spec."""


class UnresolvedModelError(BuildError):
    """The model to serve is not known yet (e.g. a RetrainJob promoted nothing)."""
