"""Calendo's load and scale benchmarks: ``python -m bench`` (``--quick`` for a short run).

Each scale gets a freshly seeded SQLite database and a real server subprocess; a separate
load-generator process (``wrk`` when installed, else ``bench.load``) drives it; the results
are compared with a bare FastAPI app (``bench.bare``) measured in the same run.
"""
