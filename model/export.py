"""Hugging Face export of the proof network (DESIGN.md, key decision 7).

An export is a `save_pretrained` directory that plain `transformers` reads for the policy, and
`load_pretrained` reads for policy + value:

    config.json, generation_config.json, model.safetensors   the T5 policy (T5ForConditionalGeneration)
    tokenizer_config.json                                     ByT5Tokenizer, ids as `ByteTokenizer`'s
    value_head.safetensors                                    the value head's weights
    proofnet_config.json                                      ProofNetConfig, the training info, and a
                                                              sha256 of each file the network is built from
    README.md                                                 model card: parameters, data, training config

Nothing is downloaded: the tokenizer has no vocabulary file and the T5 is built from its config.
safetensors files carry no checksum (a flipped byte loads as a different weight), so `load_pretrained`
checks the recorded sha256s; an export written before they were recorded loads with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file
from transformers import ByT5Tokenizer, T5ForConditionalGeneration

from model.config import ProofNetConfig
from model.proofnet import ProofNet, bin_centres, t5_config
from model.tokenizer import ByteTokenizer

log = logging.getLogger(__name__)

FORMAT = "proofzero-proofnet"
FORMAT_VERSION = 1
PROOFNET_CONFIG = "proofnet_config.json"
VALUE_HEAD = "value_head.safetensors"
POLICY_CONFIG = "config.json"
GENERATION_CONFIG = "generation_config.json"
POLICY_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")  # one file, or shards + index
TOKENIZER_CONFIG = "tokenizer_config.json"
MODEL_CARD = "README.md"
CHECKSUMS = "sha256"  # the proofnet_config.json entry: file name -> sha256 hex digest

# Checked on every export: the Hugging Face tokenizer must give `ByteTokenizer`'s ids, sentinels included.
_PROBE = "x : ℝ ⊢ ∀ y, y = y"


def save_pretrained(model: ProofNet, out_dir: str | Path, *, training_info: dict | None = None) -> Path:
    """Write `model` as an export at `out_dir`; returns the directory.

    `training_info` (JSON-serialisable) goes into the model card and `proofnet_config.json`; its
    `data` entry, if any, is the card's data section. The directory is built beside the target and
    renamed into place, so a reader never sees half an export. An existing export at `out_dir` is
    replaced; any other non-empty directory is refused.
    """
    out = Path(out_dir)
    check_target(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        _write(model, tmp, training_info or {})
        _record_checksums(tmp)
        _check_reads_back(model, tmp, out)
        _replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def check_target(out: str | Path) -> None:
    """`save_pretrained` may write at `out`: nothing there, an empty directory or an earlier export."""
    out = Path(out)
    if out.exists() and not _is_replaceable(out):
        raise ValueError(f"{out} exists and is not an empty directory or an earlier export; not overwriting it")


def load_pretrained(path: str | Path) -> ProofNet:
    """The ProofNet (policy + value head) in an export, in eval mode, on the CPU; a one-line ValueError
    for anything that is not one, or whose files differ from those the export wrote."""
    path = Path(path)
    meta = _read_meta(path)
    config = _config_of(meta, path)
    _require_files(path)
    verify_checksums(path, meta)
    with torch.device("meta"):  # every weight comes from the files: build the shell without initialising it
        model = ProofNet(config)
    model.t5 = T5ForConditionalGeneration.from_pretrained(path)
    _check_policy_matches(model.t5.config, config, path)
    model.value_head.to_empty(device="cpu")
    try:
        model.value_head.load_state_dict(load_file(path / VALUE_HEAD))
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise ValueError(f"{path / VALUE_HEAD}: does not fit the config's value head ({first})") from None
    model.bin_centres = bin_centres(config)
    return model.eval()


def read_config(path: str | Path) -> ProofNetConfig:
    """The ProofNetConfig of an export; a one-line ValueError for anything that is not one."""
    path = Path(path)
    return _config_of(_read_meta(path), path)


def verify_checksums(path: str | Path, meta: dict) -> None:
    """Every file the network is built from has the sha256 the export recorded (`meta` is its
    proofnet_config.json); a ValueError naming the first that differs, is gone, or was never recorded.
    An export without checksums (written before ProofZero recorded them) is logged, not refused."""
    path = Path(path)
    recorded = meta.get(CHECKSUMS)
    if recorded is None:
        log.warning("%s: an export with no checksums (written before ProofZero recorded them); "
                    "its weights cannot be verified", path)
        return
    if not isinstance(recorded, dict) or not all(isinstance(v, str) for v in recorded.values()):
        raise ValueError(f"{path / PROOFNET_CONFIG}: {CHECKSUMS} is not a mapping of file names to digests")
    for name in network_files(path):
        if name not in recorded:
            raise ValueError(f"{path / name}: not recorded in {PROOFNET_CONFIG} (added after the export?); "
                             f"not loading it unchecked")
    for name, digest in sorted(recorded.items()):
        if Path(name).name != name or name in ("", ".", ".."):
            raise ValueError(f"{path / PROOFNET_CONFIG}: {CHECKSUMS} names {name!r}, not a file of the export")
        if not (path / name).is_file():
            raise ValueError(f"{path / name}: recorded in {PROOFNET_CONFIG} but missing")
        if sha256(path / name) != digest:
            raise ValueError(f"{path / name}: sha256 differs from the one recorded in {PROOFNET_CONFIG} "
                             f"(the file is corrupted or was changed after the export)")


def network_files(path: Path) -> list[str]:
    """The files of the export at `path` that the network is built from, and so are checksummed: the
    T5 config and generation config, every safetensors file (one, or shards + index), the value head.
    The tokenizer files and the model card are not read by `load_pretrained`."""
    names = {POLICY_CONFIG, GENERATION_CONFIG, VALUE_HEAD, *POLICY_WEIGHTS, *(p.name for p in path.glob("*.safetensors"))}
    return sorted(n for n in names if (path / n).is_file())


def sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        while chunk := f.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def hf_tokenizer(tokenizer: ByteTokenizer) -> ByT5Tokenizer:
    """A `ByT5Tokenizer` with `tokenizer`'s vocabulary. Its sentinels are numbered as ours only once
    saved by `_save_tokenizer` (in memory, transformers numbers `<extra_id_i>` upwards from 259)."""
    return ByT5Tokenizer(extra_ids=tokenizer.num_sentinels)


# --- writing ----------------------------------------------------------------------------------


def _write(model: ProofNet, out: Path, training_info: dict) -> None:
    config = model.config
    model.t5.save_pretrained(out)
    value_state = {k: v.detach().cpu().contiguous() for k, v in model.value_head.state_dict().items()}
    save_file(value_state, out / VALUE_HEAD, metadata={"format": "pt"})
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION,
            "config": dataclasses.asdict(config), "training_info": training_info}
    (out / PROOFNET_CONFIG).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    _save_tokenizer(config.tokenizer(), out)
    (out / MODEL_CARD).write_text(model_card(model, training_info))


def _record_checksums(out: Path) -> None:
    """Add the sha256 of each network file to proofnet_config.json. Taken last, just before
    `_check_reads_back`, so the digests are of exactly the bytes shown to read back as the model."""
    meta = json.loads((out / PROOFNET_CONFIG).read_text())
    meta[CHECKSUMS] = {name: sha256(out / name) for name in network_files(out)}
    (out / PROOFNET_CONFIG).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")


def _check_reads_back(model: ProofNet, written: Path, out: Path) -> None:
    """The export in `written` loads, and gives back every tensor of `model` exactly."""
    try:
        back = load_pretrained(written)
    except Exception as e:  # noqa: BLE001 - whatever fails to read back is the same failed export
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"{out}: the export did not read back ({first}); nothing written") from None
    expected, got = model.state_dict(), back.state_dict()
    differ = [k for k, v in expected.items()
              if k not in got or got[k].shape != v.shape
              or not torch.allclose(got[k].float(), v.detach().cpu().float(), rtol=0, atol=0, equal_nan=True)]
    if differ:
        raise ValueError(f"{out}: the export does not read back as the model ({len(differ)} of {len(expected)} "
                         f"tensors differ, e.g. {', '.join(differ[:3])}); nothing written")


def _save_tokenizer(tokenizer: ByteTokenizer, out: Path) -> None:
    """ByT5Tokenizer files whose ids agree with `tokenizer`'s, sentinels included.

    transformers' ByT5Tokenizer numbers `<extra_id_i>` upwards from 259; ByT5 (and `ByteTokenizer`)
    count them down from the top (`<extra_id_0>` = vocab_size - 1). The saved `added_tokens_decoder`
    fixes the ids, so the loaded tokenizer encodes sentinels as the model was trained.
    """
    hf = hf_tokenizer(tokenizer)
    hf.save_pretrained(out)
    (out / "added_tokens.json").unlink(missing_ok=True)  # legacy copy of the ids; would disagree
    (out / "special_tokens_map.json").unlink(missing_ok=True)
    cfg = json.loads((out / TOKENIZER_CONFIG).read_text())
    decoder = {}
    for token_id, entry in cfg["added_tokens_decoder"].items():
        content = entry["content"]
        if content.startswith("<extra_id_"):
            token_id = tokenizer.sentinel(int(content[len("<extra_id_"):-1]))
        decoder[str(token_id)] = entry
    cfg["added_tokens_decoder"] = dict(sorted(decoder.items(), key=lambda kv: int(kv[0])))
    cfg["model_max_length"] = None  # T5's relative positions have no maximum
    (out / TOKENIZER_CONFIG).write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")
    _check_tokenizer(out, tokenizer)


def _check_tokenizer(out: Path, tokenizer: ByteTokenizer) -> None:
    loaded = ByT5Tokenizer.from_pretrained(out)
    sentinels = [0, tokenizer.num_sentinels - 1] if tokenizer.num_sentinels else []
    probe = _PROBE + "".join(f"<extra_id_{i}>" for i in sentinels)
    expected = tokenizer.encode(_PROBE) + [tokenizer.sentinel(i) for i in sentinels] + [tokenizer.eos_id]
    got = loaded(probe).input_ids
    if got != expected or len(loaded) != tokenizer.vocab_size:
        raise RuntimeError("the saved ByT5Tokenizer does not reproduce ByteTokenizer's ids "
                           "(has transformers changed its tokenizer files?)")


def model_card(model: ProofNet, training_info: dict) -> str:
    config = model.config
    total = model.num_parameters()
    value = sum(p.numel() for p in model.value_head.parameters())
    info = dict(training_info)
    data = info.pop("data", None)
    data_text = (yaml.safe_dump(data, sort_keys=False, allow_unicode=True).strip()
                 if isinstance(data, (dict, list)) else str(data) if data else "Not stated.")
    info_text = yaml.safe_dump(info, sort_keys=False, allow_unicode=True).strip() if info else "Not stated."
    config_text = yaml.safe_dump(dataclasses.asdict(config), sort_keys=False).strip()
    return f"""---
