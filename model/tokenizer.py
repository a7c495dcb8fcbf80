"""A byte-level tokenizer that needs no files: UTF-8 bytes plus a few special ids.

The id layout is ByT5's (pad 0, eos 1, unk 2, byte b -> b + 3, then 125 sentinels counted down
from the top: `<extra_id_0>` = 383), so a model trained on these ids can start from a ByT5
checkpoint, and the sentinels serve T5 span corruption. Proof states are full of Unicode notation
(`⊢`, `∀`, `ℝ`) and rare identifiers: bytes never go out of vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


class ByteTokenizer:
    pad_id, eos_id, unk_id = 0, 1, 2
    offset = 3  # ids of bytes start here

    def __init__(self, num_sentinels: int = 125) -> None:
        if num_sentinels < 0:
            raise ValueError("num_sentinels must be >= 0")
        self.num_sentinels = num_sentinels
        self.vocab_size = self.offset + 256 + num_sentinels

    def config(self) -> dict:
        """What a reader of token ids needs to know (written into corpus manifests)."""
        ids = {"pad_id": self.pad_id, "eos_id": self.eos_id, "unk_id": self.unk_id, "offset": self.offset}
        return {"name": "byte", "vocab_size": self.vocab_size, "num_sentinels": self.num_sentinels, **ids}

    def encode(self, text: str | bytes, add_eos: bool = False) -> list[int]:
        return self.encode_array(text, add_eos).tolist()

    def encode_array(self, text: str | bytes, add_eos: bool = False) -> np.ndarray:
        """Ids as uint16 (the vocabulary fits), the form the corpus shards store."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        ids = np.frombuffer(data, dtype=np.uint8).astype(np.uint16) + self.offset
        return np.append(ids, np.uint16(self.eos_id)) if add_eos else ids

    def sentinel(self, i: int) -> int:
        """The id of `<extra_id_i>`: the i-th masked span in T5 span corruption."""
        if not 0 <= i < self.num_sentinels:
            raise ValueError(f"sentinel {i} out of range (0..{self.num_sentinels - 1})")
        return self.vocab_size - 1 - i

    def decode(self, ids: Iterable[int]) -> str:
        """Bytes back to text; pad, eos, unk and unknown ids are dropped, sentinels shown as `<extra_id_i>`."""
        out, run = [], bytearray()
        for i in map(int, ids):
            if self.offset <= i < self.offset + 256:
                run.append(i - self.offset)
                continue
            if self.offset + 256 <= i < self.vocab_size:
                out.append(run.decode("utf-8", errors="replace"))
                out.append(f"<extra_id_{self.vocab_size - 1 - i}>")
                run = bytearray()
        out.append(run.decode("utf-8", errors="replace"))
        return "".join(out)
