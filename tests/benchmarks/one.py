"""Run one benchmark module in this process and print its figures as JSON (the last line).

python -m tests.benchmarks.one pipeline [--smoke] [--postgres URL]
"""

import argparse
import dataclasses
import importlib
import json

parser = argparse.ArgumentParser()
parser.add_argument("module")
parser.add_argument("--smoke", action="store_true")
parser.add_argument("--postgres", default="")
arguments = parser.parse_args()
benchmark = importlib.import_module(f"tests.benchmarks.{arguments.module}")
extra = {"postgres_url": arguments.postgres} if arguments.postgres else {}
figures = benchmark.run(smoke=arguments.smoke, **extra)
print(json.dumps([dataclasses.asdict(figure) for figure in figures]))
