"""Files: atomic writes, checkpoints, architecture side files, shipped models."""
