"""The Lean 4 backend (docs/lean.md). Runs anywhere: `suite` (miniF2F statements), `goals` (Lean's
printed goals), `sandbox`, `proof` (scripts with `·` bullets). Needs a Lean toolchain (a cluster):
`repl` + `pool` + `session` (goal-level search sessions over the Lean REPL), `checker` (the trusted
checker: `lake env lean` + `#print axioms`), `dojo` (sessions over LeanDojo, the `lean` extra)."""
