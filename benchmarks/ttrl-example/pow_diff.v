Require Import Arith.
Require Import Lia.

Theorem pow_diff:
  forall m n : nat, m = 2 -> n = 5 -> m ^ n - n ^ m = 7.
Proof.
Admitted.
