"""Run every bench/NAME.py and collect its JSON in one folder.

python bench/run_all.py --quick --out-dir /tmp/bench      # smoke run of every benchmark
python bench/run_all.py --out-dir docs/bench              # the figures quoted in docs/ (not success)
python bench/run_all.py --out-dir docs/bench success      # success rates: hours
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SLOW = {"success"}  # hours (record, train, evaluate): only in --quick form, or when named


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out-dir", type=Path, required=True)
    p.add_argument("names", nargs="*", help="only these benchmarks (default: all)")
    args = p.parse_args()
    scripts = sorted(s for s in HERE.glob("*.py") if not s.name.startswith("_") and s.name != "run_all.py")
    if args.names:
        scripts = [s for s in scripts if s.stem in args.names]
    elif not args.quick:
        scripts = [s for s in scripts if s.stem not in SLOW]
    failed = []
    for script in scripts:
        cmd = [sys.executable, str(script), "--out", str(args.out_dir / f"{script.stem}.json")]
        if args.quick:
            cmd.append("--quick")
        print(f"== {script.stem}", flush=True)
        if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
