"""``python -m sklearn_vision``: the command line.

:func:`main` runs it in-process: ``main(["train", "images/", "--out", "model.keras"])``
returns the exit status.
"""

import sys

from ._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
