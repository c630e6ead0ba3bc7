"""``python -m lambda_wheels_cdk`` runs the ``lambda-wheels`` CLI."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
