"""Command line: ``python -m sparkdl_kit doctor``."""

import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sparkdl_kit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check the environment: versions, known incompatibilities, executor Python")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from sparkdl_kit.doctor import main as doctor_main

        return doctor_main()
    return 2


if __name__ == "__main__":
    sys.exit(main())
