"""Sentiment model: fine-tuning lowers the loss, save/load is exact, calibration helps, truncation is right."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from data.sources import minilm_dir
from nlp.batching import bucketed_batches, collate, encode
from nlp.calibrate import fit_temperature, nll
from nlp.config import make_config
from nlp.model import SentimentModel

POS = ["great", "wonderful", "brilliant", "superb", "loved", "excellent", "delightful", "moving"]
NEG = ["awful", "terrible", "boring", "dull", "hated", "dreadful", "poor", "tedious"]
FILL = ["the film was", "honestly this movie is", "i thought the acting was", "overall the story felt"]


def toy_reviews(n: int = 96, seed: int = 0) -> pd.DataFrame:
    """A separable toy set: the label is carried by a sentiment word."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = i % 2
        word = rng.choice(POS if label else NEG)
        rows.append((f"{rng.choice(FILL)} {word} and {rng.choice(POS if label else NEG)}", label))
    return pd.DataFrame(rows, columns=["text", "label"])


@pytest.fixture(scope="module")
def backbone():
    from nlp.transformer import load_backbone

    torch.manual_seed(0)
    return load_backbone(minilm_dir())


def test_a_few_finetuning_steps_lower_the_loss(backbone):
    from nlp.transformer import SentimentTask

    tok, net = backbone
    df = toy_reviews(16)
    enc = encode(tok, df["text"].tolist(), max_len=16)
    batch = collate(enc.ids)
    batch["labels"] = torch.tensor(df["label"].tolist())
    task = SentimentTask(net, lr=1e-4, weight_decay=0.0, total_steps=6, warmup_fraction=0.0)
    opt, sched = task.configure_optimizers()
    with torch.no_grad():
        before = task._step(dict(batch), "val")[0].item()
    task.train()
    for _ in range(6):
        loss, _ = task._step(dict(batch), "train")
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    task.eval()
    with torch.no_grad():
        after = task._step(dict(batch), "val")[0].item()
    assert after < before - 0.05


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from data.device import pick_device
    from nlp.train import train_model

    cfg = make_config("quick", max_train=None, max_val=16, val_fraction=0.25, max_len=16, batch_size=8,
                      eval_batch_size=32, epochs=1, evals_per_epoch=1, time_budget_s=None)
    model, metrics = train_model(toy_reviews(64), cfg, pick_device("cpu"), seed=1, progress=False)
    folder = tmp_path_factory.mktemp("sentiment-model")
    model.save(folder)
    return model, metrics, folder


def test_saved_model_reloads_to_identical_predictions(trained):
    model, _, folder = trained
    texts = toy_reviews(20, seed=5)["text"].tolist() + ["x " * 300, "a"]
    again = SentimentModel.load(folder, "cpu")
    assert again.meta == model.meta
    np.testing.assert_array_equal(again.predict(texts), model.predict(texts))
    assert {p.name for p in (folder / "transformer").iterdir()} >= {"model.safetensors", "config.json",
                                                                     "tokenizer.json"}


def test_training_records_both_truncations_and_calibrated_validation(trained):
    model, m, _ = trained
    assert set(m["val_truncation"]) == {"head_tail", "chunk_pool"}
    assert model.meta["truncation"] in ("head_tail", "chunk_pool")
    assert m["val"]["nll"] <= m["val"]["nll_uncalibrated"] + 1e-12
    assert m["val"]["accuracy"] >= 0.9          # a separable set: the blend or the transformer gets it


def test_temperature_scaling_lowers_nll_of_overconfident_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    true_logit = np.where(y == 1, 1.0, -1.0) + rng.normal(0, 1.5, 400)
    z = 6.0 * true_logit                                   # over-confident by a factor of 6
    t = fit_temperature(z, y)
    assert 3.0 < t < 12.0
    assert nll(z, y, t) < nll(z, y, 1.0) - 0.1


