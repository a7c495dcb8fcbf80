"""A handful of (state, tactic, return) triples and a plain training loop for the tiny model."""

import torch

from model.config import ProofNetConfig
from model.proofnet import IGNORE, ProofNet

# A handful of (state, tactic, return) triples for the tiny model to memorise.
PAIRS = [
    ("n : nat |- n + 0 = n", "lia.", -1.0),
    ("|- forall a b : nat, a + b = b + a", "intros a b.", -3.0),
    ("a, b : nat |- a + b = b + a", "apply Nat.add_comm.", -1.0),
    ("|- True", "exact I.", -1.0),
    ("P : Prop, H : P |- P", "assumption.", -1.0),
    ("|- 2 + 2 = 4", "reflexivity.", -1.0),
]


def batch(config: ProofNetConfig, pairs=PAIRS):
    """(input_ids, attention_mask, labels, returns) for (state, tactic, return) triples."""
    tok = config.tokenizer()
    states = [tok.encode(s, add_eos=True) for s, _, _ in pairs]
    tactics = [tok.encode(t, add_eos=True) for _, t, _ in pairs]
    ids = torch.full((len(pairs), max(map(len, states))), tok.pad_id)
    labels = torch.full((len(pairs), max(map(len, tactics))), IGNORE)
    for i, (s, t) in enumerate(zip(states, tactics)):
        ids[i, : len(s)] = torch.tensor(s)
        labels[i, : len(t)] = torch.tensor(t)
    return ids, (ids != tok.pad_id).long(), labels, torch.tensor([r for _, _, r in pairs])


def train(model: ProofNet, steps: int, lr: float = 3e-3) -> list[float]:
    ids, mask, labels, returns = batch(model.config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    losses = []
    for _ in range(steps):
        loss = model(ids, mask, labels, returns).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    return losses
