"""Real servers the tests (and benchmarks) start privately on loopback."""
