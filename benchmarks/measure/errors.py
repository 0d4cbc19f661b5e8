"""The one exception of a bench run: a stage that could not be verified or measured."""


class StageFailed(Exception):
    """A stage could not be verified or measured; the message says what went wrong."""
