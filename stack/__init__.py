"""Tooling around Connect, not part of it: launchers for real engines (`stack.engines`), used
by the test harness and the benchmarks, and `connect stack`, the distributed shape on one
machine (`stack.local`, `stack.commands`). The runtime (`connect`, `services`) never imports
this package; `connect.cli` only registers its commands when it is there."""
