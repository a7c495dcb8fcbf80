"""The `proofzero` command line: one console script fronting every stage."""
