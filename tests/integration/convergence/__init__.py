"""Convergence and failover harness (issue 9): workload, faults, independent comparison, report."""
