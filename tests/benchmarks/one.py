"""Run one benchmark module in this process and print its figures as JSON (the last line).

python -m tests.benchmarks.one pipeline [--smoke] [--postgres URL]
"""

import argparse
import dataclasses
import importlib
import json
import os

import django

# Modules that need the whole product set up their own Stack (and Django, with its settings).
NEEDS_STACK = {"pipeline", "web", "push", "thumbnails", "scale_out", "operations"}

parser = argparse.ArgumentParser()
parser.add_argument("module")
parser.add_argument("--smoke", action="store_true")
parser.add_argument("--postgres", default="")
arguments = parser.parse_args()
if arguments.module not in NEEDS_STACK:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
benchmark = importlib.import_module(f"tests.benchmarks.{arguments.module}")
extra = {"postgres_url": arguments.postgres} if arguments.postgres else {}
figures = benchmark.run(smoke=arguments.smoke, **extra)
print(json.dumps([dataclasses.asdict(figure) for figure in figures]))
