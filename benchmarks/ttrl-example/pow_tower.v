Require Import Arith.
Require Import Lia.

Theorem pow_tower:
  forall n : nat, n = 2 -> n ^ n ^ n = 16.
Proof.
Admitted.
