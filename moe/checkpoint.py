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

CHECKPOINT = "checkpoint.pt"
PREVIOUS = "checkpoint.prev.pt"


class CheckpointError(RuntimeError):
    pass


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
    state["pickled"] = pickle.loads(state.pop("pickled_bytes").numpy().tobytes())
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
        except Exception as error:  # a truncated zip, bad pickle, wrong content: all mean unreadable
            problems.append(f"{path} is unreadable ({type(error).__name__}: {str(error).splitlines()[0][:120]})")
            print(f"warning: {problems[-1]}", file=sys.stderr)
    if problems:
        raise CheckpointError("; ".join(problems) + "; delete the checkpoint files to start this run over")
    return None


def remove(run_dir: Path) -> None:
    for name in (CHECKPOINT, PREVIOUS):
        (Path(run_dir) / name).unlink(missing_ok=True)


def claim_run_directory(run_dir: Path, record: dict, checkpoint: dict | None) -> None:
    """Write the run's config.yaml, or refuse a directory that holds a different run.

    The run is identified by config.yaml or, where that is gone (Snakemake deletes
    a rerun job's declared outputs), by the record saved in the checkpoint.
    """
    run_dir = Path(run_dir)
    config_path = run_dir / "config.yaml"
    existing = None
    if config_path.exists():
        try:
            existing = yaml.safe_load(config_path.read_text()) or {}
        except yaml.YAMLError:
            existing = {}
    elif checkpoint is not None:
        existing = checkpoint.get("record")
        if existing is None:
            raise CheckpointError(f"output directory {run_dir} holds a checkpoint of unknown origin; refusing to mix runs")
    if existing is not None:
        for key in ("run", "config"):
            if existing.get(key) != record[key]:
                difference = _first_difference(existing.get(key), record[key], key)
                raise CheckpointError(
                    f"output directory {run_dir} holds a run with a different config ({difference}); "
                    "use another --out or delete that directory"
                )
    if not config_path.exists():
        atomic_write_text(config_path, yaml.safe_dump(existing or record, sort_keys=False))


def _first_difference(old, new, path: str) -> str:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [key for key in new if key not in old]:
            if old.get(key) != new.get(key):
                return _first_difference(old.get(key), new.get(key), f"{path}.{key}")
    return f"{path} was {old!r}, now {new!r}"
