"""`csr-bench`: the benchmarks the issues name; each prints one JSON object on stdout."""
