"""The one error type that stops a run: a configuration the user must fix."""


class ConfigError(Exception):
    """A problem with the pipeline, the command line or the folders, found before any work runs.

    The CLI prints it as one line (no traceback) and exits with status 2.
    """
