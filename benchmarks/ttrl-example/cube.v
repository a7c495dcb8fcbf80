Require Import Arith.
Require Import Lia.

Theorem cube:
  forall a : nat, a = 4 -> a ^ 3 = 64.
Proof.
Admitted.
