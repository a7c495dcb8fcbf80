"""Case-or-Rule: the small causal LM trained from scratch on an arithmetic split (Lightning)."""
