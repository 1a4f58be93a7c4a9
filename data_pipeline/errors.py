"""Errors caused by a user's input. They live in the bottom layer so every package can raise them;
the `emollm` command prints them without a traceback."""


class UserFacingError(Exception):
    """An error caused by the user's input (bad config key, missing file, ...)."""


class ConfigError(UserFacingError, ValueError):
    """A config key or value is invalid; the message names it."""


class MediaError(UserFacingError, ValueError):
    """A media file can't be read: missing, empty, truncated, not media, or zero length."""

    def __init__(self, path: object, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def validation_message(error) -> str:
    """A pydantic ValidationError as one line: `key.path: problem; ...` (`(top)` for the whole)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in error.errors())
