"""PyInstaller entry script for the `csr-console` bundle: the same `console.app:main` as the
installed console script, called from a file because PyInstaller needs a script, not an entry point."""

from __future__ import annotations

import sys

from console.app import main

if __name__ == "__main__":
    sys.exit(main())
