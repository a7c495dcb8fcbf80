Require Import Arith.
Require Import Lia.

Theorem pow_chain:
  forall a b : nat, a = 3 -> b = a + 1 -> a ^ b = 81.
Proof.
Admitted.
