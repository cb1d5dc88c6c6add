"""Settings of bench_ingest_single's server: the app's own (config.settings.local), plus one
URL, the bare baseline view of tests/benchmarks/single_urls.py. Benchmark-only."""

from config.settings.local import *  # noqa: F403

ROOT_URLCONF = "tests.benchmarks.single_urls"
