Require Import Arith.
Require Import Lia.

Theorem pow_sum:
  forall n : nat, n = 3 -> 2 ^ n + n = 11.
Proof.
Admitted.
