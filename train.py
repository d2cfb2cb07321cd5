"""Train a model: ``python train.py --model cycle_gan --dataroot ./datasets/horse2zebra --name horse2zebra``.

With no ``--dataroot`` it trains on the built-in toy_day2night dataset. See README.md.
"""
import sys

from gantool.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
