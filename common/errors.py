"""The one user-error base class: a mistake the user can fix (a bad flag or setting, a missing
file, a wrong model name).

Raise a `UserError` (or a subclass) with a message that says what to fix; the ``icegrt`` entry
point (`cli.main.main`) prints it and exits with `EXIT_USAGE`, in that one place. Commands do not
catch it themselves. It is a ValueError, so code that validates with ``except ValueError``
keeps working.
"""

from __future__ import annotations

EXIT_USAGE = 2
"""Exit status of a command refused for a user error (nothing was run or written)."""


class UserError(ValueError):
    """A mistake the user can fix; its message says what to fix."""
