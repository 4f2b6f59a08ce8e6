"""drafter's own exceptions: each carries a one-line message, a hint (what to do) and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_MODEL = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE (sysexits.h): a bug in drafter, not the model's, the network's or the input's
EXIT_INTERRUPTED = 130


class DrafterError(Exception):
    """Base of every error drafter reports to the user without a traceback."""

    exit_code: int = EXIT_INPUT

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and the hint joined into the single line the CLI prints."""
        text = self.message.rstrip(". ")
        return f"{text}. {self.hint}" if self.hint else f"{text}."


class InputError(DrafterError):
    """Bad input or usage: missing file, not a PDF, encrypted, no text layer, bad flag. Exit 2."""

    exit_code = EXIT_INPUT


class PdfError(InputError):
    """The PDF cannot be read or holds too little text to draft from."""


class ConfigError(InputError):
    """The configuration (file, environment or flags) is invalid."""


class PromptError(InputError):
    """A prompt template (packaged or user override) is invalid."""


class DraftFormatError(InputError):
    """A draft file is not one drafter wrote, or its section markers are broken."""


class ModelError(DrafterError):
    """The model or the network failed after retries. Exit 1."""

    exit_code = EXIT_MODEL


class NetworkError(ModelError):
    """A download failed for a reason on the network's side (no connection, timeout, server error). Exit 1."""
