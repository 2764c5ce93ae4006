"""Fine-tuning MiniLM for sentiment: the task (net, loss, optimizer, one `_step`) apart from the loop.

`SentimentTask` is Lightning-shaped (the module owns the net, the loss and the optimizer; `_step`
serves train and val); `fit` is the small loop that owns epochs, the device, bf16 autocast (CUDA,
or a CPU with native bf16), early stopping and the time budget. `TransformerScorer` is the batch
scorer used everywhere a saved model predicts: length-sorted, dynamically padded batches under
`torch.inference_mode`.
"""
from __future__ import annotations

import copy
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from data.device import autocast
from nlp.batching import Encoded, bucketed_batches, encode, iter_batches, pool_by_owner

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
logging.getLogger("transformers").setLevel(logging.ERROR)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_backbone(path: str | Path):
    """(tokenizer, 2-label sequence classifier) from a local folder; never touches the network, and
    reads the weights from safetensors only (a pickled pytorch_model.bin could run code). Code the
    folder's config names (`auto_map`) is refused outright: left unset, transformers asks on the
    terminal whether to run it."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _quiet_transformers()
    if os.environ.get("MARQUEE_TORCH_THREADS"):   # e.g. 1 on a CPU shared with other jobs: no spinning threads
        torch.set_num_threads(int(os.environ["MARQUEE_TORCH_THREADS"]))
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
    net = AutoModelForSequenceClassification.from_pretrained(str(path), num_labels=2, local_files_only=True,
                                                             use_safetensors=True, trust_remote_code=False)
    return tok, net


def binary_logit(logits: torch.Tensor) -> torch.Tensor:
    """(B, 2) class logits -> (B,) log-odds of positive."""
    return (logits[:, 1] - logits[:, 0]).float()


class SentimentTask(torch.nn.Module):
    """Net + loss + optimizer; `_step(batch, stage)` is the only place a batch meets the model."""

    def __init__(self, net, lr: float, weight_decay: float, total_steps: int, warmup_fraction: float):
        super().__init__()
        self.net = net
        self.hparams = {"lr": lr, "weight_decay": weight_decay, "total_steps": total_steps,
                        "warmup_fraction": warmup_fraction}
        self.loss_fn = torch.nn.CrossEntropyLoss()

    def configure_optimizers(self):
        h = self.hparams
        decay = [p for n, p in self.net.named_parameters() if p.ndim > 1 and "LayerNorm" not in n]
        no_decay = [p for n, p in self.net.named_parameters() if not (p.ndim > 1 and "LayerNorm" not in n)]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": h["weight_decay"]},
                                 {"params": no_decay, "weight_decay": 0.0}], lr=h["lr"])
        warm = max(1, int(h["warmup_fraction"] * h["total_steps"]))
        total = max(h["total_steps"], warm + 1)

        def schedule(step: int) -> float:   # linear warmup, then linear decay to 0
            return (step + 1) / warm if step < warm else max(0.0, (total - step) / (total - warm))

        return opt, torch.optim.lr_scheduler.LambdaLR(opt, schedule)

    def _step(self, batch: dict[str, torch.Tensor], stage: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, binary logits (B,)) for one batch; stage is 'train' or 'val' (no grad there)."""
        labels = batch.pop("labels")
        logits = self.net(**batch).logits
        return self.loss_fn(logits.float(), labels), binary_logit(logits)


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def fit(task: SentimentTask, enc: Encoded, labels: np.ndarray, device: torch.device, *, epochs: int,
        batch_size: int, seed: int, evals_per_epoch: int, patience: int, time_budget_s: float | None,
        validate: Callable[[], float], progress: bool = True) -> dict:
    """Train `task` on encoded texts; keep the weights with the best validation loss.

    validate() returns the validation loss of the current weights; it runs `evals_per_epoch` times
    per epoch and at the end. Stops early after `patience` checks without improvement, or when
    `time_budget_s` has passed. Returns a history dict.
    """
    task.to(device)
    opt, sched = task.configure_optimizers()
    lengths = enc.lengths()
    steps_per_epoch = math.ceil(len(lengths) / batch_size)
    check_every = max(1, steps_per_epoch // max(1, evals_per_epoch))
    best = {"val_loss": float("inf"), "state": None, "step": 0}
    history = {"train_loss": [], "val_loss": [], "steps": 0, "planned_steps": epochs * steps_per_epoch,
               "stopped": "epochs"}
    start, bad, step, run_loss = time.perf_counter(), 0, 0, []

    def check() -> bool:
        nonlocal bad
        task.eval()
        loss = validate()
        task.train()
        history["val_loss"].append((step, loss))
        if loss < best["val_loss"] - 1e-4:
            best.update(val_loss=loss, step=step, state=copy.deepcopy(task.net.state_dict()))
            bad = 0
        else:
            bad += 1
        return bad >= patience

    task.train()
    stop = False
    # closed on Ctrl-C too, before the CLI's `error: interrupted`: left open (the exception holds this frame), the bar
    # ends the line without a newline, so the error landed on its end, and was redrawn over at exit
    with tqdm(total=epochs * steps_per_epoch, desc="fine-tuning", unit="batch", disable=not progress) as bar:
        for epoch in range(epochs):
            batches = bucketed_batches(lengths, batch_size, shuffle=True, seed=seed + epoch)
            for _, batch in iter_batches(enc, batches, labels):
                with autocast(device, cpu_bf16=True):
                    loss, _ = task._step(_to(batch, device), "train")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(task.parameters(), 1.0)
                opt.step()
                sched.step()
                step += 1
                run_loss.append(float(loss.detach()))
                history["train_loss"].append(float(loss.detach()))
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(run_loss[-20:]):.3f}")
                if time_budget_s is not None and time.perf_counter() - start > time_budget_s:
                    history["stopped"] = "time_budget"
                    stop = True
                    break
                if step % check_every == 0 and step < epochs * steps_per_epoch and check():
                    history["stopped"] = "early_stopping"
                    stop = True
                    break
            if stop:
                break
    if not history["val_loss"] or history["val_loss"][-1][0] != step:
        check()
    if best["state"] is not None:
        task.net.load_state_dict(best["state"])
    history.update(steps=step, best_step=best["step"], best_val_loss=best["val_loss"],
                   train_seconds=time.perf_counter() - start)
    return history


