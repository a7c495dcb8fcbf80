Require Import Arith.
Require Import Lia.

Theorem pow_sub:
  forall n : nat, n = 4 -> 3 ^ n - n = 77.
Proof.
Admitted.
