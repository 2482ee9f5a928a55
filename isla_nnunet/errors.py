"""User-facing errors.

Every problem a user can fix (bad input, missing environment, wrong dataset) is raised as
:class:`ISLAError` with a one-line message saying what is wrong and what to do. The CLI prints that
line and exits with status 2 instead of showing a traceback.
"""


class ISLAError(Exception):
    """A problem the user can fix; ``str(err)`` is a single line naming the problem and the fix."""
