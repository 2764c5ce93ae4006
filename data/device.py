"""The one place that decides CPU or CUDA, and where bf16 autocast is used.

Lives in `data` because every pipeline may import `data` and none may import another.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from typing import Literal

DeviceName = Literal["auto", "cpu", "cuda"]


def pick_device(name: str = "auto"):
    """`auto` -> CUDA when a GPU is really there, else CPU. `cuda` without a GPU is an error."""
    import torch

    from data.errors import MarqueeError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise MarqueeError("--device cuda was asked for, but no CUDA GPU is available")
    if name not in ("cpu", "cuda"):
        raise MarqueeError(f"unknown device {name!r} (use auto, cpu or cuda)")
    return torch.device(name)


@functools.cache
def _native_bf16_cpu() -> bool:
    """True when this CPU multiplies bf16 in hardware (AVX512-BF16 or AMX). Elsewhere bf16 on the
    CPU is emulated and slower than fp32."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")   # private in torch 2.x: guard
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def cpu_bf16_enabled() -> bool:
    """Native bf16 on this CPU, and not switched off with MARQUEE_CPU_BF16=0."""
    return os.environ.get("MARQUEE_CPU_BF16", "1") != "0" and _native_bf16_cpu()


def autocast(device, cpu_bf16: bool = False):
    """bf16 autocast on CUDA. On the CPU a no-op (fp32 is exact, and faster for small nets), unless
    `cpu_bf16` and the CPU has native bf16: a transformer then runs about 2x faster there
    (MiniLM, 2-core EPYC: 2.5x scoring, 2x a training step; docs/benchmarks.md).
    MARQUEE_CPU_BF16=0 keeps the CPU in fp32 (exact answers, or a CPU whose bf16 does not pay)."""
    import torch

    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if cpu_bf16 and device.type == "cpu" and cpu_bf16_enabled():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def cpu_threads(device, n: int):
    """Run with `n` torch intra-op threads on the CPU (0, or a GPU device: leave torch's default).

    Small models on a shared CPU run far faster on one thread than on two that spin-wait on each
    other (measured 2.5x for recsys, up to 50x for the forecaster's small nets under load).
    The previous setting is restored on exit.
    """
    import torch

    before = torch.get_num_threads()
    if n and device.type == "cpu":
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# threads for a fit's big dense factorisations (see `factorising`); 0: every core this process may use
_FACTOR_THREADS: contextvars.ContextVar[int] = contextvars.ContextVar("factor_threads", default=0)


@contextlib.contextmanager
def factor_threads(n: int):
    """Let the big dense factorisations run inside this block use `n` torch threads (0: every core)."""
    token = _FACTOR_THREADS.set(n)
    try:
        yield
    finally:
        _FACTOR_THREADS.reset(token)


@contextlib.contextmanager
def factorising(device):
    """Run one big dense factorisation (EASE's I x I Cholesky) on `factor_threads` threads (a GPU: unchanged).

    Unlike many small solves, which train faster on one thread, it keeps every thread busy: 1.9x faster on
    2 idle cores for 20,000 titles (docs/benchmarks.md). An explicit `--threads` caps it too.
    """
    with cpu_threads(device, _FACTOR_THREADS.get() or len(os.sched_getaffinity(0))):
        yield


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
