"""Evaluation harnesses: run provers over suites, report pass rates at a stated budget."""
