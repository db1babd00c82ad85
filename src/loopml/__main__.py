"""``python -m loopml``: the same command line as ``loopml`` (for environments without its script)."""

from loopml.cli import main

if __name__ == "__main__":
    main()
