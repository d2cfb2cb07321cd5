"""The training and test loops and everything that decides how a step runs."""
