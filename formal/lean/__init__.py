"""The Lean 4 backend: statement parsing here; live sessions need a Lean toolchain (cluster only)."""