class TransformerScorer:
    """Binary logits for texts from a fine-tuned classifier: sorted by length, padded per batch."""

    def __init__(self, tokenizer, net, device: torch.device, max_len: int, strategy: str = "head_tail",
                 head_fraction: float = 0.25, max_chunks: int = 8, batch_size: int = 64, cpu_bf16: bool = True):
        self.tok, self.net, self.device = tokenizer, net.to(device).eval(), device
        self.max_len, self.strategy, self.head_fraction = max_len, strategy, head_fraction
        self.max_chunks, self.batch_size = max_chunks, batch_size
        self.cpu_bf16 = cpu_bf16   # bf16 on a CPU with native bf16, as in training (data.device.autocast)

    @torch.inference_mode()
    def logits(self, texts: Sequence[str], strategy: str | None = None, progress: bool = False,
               labels: np.ndarray | None = None) -> np.ndarray | tuple[np.ndarray, float]:
        """Logits (n,) (mean over chunks for chunk_pool). With labels, also the mean cross-entropy
        of the sequences (the validation loss used for early stopping)."""
        enc = encode(self.tok, texts, self.max_len, strategy or self.strategy, self.head_fraction, self.max_chunks)
        out = np.zeros(len(enc.ids), dtype=np.float64)
        batches = bucketed_batches(enc.lengths(), self.batch_size, shuffle=False)
        for idx, batch in tqdm(iter_batches(enc, batches), total=len(batches), desc="scoring", unit="batch",
                               disable=not progress, leave=False):
            with autocast(self.device, self.cpu_bf16):
                out[idx] = binary_logit(self.net(**_to(batch, self.device)).logits).cpu().numpy()
        z = pool_by_owner(out, enc.owner, len(texts))
        if labels is None:
            return z
        y = np.asarray(labels)[enc.owner]
        ce = np.logaddexp(0.0, np.where(y == 1, -out, out)).mean()   # 2-class CE == logistic loss on z
        return z, float(ce)
