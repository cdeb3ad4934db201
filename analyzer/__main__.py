"""`python -m analyzer` is the `dualstack` command."""

from analyzer.cli import run_program

if __name__ == "__main__":
    run_program()
