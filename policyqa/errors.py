"""Turn the errors a user can fix into one readable line instead of a traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable

from indexer.manifest import IndexMismatchError
from indexer.store import IndexLockedError, IndexNotFoundError

USER_ERRORS: tuple[type[Exception], ...] = (IndexMismatchError, IndexLockedError, IndexNotFoundError)


def guarded(run: Callable[[], int], *more: type[Exception]) -> int:
    """`more`: further errors the user can fix, e.g. the Ray engine's (only a --ray run knows them)."""
    try:
        return run()
    except (*USER_ERRORS, *more) as error:
        print(f"policyqa: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("policyqa: interrupted; the previous index is untouched", file=sys.stderr)
        return 130
