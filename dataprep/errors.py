"""The errors that stop a run: a configuration the user must fix, or a stage over its error budget."""


class ConfigError(Exception):
    """A problem with the pipeline, the command line or the folders, found before any work runs.

    The CLI prints it as one line (no traceback) and exits with status 2.
    """


class StageOverBudget(Exception):
    """A stage quarantined more of its documents than the run's error budget allows: most likely a
    bug in the stage, which must not quietly quarantine a corpus. One line, exit status 4; the
    parts done are kept, so the same command resumes once the stage or the budget is changed."""


class TaskCrashed(Exception):
    """A part, or a global stage's one-process task, whose worker died on every attempt (killed
    for memory, or a crash in a C library on some input): one line naming the part and the file,
    or the task and the setting to change, exit status 5; the parts done are kept, so the same
    command resumes once the cause is fixed."""
