"""Missing or damaged model files: one error line naming the file and the run, for every pipeline.

Small real models (EASE, TF-IDF, a one-epoch N-HiTS, a tiny BERT saved as a MiniLM folder) are
saved through the pipelines' own code once per module; each test damages a private copy. Loading
must refuse the copy with a MarqueeError of one line, publish nothing, and never read a pickle.
"""
from __future__ import annotations

import json
import pickle
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from app.cli import main as marquee
from app.markdown_text import md_escape
from data import ingest, store
from data.errors import MarqueeError
from tests.recsys_fixtures import N_ITEMS, clustered_events
from tests.test_nlp_model import toy_reviews


def _flip_mid_data(p: Path) -> None:
    """Change one byte in the middle of a safetensors file's tensor data (the header stays valid)."""
    data = bytearray(p.read_bytes())
    start = 8 + struct.unpack("<Q", data[:8])[0]
    data[start + (len(data) - start) // 2] ^= 0xFF
    p.write_bytes(bytes(data))


DAMAGES: dict[str, Callable[[Path], object]] = {
    "deleted": lambda p: p.unlink(),
    "emptied": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "garbage": lambda p: p.write_bytes(bytes(range(256)) * 8),
    "bad JSON": lambda p: p.write_text('{"kind": '),
    "a JSON list": lambda p: p.write_text("[1, 2, 3]"),
    "a pickle": lambda p: p.write_bytes(pickle.dumps({"weights": np.ones(3)})),
}


def _copy(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str = "home") -> Path:
    """A private copy of `home` (runs record their model folder relative to the home: the copy's are used)."""
    copy = tmp_path / name
    shutil.copytree(home, copy)
    monkeypatch.setenv("MARQUEE_HOME", str(copy))
    return copy


def _assert_one_line(exc: pytest.ExceptionInfo, path: Path, run_id: str, pipeline: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith(f"{path}: the model files of run {run_id} are damaged or incomplete ("), msg
    assert msg.endswith(f"); train a new run with `marquee train {pipeline}`"), msg
    return msg


def _assert_damage_refused(trained_ro, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pipeline: str, name: str,
                           damage: str, score) -> None:
    """Damage file `name` of a copy of the trained run: `score(home, run_id)` refuses it in one line naming
    the file and the run, and publishes nothing."""
    home, run_id = trained_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / name
    DAMAGES[damage](path)
    with pytest.raises(MarqueeError) as exc:
        score(home, run_id)
    _assert_one_line(exc, path, run_id, pipeline)
    assert _published(home, run_id) == 0


def _published(home: Path, run_id: str) -> int:
    with store.read(home) as con:
        return con.execute("SELECT count(*) FROM run_outputs WHERE run_id = $r", {"r": run_id}).fetchone()[0]


# ---------------------------------------------------------------- recsys

@pytest.fixture(scope="module")
def recsys_ro(tmp_path_factory) -> tuple[Path, str]:
    from recsys import api

    folder = tmp_path_factory.mktemp("recsys-files")
    home = folder / "home"
    store.init(home)
    pd.DataFrame({"item_id": [f"t{i}" for i in range(N_ITEMS)],
                  "title": [f"Title {i}" for i in range(N_ITEMS)]}).to_csv(folder / "items.csv", index=False)
    clustered_events().to_csv(folder / "events.csv", index=False)
    ingest.ingest("items", folder / "items.csv", home)
    ingest.ingest("interactions", folder / "events.csv", home)
    return home, api.train(home, "quick", "cpu", seed=1, model="ease")


RECSYS_FILES = ("model/model.safetensors", "model/config.json", "ids.json")


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", RECSYS_FILES)
def test_recsys_refuses_a_damaged_file_naming_it(recsys_ro, tmp_path, monkeypatch, name, damage):
    from recsys import api

    _assert_damage_refused(recsys_ro, tmp_path, monkeypatch, "recsys", name, damage,
                           lambda home, run_id: api.score(home, run_id, "cpu", k=5))


def test_recsys_model_saved_without_a_checksum_still_loads_to_the_same_picks(recsys_ro, tmp_path, monkeypatch):
    from recsys import api

    home, run_id = recsys_ro
    home = _copy(home, tmp_path, monkeypatch)
    before = api.recommend_for_history(["t1", "t2"], k=5, home=home, run_id=run_id)
    old = _copy(home, tmp_path, monkeypatch, "old")
    path = old / "artifacts" / run_id / "model" / "config.json"
    config = json.loads(path.read_text())
    assert set(config.pop("sha256")) == {"model.safetensors"}      # as saved before checksums were recorded
    path.write_text(json.dumps(config))
    pd.testing.assert_frame_equal(api.recommend_for_history(["t1", "t2"], k=5, home=old, run_id=run_id), before)


def test_recsys_flipped_bytes_are_caught_by_the_recorded_checksum(recsys_ro, tmp_path, monkeypatch, capsys):
    home, run_id = recsys_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "model" / "model.safetensors"
    _flip_mid_data(path)
    assert marquee(["score", "recsys", "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ") and "Traceback" not in err
    assert "SHA-256 mismatch" in err and _published(home, run_id) == 0


def test_recsys_ids_that_do_not_fit_the_model_are_named(recsys_ro, tmp_path, monkeypatch):
    from recsys import api

    home, run_id = recsys_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "ids.json"
    ids = json.loads(path.read_text())
    path.write_text(json.dumps({**ids, "items": ids["items"][:-1]}))
    with pytest.raises(MarqueeError) as exc:
        api.recommend_for_history(["t1"], home=home, run_id=run_id)
    assert "titles for a model of" in _assert_one_line(exc, path, run_id, "recsys")


@pytest.mark.parametrize("change", [{"kind": "nope"}, {"shape": [30]}, {"params": []}, {"sha256": "abc"}])
def test_a_recsys_config_with_impossible_values_is_named(recsys_ro, tmp_path, monkeypatch, change):
    from recsys import api

    home, run_id = recsys_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "model" / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(MarqueeError) as exc:
        api.evaluate(home, run_id)
    _assert_one_line(exc, path, run_id, "recsys")


def test_the_cold_start_panel_shows_the_error_line(recsys_ro, tmp_path, monkeypatch):
    from app import live

    home, run_id = recsys_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "model" / "config.json"
    path.write_text("[]")
    recs, why_not = live.recommend_for_history(["t1"], k=5)
    assert recs is None   # the panel's note is markdown: the message's paths and punctuation come escaped
    assert why_not.startswith(md_escape(f"{path}: the model files of run {run_id} are damaged")) and "\n" not in why_not


# ---------------------------------------------------------------- sentiment (TF-IDF)

@pytest.fixture(scope="module")
def sentiment_ro(tmp_path_factory) -> tuple[Path, str]:
    from nlp import api

    folder = tmp_path_factory.mktemp("sentiment-files")
    home = folder / "home"
    store.init(home)
    toy_reviews(120).to_csv(folder / "labeled.csv", index=False)
    return home, api.train(home, model="tfidf", labeled=folder / "labeled.csv", progress=False)


SENTIMENT_FILES = ("linear/weights.safetensors", "linear/vocab.json", "sentiment.json")


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", SENTIMENT_FILES)
def test_sentiment_refuses_a_damaged_file_naming_it(sentiment_ro, tmp_path, monkeypatch, name, damage):
    from nlp import api

    _assert_damage_refused(sentiment_ro, tmp_path, monkeypatch, "sentiment", name, damage,
                           lambda home, run_id: api.score(home, run_id, progress=False))


def test_sentiment_flipped_weights_fail_through_the_cli_and_the_app(sentiment_ro, tmp_path, monkeypatch, capsys):
    from app import live

    home, run_id = sentiment_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "linear" / "weights.safetensors"
    _flip_mid_data(path)
    capsys.readouterr()   # the first `import app.live` may log Streamlit's "no runtime" warnings
    assert marquee(["score", "sentiment", "--home", str(home)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ") and "SHA-256 mismatch" in err

    probs, why_not = live.predict_texts(["a wonderful film"])   # the Sentiment page's "try your own review"
    assert probs is None and why_not == md_escape(err.removeprefix("error: ").rstrip("\n"))


def test_sentiment_linear_model_saved_without_a_checksum_still_loads(sentiment_ro, tmp_path, monkeypatch):
    from nlp import api

    home, run_id = sentiment_ro
    home = _copy(home, tmp_path, monkeypatch)
    vocab = home / "artifacts" / run_id / "linear" / "vocab.json"
    meta = json.loads(vocab.read_text())
    assert set(meta.pop("sha256")) == {"weights.safetensors"}
    vocab.write_text(json.dumps(meta))
    test = toy_reviews(20, seed=3)
    p = np.asarray(api.predict_texts(test["text"].tolist(), home, run_id))
    assert ((p >= 0.5) == (test["label"] == 1)).all()


BAD_SENTIMENT_META = {   # each value would load and silently change (or stop) every prediction
    "temperature": [-1, 0, float("nan"), float("inf")], "linear_temperature": [0, -2.5],
    "transformer_temperature": [0], "max_len": [0, 2], "max_chunks": [0], "eval_batch_size": [0, -8],
    "max_chars": [0, -1], "head_fraction": [-0.1, 1.5], "blend_weight": [5, 0.5], "model": ["minilm", "nblr", "bert"],
    "truncation": ["tail"],
}


def _edit_json(path: Path, change: dict) -> None:
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))   # NaN/Infinity as Python writes them


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, vs in BAD_SENTIMENT_META.items() for v in vs])
def test_a_sentiment_json_value_out_of_range_is_named(sentiment_ro, tmp_path, monkeypatch, key, value):
    from nlp import api

    home, run_id = sentiment_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "sentiment.json"
    _edit_json(path, {key: value})
    if (key, value) == ("model", "minilm"):      # the kind's own file is what is missing: it is the one named
        path = path.parent / "transformer" / "model.safetensors"
    with pytest.raises(MarqueeError) as exc:
        api.score(home, run_id, progress=False)
    assert f"'{key}' is {value!r}" in _assert_one_line(exc, path, run_id, "sentiment")
    assert _published(home, run_id) == 0


def test_an_edited_model_dir_is_refused_through_the_cli(sentiment_ro, tmp_path, monkeypatch, capsys):
    home, run_id = sentiment_ro
    md = tmp_path / "md"
    shutil.copytree(home / "artifacts" / run_id, md)
    texts = tmp_path / "ok.csv"
    texts.write_text("review_id,text\nr1,great movie loved it\nr2,awful\n")
    args = ["score", "sentiment", "--model-dir", str(md), "--input", str(texts), "--output", str(tmp_path / "o.csv"),
            "--home", str(home)]
    assert marquee(args) == 0                                  # the copy as saved scores
    capsys.readouterr()
    _edit_json(md / "sentiment.json", {"temperature": -1})
    assert marquee(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {md / 'sentiment.json'}: ")
    assert "'temperature' is -1; it must be a finite number above 0" in err


def test_in_range_sentiment_json_edits_still_load(sentiment_ro, tmp_path, monkeypatch):
    from nlp import api

    home, run_id = sentiment_ro
    home = _copy(home, tmp_path, monkeypatch)
    _edit_json(home / "artifacts" / run_id / "sentiment.json",
               {"temperature": 2.0, "max_len": 3, "max_chunks": 1, "eval_batch_size": 1, "max_chars": 1,
                "head_fraction": 0, "linear_temperature": 0.5})
    p = np.asarray(api.predict_texts(["a wonderful film", "dull and tedious"], home, run_id))
    assert ((p > 0) & (p < 1)).all()


# ---------------------------------------------------------------- sentiment (a MiniLM-shaped folder)

@pytest.fixture(scope="module")
def minilm_ro(tmp_path_factory) -> Path:
    """A tiny BERT classifier with MiniLM's tokenizer, saved by SentimentModel.save like a fine-tuned run."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from data.sources import minilm_dir
    from nlp.model import SentimentModel
    from nlp.transformer import TransformerScorer

    tok = AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    torch.manual_seed(0)
    net = BertForSequenceClassification(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                                   num_attention_heads=2, intermediate_size=32,
                                                   max_position_embeddings=64, num_labels=2))
    meta = {"max_len": 32, "truncation": "head_tail", "head_fraction": 0.25, "max_chunks": 2, "max_chars": 2000,
            "eval_batch_size": 8, "model": "minilm", "blend_weight": 1.0, "transformer_temperature": 1.0,
            "linear_temperature": 1.0, "temperature": 1.0}
    folder = tmp_path_factory.mktemp("minilm") / "sentiment-minilm"
    SentimentModel(meta, TransformerScorer(tok, net, torch.device("cpu"), 32, batch_size=8), None).save(folder)
    return folder


@pytest.fixture
def minilm(minilm_ro, tmp_path) -> Path:
    copy = tmp_path / minilm_ro.name
    shutil.copytree(minilm_ro, copy)
    return copy


def _load_minilm(folder: Path):
    from nlp import api

    return api.load_model(model_dir=folder, device="cpu")


def test_a_saved_transformer_folder_loads_and_scores(minilm):
    p = _load_minilm(minilm).predict(["a wonderful film", "dull and tedious"])
    assert p.shape == (2,) and ((p > 0) & (p < 1)).all()


def test_a_pickled_checkpoint_is_never_loaded(minilm):
    from safetensors.torch import load_file

    from nlp.transformer import load_backbone

    weights = minilm / "transformer" / "model.safetensors"
    torch.save(load_file(weights), minilm / "transformer" / "pytorch_model.bin")
    weights.unlink()
    with pytest.raises(MarqueeError) as exc:
        _load_minilm(minilm)
    assert "(missing)" in _assert_one_line(exc, weights, minilm.name, "sentiment")
    with pytest.raises(OSError, match="safetensors"):   # nor does the loader underneath fall back to it
        load_backbone(minilm / "transformer")


def test_code_named_by_a_transformer_config_is_never_run(minilm, tmp_path, monkeypatch):
    """A config.json whose model type transformers does not know and whose `auto_map` names a .py in the
    folder: refused in one line, without asking on the terminal (where a "y" would import that .py)."""
    marker = tmp_path / "code-ran"
    folder = minilm / "transformer"
    (folder / "planted.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    _edit_json(folder / "config.json", {"model_type": "planted", "auto_map": {
        "AutoConfig": "planted.Config", "AutoModelForSequenceClassification": "planted.Model"}})
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "y")
    with pytest.raises(MarqueeError) as exc:
        _load_minilm(minilm)
    assert "custom code" in _assert_one_line(exc, folder, minilm.name, "sentiment")
    assert not marker.exists() and asked == []


@pytest.mark.parametrize("damage", ["emptied", "truncated", "garbage", "a pickle"])
def test_damaged_transformer_weights_are_named(minilm, damage):
    weights = minilm / "transformer" / "model.safetensors"
    DAMAGES[damage](weights)
    with pytest.raises(MarqueeError) as exc:
        _load_minilm(minilm)
    _assert_one_line(exc, weights, minilm.name, "sentiment")


def test_flipped_transformer_weights_are_refused_by_the_checksum(minilm):
    weights = minilm / "transformer" / "model.safetensors"
    _flip_mid_data(weights)
    with pytest.raises(MarqueeError, match="SHA-256 mismatch") as exc:
        _load_minilm(minilm)
    _assert_one_line(exc, weights, minilm.name, "sentiment")


@pytest.mark.parametrize("name", ["config.json", "tokenizer.json"])
def test_a_damaged_transformer_config_or_tokenizer_is_named(minilm, name):
    (minilm / "transformer" / name).write_text("[1, 2")
    with pytest.raises(MarqueeError) as exc:
        _load_minilm(minilm)
    where = minilm / "transformer" / name if name == "config.json" else minilm / "transformer"
    _assert_one_line(exc, where, minilm.name, "sentiment")


def test_a_missing_transformer_folder_is_named(minilm):
    shutil.rmtree(minilm / "transformer")
    with pytest.raises(MarqueeError) as exc:
        _load_minilm(minilm)
    _assert_one_line(exc, minilm / "transformer" / "model.safetensors", minilm.name, "sentiment")


@pytest.mark.parametrize("change", [{"max_len": 65}, {"model": "tfidf"}, {"model": "tfidf", "blend_weight": 0.0},
                                    {"transformer_temperature": 0}])
def test_a_transformer_sentiment_json_that_does_not_fit_its_files_is_named(minilm, change):
    path = minilm / "sentiment.json"     # the tiny BERT reads at most 64 positions; a tfidf model has no transformer
    _edit_json(path, change)
    with pytest.raises(MarqueeError) as exc:
        _load_minilm(minilm)
    _assert_one_line(exc, path, minilm.name, "sentiment")


# ---------------------------------------------------------------- forecast (a tiny N-HiTS)

@pytest.fixture(scope="module")
def forecast_ro(tmp_path_factory) -> tuple[Path, str]:
    from forecasting import api

    home = tmp_path_factory.mktemp("forecast-files") / "home"
    store.init(home)
    rng = np.random.default_rng(1)
    rows = [(item, pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=w, hours=int(h)))
            for item, mean in (("1", 30), ("2", 15), ("3", 8)) for w, n in enumerate(rng.poisson(mean, 16))
            for h in rng.integers(0, 7 * 24, n)]
    events = pd.DataFrame(rows, columns=["item_id", "ts"]).assign(user_id="u", rating=4.0, event_type="rating")
    items = pd.DataFrame({"item_id": ["1", "2", "3"], "title": ["A", "B", "C"], "genres": ["Drama", "Comedy", "Drama"]})
    with store.write(home) as con:
        con.register("i", items)
        con.execute("INSERT INTO items BY NAME SELECT * FROM i")
        con.register("e", events)
        con.execute("INSERT INTO interactions BY NAME SELECT * FROM e")
    run_id = api.train(home, model="nhits", cutoff="2024-04-22", horizon=2, max_epochs=1, hidden_size=8,
                       encoder_length=4, inner_origins=0, batch_size=32, progress=False)
    return home, run_id


FORECAST_FILES = ("recipe.json", "model.json", "model-0.safetensors")


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("name", FORECAST_FILES)
def test_forecast_refuses_a_damaged_file_naming_it(forecast_ro, tmp_path, monkeypatch, name, damage):
    from forecasting import api

    _assert_damage_refused(forecast_ro, tmp_path, monkeypatch, "forecast", name, damage,
                           lambda home, run_id: api.score(home, run_id, "cpu"))


def test_forecast_flipped_weights_fail_through_the_cli(forecast_ro, tmp_path, monkeypatch, capsys):
    home, run_id = forecast_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "model-0.safetensors"
    _flip_mid_data(path)
    assert marquee(["score", "forecast", "--home", str(home), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: {path}: ") and "SHA-256 mismatch" in err
    assert "Traceback" not in err and _published(home, run_id) == 0


@pytest.mark.parametrize("change", [{"horizon": "2"}, {"freq": "M"}, {"cutoff": "2024-04-23"},
                                    {"scales": {"item": [[1.0]], "genre": [[1.0]]}}])
def test_a_recipe_with_impossible_values_is_named(forecast_ro, tmp_path, monkeypatch, change):
    from forecasting import api

    home, run_id = forecast_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "recipe.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(MarqueeError) as exc:
        api.evaluate(home, run_id, "cpu", progress=False)
    _assert_one_line(exc, path, run_id, "forecast")


def test_forecast_networks_saved_without_checksums_still_score(forecast_ro, tmp_path, monkeypatch):
    from forecasting import api

    home, run_id = forecast_ro
    home = _copy(home, tmp_path, monkeypatch)
    path = home / "artifacts" / run_id / "model.json"
    config = json.loads(path.read_text())
    assert set(config.pop("sha256")) == {"model-0.safetensors"}
    path.write_text(json.dumps(config))
    assert api.score(home, run_id, "cpu")["rows"] > 0
