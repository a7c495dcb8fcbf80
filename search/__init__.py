"""Provers: strategies that drive a formal Session towards a proof, counted in tactic executions."""
