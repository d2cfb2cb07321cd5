"""Dataset tools: scanning image folders, combining A and B into aligned pairs."""
