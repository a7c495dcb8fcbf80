Require Import Arith.
Require Import Lia.

Theorem pow_two:
  forall n : nat, n = 5 -> 2 ^ n = 32.
Proof.
Admitted.
