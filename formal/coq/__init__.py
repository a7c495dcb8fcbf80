"""The Coq backend: coqidetop sessions, the tactic sandbox, the trusted checker, suite loading."""
