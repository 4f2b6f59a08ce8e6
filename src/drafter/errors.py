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


class EnrichError(Exception):
    """A lookup (Semantic Scholar, the arXiv LaTeX source) that failed; its message is one short clause for the
    warning line. Not a DrafterError: a failed lookup never fails the draft."""


class NetworkError(ModelError):
    """A download failed for a reason on the network's side (no connection, timeout, server error). Exit 1."""


# What to do about an OSError, by errno: a full disk is not a permissions problem.
_OS_HINTS = {
    "ENOSPC": ("no space left on the device", "Free some disk space, or write elsewhere with -o."),
    "EDQUOT": ("disk quota exceeded", "Free some space within your quota, or write elsewhere with -o."),
    "EROFS": ("read-only file system", "Write somewhere writable with -o (and DRAFTER_CACHE_DIR for the cache)."),
    "EACCES": ("permission denied", "Check the path and its permissions."),
    "EPERM": ("operation not permitted", "Check the path and its permissions."),
    "ENOENT": ("no such file or directory", "Check the path."),
    "ENOTDIR": ("a part of the path is not a folder", "Check the path."),
    "EISDIR": ("is a directory", "Pass a file, not a folder."),
    "ENAMETOOLONG": ("file name too long", "Use a shorter name with -o."),
    "EMFILE": ("too many open files", "Lower --jobs, or raise the limit (ulimit -n)."),
    "ENFILE": ("too many open files on the system", "Lower --jobs, or close other programs."),
    "EIO": ("input/output error", "The disk or the network share failed; check it, or write elsewhere with -o."),
}


def os_error(exc: OSError) -> InputError:
    """An OSError as one line that says what to do about that particular failure."""
    import errno
    import os

    name = errno.errorcode.get(exc.errno or 0, "")
    what, hint = _OS_HINTS.get(name, (exc.strerror or str(exc), "Check the path and its permissions."))
    where = exc.filename if exc.filename is not None else ""
    where = os.fsdecode(where) if isinstance(where, bytes) else str(where)
    # Shown as text: a file name that is not UTF-8 keeps its undecodable bytes as \udcXX escapes.
    where = where.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return InputError(f"{where}: {what}" if where else what, hint)
