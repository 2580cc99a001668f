"""Checkpoints and atomic files: a killed run loses nothing already written.

A checkpoint is one file loadable with `torch.load(weights_only=True)`: tensors,
plain containers and numbers, plus one byte tensor with the pickled state that
is not tensors (the environments, numpy's generator). Those bytes are
unpickled only from the run's own directory, after the safe load succeeded.
The previous checkpoint is kept until the next one is in place, so a
truncated or corrupted file falls back to it.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import tempfile
from pathlib import Path

import torch
import yaml

from moe.errors import CheckpointError

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes files private; run outputs are for everyone
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def save(run_dir: Path, state: dict) -> None:
    state = dict(state)
    pickled = pickle.dumps(state.pop("pickled"), protocol=pickle.HIGHEST_PROTOCOL)
    state["pickled_bytes"] = torch.frombuffer(bytearray(pickled), dtype=torch.uint8)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    run_dir = Path(run_dir)
    current = run_dir / CHECKPOINT
    if current.exists():
        os.replace(current, run_dir / PREVIOUS)
    atomic_write_bytes(current, buffer.getvalue())


def _load(path: Path) -> dict:
    state = torch.load(path, weights_only=True, map_location="cpu")
    if not isinstance(state, dict) or "pickled_bytes" not in state:
        raise CheckpointError(f"{path} is not a checkpoint of this trainer")
    try:
        state["pickled"] = pickle.loads(state.pop("pickled_bytes").numpy().tobytes())
    except (AttributeError, ModuleNotFoundError) as error:  # a class the code no longer has
        raise CheckpointError(f"{path} was written by an older version of the trainer ({error})") from None
    return state


def load_latest(run_dir: Path) -> dict | None:
    """The newest readable checkpoint in `run_dir`, None if there is none at all."""
    problems = []
    for name in (CHECKPOINT, PREVIOUS):
        path = Path(run_dir) / name
        if not path.exists():
            continue
        try:
            return _load(path)
        except CheckpointError as error:  # readable, but not something this trainer can resume
            problems.append(str(error))
        except Exception as error:  # a truncated zip, bad pickle, wrong content: all mean unreadable
            problems.append(f"{path} is unreadable ({type(error).__name__}: {str(error).splitlines()[0][:120]})")
        print(f"warning: {problems[-1]}", file=sys.stderr)
    if problems:
        raise CheckpointError("; ".join(problems) + "; delete the checkpoint files to start this run over")
    return None


def remove(run_dir: Path) -> None:
    for name in (CHECKPOINT, PREVIOUS):
        (Path(run_dir) / name).unlink(missing_ok=True)


def run_difference(existing: dict | None, record: dict) -> str | None:
    """How `existing` (a config.yaml or checkpoint record) differs from this run's record; None if the same run."""
    if existing is None:
        return "no record of the run"
    for key in ("run", "config"):
        if existing.get(key) != record[key]:
            return first_difference(existing.get(key), record[key], key)
    return None


def claim_run_directory(run_dir: Path, record: dict, checkpoint: dict | None) -> None:
    """Write the run's config.yaml, or refuse a directory whose config.yaml is another run's.

    Where config.yaml is gone (Snakemake deletes a rerun job's declared outputs),
    it is written back from the checkpoint's record, keeping the provenance of
    the run's start.
    """
    config_path = Path(run_dir) / "config.yaml"
    if config_path.exists():
        try:
            existing = yaml.safe_load(config_path.read_text()) or {}
        except yaml.YAMLError:
            existing = {}
        difference = run_difference(existing, record)
        if difference:
            raise CheckpointError(
                f"output directory {run_dir} holds a run with a different config ({difference}); "
                "use another --out or delete that directory"
            )
        return
    original = checkpoint.get("record") if checkpoint is not None else None
    atomic_write_text(config_path, yaml.safe_dump(original or record, sort_keys=False))


def first_difference(old, new, path: str) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [key for key in new if key not in old]:
            if old.get(key) != new.get(key):
                return first_difference(old.get(key), new.get(key), f"{path}.{key}")
    return f"{path} was {old!r}, now {new!r}"
