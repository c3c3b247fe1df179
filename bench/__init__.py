"""Stage 5: accuracy comparison, throughput and concurrent benchmarks, reports."""
