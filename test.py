"""Test a model: ``python test.py --model test --name horse2zebra_pretrained --no_dropout``.

Writes ``results/<name>/test_latest/index.html``. See README.md.
"""
import sys

from gantool.cli import test_main

if __name__ == "__main__":
    sys.exit(test_main())
