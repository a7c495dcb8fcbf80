"""Case-or-Rule scoring: accuracy inside and outside the held-out squares, and the heat map."""
