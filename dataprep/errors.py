"""The errors that stop a run: a configuration the user must fix, or a stage over its error budget."""


class ConfigError(Exception):
    """A problem with the pipeline, the command line or the folders, found before any work runs.

    The CLI prints it as one line (no traceback) and exits with status 2.
    """


class StageOverBudget(Exception):
    """A stage quarantined more of its documents than the run's error budget allows: most likely a
    bug in the stage, which must not quietly quarantine a corpus. One line, exit status 4; the
    parts that quarantined nothing are kept, the others done again when the same command runs
    once the stage or the budget is changed."""


class TaskCrashed(Exception):
    """A part, or a global stage's one-process task, whose worker died on every attempt (killed
    for memory, or a crash in a C library on some input): one line naming the part and the file,
    or the task and the setting to change, exit status 5; the parts done are kept, so the same
    command resumes once the cause is fixed."""


class NoSpace(Exception):
    """The work folder's disk has less free space than a global stage's shuffles are about to
    write: one line naming the folder, what is free and what is needed, exit status 6, before the
    shuffle starts (not an OSError halfway through it); the parts done are kept, so the same
    command resumes once space is freed or --work-dir names a larger disk."""
