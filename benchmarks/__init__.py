"""Benchmarks of the project's own code run in process (training speed against TRL): unlike loadtests,
which measure the server from outside over HTTP, these import training to drive it as a user of it would."""
