"""One config system for every subcommand: dataclass schema + YAML file + `key=value` overrides."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from proofzero.cli import UserError

T = TypeVar("T")

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
_OVERRIDE = re.compile(r"^[A-Za-z_][\w.]*=")


def resolve_config_path(name: str | Path) -> Path:
    """A path as given, or a name under `configs/` (with or without `.yaml`)."""
    p = Path(name)
    for candidate in (p, CONFIG_DIR / p, CONFIG_DIR / p.with_suffix(".yaml")):
        if candidate.is_file():
            return candidate
    raise UserError(f"config not found: {name} (looked as a path and under {CONFIG_DIR})")


def load_config(schema: type[T], path: str | Path | None = None, overrides: list[str] = (),
                profile: DictConfig | None = None) -> T:
    """Merge `schema` defaults, the YAML at `path`, a cluster profile's keys and dotted `key=value`
    overrides, in that order; validate types.

    Returns an instance of the (frozen) dataclass `schema`, so the rest of the code sees plain
    Python objects. Unknown keys and wrong types are user errors, not tracebacks.
    """
    try:
        cfg = OmegaConf.structured(schema)
        _thaw(cfg)  # frozen schemas are frozen once built, not while merging
        if path is not None:
            cfg = OmegaConf.merge(cfg, read_yaml(resolve_config_path(path)))
        if profile is not None:
            cfg = OmegaConf.merge(cfg, profile)
        bad = [o for o in overrides if "=" not in o]
        if bad:
            raise UserError(f"overrides must be key=value, got {bad}")
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
        obj = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as e:
        raise UserError(f"bad config: {str(e).splitlines()[0]}") from None
    except (ValueError, TypeError) as e:  # raised by a schema's own __post_init__ validation
        raise UserError(f"bad config: {e}") from None
    return obj  # type: ignore[return-value]


PROFILE_SECTIONS = ("train", "eval", "rl")


def read_profile(name: str | Path, section: str) -> DictConfig:
    """One command's part of a cluster profile (`configs/cluster/NAME.yaml`, by name or path): the same
    training, eval and RL configs run on a laptop or a cluster with a profile on top. A profile has
    up to three sections: `train` (TrainConfig keys, also the RL learner's `learner.*`), `eval`
    (EvalConfig keys, also the RL actors' `actors.*`) and `rl` (RL keys). Values may read Slurm's
    variables, `${oc.env:SLURM_NTASKS_PER_NODE,1}`, resolved when the command starts."""
    p = Path(name)
    if not p.is_file() and not (CONFIG_DIR / p).is_file() and not (CONFIG_DIR / p.with_suffix(".yaml")).is_file():
        p = Path("cluster") / p  # a bare profile name
    data = read_yaml(resolve_config_path(p))
    unknown = sorted(set(data.keys()) - set(PROFILE_SECTIONS))
    if unknown:
        raise UserError(f"profile {name}: unknown sections {unknown} (a profile has {', '.join(PROFILE_SECTIONS)})")
    scalar = [k for k in data.keys() if data[k] is not None and not isinstance(data[k], DictConfig)]
    if scalar:
        raise UserError(f"profile {name}: section {scalar[0]} must map keys to values")
    if section == "rl":
        layer = OmegaConf.create({})
        for key, where in (("train", "learner"), ("eval", "actors")):
            if data.get(key) is not None:
                layer = OmegaConf.merge(layer, {where: data[key]})
        return OmegaConf.merge(layer, data.get("rl") or {})
    return data.get(section) or OmegaConf.create({})


def read_yaml(path: Path) -> DictConfig:
    """A YAML mapping as OmegaConf reads it; anything else (bad syntax, not text, a list or a scalar,
    unreadable) is a one-line user error naming the file, and the line where the YAML parser says."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)  # the shape first: OmegaConf reads a bare word as a key
        if data is not None and not isinstance(data, dict):
            raise UserError(f"{path}: a config is a mapping of keys to values; this file holds a {type(data).__name__}")
        return OmegaConf.create(text) if data is not None else OmegaConf.create()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}{where}: not valid YAML ({problem})") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{path}: not a text file (byte {e.object[e.start]:#04x} at offset {e.start} is not UTF-8)") from None
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})") from None


def _thaw(node: Any) -> None:
    """Clear the read-only flag that frozen dataclasses put on every nested node."""
    OmegaConf.set_readonly(node, False)
    if isinstance(node, DictConfig):
        for key in node.keys():
            child = node._get_node(key)
            if isinstance(child, (DictConfig, ListConfig)):
                _thaw(child)


def to_dict(obj: Any) -> dict[str, Any]:
    """A config as plain data, for writing next to results."""
    return dataclasses.asdict(obj)


def split_overrides(args: list[str]) -> tuple[list[str], list[str]]:
    """(inputs, overrides) of a positional list mixing paths and `key=value` (an existing path stays a path)."""
    is_override = [bool(_OVERRIDE.match(a)) and not Path(a).exists() for a in args]
    return [a for a, o in zip(args, is_override) if not o], [a for a, o in zip(args, is_override) if o]
