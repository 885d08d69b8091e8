import os

# Benchmarks are development tooling: DEBUG on unless a benchmark sets it (the servers of stack.py do).
os.environ.setdefault("DEBUG", "True")
