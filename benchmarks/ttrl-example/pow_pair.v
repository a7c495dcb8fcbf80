Require Import Arith.
Require Import Lia.

Theorem pow_pair:
  forall a b : nat, a = 2 -> b = 3 -> a ^ b + b ^ a = 17.
Proof.
Admitted.
