"""Operating meterbill: Prometheus metrics, structured logs with request ids, health."""
