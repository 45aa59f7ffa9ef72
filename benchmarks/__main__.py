from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks


def main(argv: list[str]) -> int:
    names = sorted(
        m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_")
    )
    wanted = [n.replace("-", "_") for n in argv]
    wanted = [n if n.startswith("bench_") else f"bench_{n}" for n in wanted]
    for name in wanted or names:
        if name not in names:
            print(f"unknown benchmark {name!r}; have: {', '.join(names)}", file=sys.stderr)
            return 2
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        importlib.import_module(f"benchmarks.{name}").main()
        print(f"   ({time.perf_counter() - t0:.1f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