def test_head_tail_keeps_both_ends_and_chunks_cover_the_text(backbone):
    tok, _ = backbone
    text = "start " + "middle " * 200 + "finish"
    (seq,) = encode(tok, [text], max_len=32, strategy="head_tail").ids
    assert len(seq) == 32 and seq[0] == tok.cls_token_id and seq[-1] == tok.sep_token_id
    words = tok.decode(seq[1:-1]).split()
    assert words[0] == "start" and words[-1] == "finish"
    chunks = encode(tok, [text, "short"], max_len=32, strategy="chunk_pool", max_chunks=4)
    assert (chunks.owner == 0).sum() == 4 and (chunks.owner == 1).sum() == 1
    assert all(len(s) <= 32 for s in chunks.ids)


def test_bucketed_batches_cover_every_index_once_with_similar_lengths():
    lengths = np.random.default_rng(0).integers(5, 500, 1000)
    for shuffle in (False, True):
        batches = bucketed_batches(lengths, 32, shuffle=shuffle, seed=3)
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(1000))
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.25 * np.ptp(lengths)              # padding waste far below random batches


def test_cpu_bf16_autocast_only_where_the_cpu_has_it(monkeypatch):
    from data.device import autocast, cpu_bf16_enabled

    a, cpu = torch.randn(8, 8), torch.device("cpu")
    with autocast(cpu):                      # recsys and forecasting: always fp32 on the CPU
        assert (a @ a).dtype == torch.float32
    with autocast(cpu, cpu_bf16=True):       # the transformer: bf16 only with hardware support
        assert (a @ a).dtype == (torch.bfloat16 if cpu_bf16_enabled() else torch.float32)
    monkeypatch.setenv("MARQUEE_CPU_BF16", "0")   # the user's switch back to fp32
    assert not cpu_bf16_enabled()
    with autocast(cpu, cpu_bf16=True):
        assert (a @ a).dtype == torch.float32


def test_bf16_scoring_agrees_with_fp32(trained):
    """Scoring under CPU bf16 (the default where the CPU has it) gives the fp32 answers, nearly."""
    from nlp.transformer import TransformerScorer

    model, _, _ = trained
    s = model.scorer
    texts = toy_reviews(40, seed=7)["text"].tolist()
    fp32 = TransformerScorer(s.tok, s.net, s.device, s.max_len, s.strategy, cpu_bf16=False).logits(texts)
    bf16 = TransformerScorer(s.tok, s.net, s.device, s.max_len, s.strategy, cpu_bf16=True).logits(texts)
    assert np.all((fp32 > 0) == (bf16 > 0))
    np.testing.assert_allclose(bf16, fp32, atol=0.05 + 0.02 * np.abs(fp32).max())


def test_temperature_is_1_when_validation_is_perfectly_separated():
    y = np.array([0, 1, 0, 1, 1])
    assert fit_temperature(np.array([-0.5, 0.2, -3.0, 4.0, 0.1]), y) == 1.0
    assert fit_temperature(np.array([-0.5, 0.2, 3.0, 4.0, 0.1]), y) != 1.0   # one wrong side: fitted as before



def _interrupted(*_args, **_kwargs):
    raise KeyboardInterrupt   # as Ctrl-C lands inside a batch


def test_ctrl_c_closes_the_fine_tuning_bar_before_the_error_line(capsys, monkeypatch):
    """An open bar ends its line without a newline: the CLI's `error: interrupted` landed on its end, and the bar,
    closed only at exit, was redrawn over it. (A bar that is the loop's iterator closes as the exception leaves.)"""
    from types import SimpleNamespace

    from nlp import transformer

    monkeypatch.setattr(transformer, "iter_batches", _interrupted)   # fine-tuning stops at its first batch
    enc = transformer.Encoded(ids=[[1, 2], [1, 3]], owner=np.array([0, 1]))
    task = SimpleNamespace(to=lambda device: None, configure_optimizers=lambda: (None, None), train=lambda: None)
    try:
        transformer.fit(task, enc, np.array([0, 1]), torch.device("cpu"), epochs=1, batch_size=2, seed=0,
                        evals_per_epoch=1, patience=1, time_budget_s=None, validate=lambda: 0.0)
    except KeyboardInterrupt:   # read while the exception, and the frames it holds, live: when the CLI prints
        err = capsys.readouterr().err
    else:
        pytest.fail("not interrupted")
    assert err.startswith("\rfine-tuning") and err.endswith("\n")