library_name: transformers
pipeline_tag: text2text-generation
tags: [theorem-proving, t5, byt5, proofzero]
---

# ProofZero proof network

A byte-level T5 encoder-decoder (ByT5 id layout) that writes a tactic for a proof state, with a value
head on the encoder that predicts the return (-steps to a proof) as a distribution over
{config.value_bins} bins from {config.value_min:g} to {config.value_max:g}.

**Parameters:** {total:,} ({total - value:,} policy, {value:,} value head).

## Use

The policy alone, with plain `transformers`:

```python
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained(PATH)
policy = AutoModelForSeq2SeqLM.from_pretrained(PATH)
ids = tokenizer(["x : ℝ ⊢ ∀ y, y = y"], return_tensors="pt")
print(tokenizer.batch_decode(policy.generate(**ids, max_new_tokens={config.max_tactic_length}), skip_special_tokens=True))
```

Policy and value, with ProofZero: `model.export.load_pretrained(PATH)`. The value head's weights are
in `{VALUE_HEAD}`, the network's sizes in `{PROOFNET_CONFIG}`, with a sha256 of each file the network
is built from (checked on loading).

## Data

{data_text}

## Training config

```yaml
{info_text}
```

## Network config

```yaml
{config_text}
```
"""


def _is_replaceable(out: Path) -> bool:
    return out.is_dir() and (not any(out.iterdir()) or (out / PROOFNET_CONFIG).is_file())


def _replace(tmp: Path, out: Path) -> None:
    """Rename `tmp` to `out`; an existing `out` is moved aside first and removed after."""
    if not out.exists():
        os.replace(tmp, out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    os.replace(out, old / "export")
    try:
        os.replace(tmp, out)
    except BaseException:
        os.replace(old / "export", out)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


# --- reading ----------------------------------------------------------------------------------


def _read_meta(path: Path) -> dict:
    """The export's proofnet_config.json, checked for format and version."""
    if not path.is_dir():
        raise ValueError(f"{path}: not a directory (expected a ProofZero export)")
    file = path / PROOFNET_CONFIG
    if not file.is_file():
        raise ValueError(f"{path}: not a ProofZero export (no {PROOFNET_CONFIG})")
    try:
        data = json.loads(file.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{file}: not valid JSON ({e})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{file}: not a ProofZero export (format is not {FORMAT!r})")
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"{file}: export format version {data.get('format_version')!r}; "
                         f"this ProofZero reads version {FORMAT_VERSION}")
    return data


def _config_of(meta: dict, path: Path) -> ProofNetConfig:
    try:
        return ProofNetConfig(**meta["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path / PROOFNET_CONFIG}: bad config ({e})") from None


def _require_files(path: Path) -> None:
    missing = [name for name in (POLICY_CONFIG, VALUE_HEAD) if not (path / name).is_file()]
    if not any((path / name).is_file() for name in POLICY_WEIGHTS):
        missing.append(POLICY_WEIGHTS[0])
    if missing:
        raise ValueError(f"{path}: incomplete ProofZero export, missing {', '.join(missing)}")


def _check_policy_matches(hf_config, config: ProofNetConfig, path: Path) -> None:
    expected = t5_config(config)
    fields = ("vocab_size", "d_model", "d_kv", "d_ff", "num_layers", "num_decoder_layers", "num_heads")
    wrong = [f"{f} {getattr(hf_config, f)} != {getattr(expected, f)}"
             for f in fields if getattr(hf_config, f) != getattr(expected, f)]
    if wrong:
        raise ValueError(f"{path}: {POLICY_CONFIG} disagrees with {PROOFNET_CONFIG} ({'; '.join(wrong)})")
