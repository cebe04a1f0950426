"""`python -m bench`: run every benchmark module here (each `bench/<name>.py` with a `main()`),
one after the other with its default arguments; `python -m bench NAME...` runs only those.
Each writes bench/results/<name>.json and prints its own table."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    wanted = sys.argv[1:]
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))
    for name in wanted or names:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"=== bench.{name}", flush=True)
        sys.argv = [f"bench.{name}"]
        module.main()


if __name__ == "__main__":
    main()
