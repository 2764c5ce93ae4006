"""Live model calls for the interactive panels (cold-start recommendations, "try your own review").

The pipelines load their own models; these wrappers cache the answers per (input, run) so a
rerun of the page does not score again, and turn "no model yet" into a message that says which
command fills it. A pipeline that is not installed or not trained is an empty state, not a crash.
"""
from __future__ import annotations

import importlib

import pandas as pd
import streamlit as st

from app import queries as q
from app.markdown_text import md_escape
from data.errors import MarqueeError


def _serving_run(pipeline: str) -> str | None:
    """The run that serves the pipeline's published outputs (else its newest trained run): the live
    answers then come from the same model as the tables next to them."""
    serving = q.serving_run(pipeline)
    return serving["run_id"] if serving else None


@st.cache_data(ttl=3600, show_spinner=False, max_entries=500)
def _recommend(item_ids: tuple[str, ...], k: int, home: str, run_id: str) -> pd.DataFrame:
    api = importlib.import_module("recsys.api")
    return pd.DataFrame(api.recommend_for_history(list(item_ids), k=k, home=home, run_id=run_id))


@st.cache_data(ttl=3600, show_spinner=False, max_entries=20)
def _known(home: str, run_id: str) -> frozenset[str]:
    return importlib.import_module("recsys.api").known_titles(home=home, run_id=run_id)


@st.cache_data(ttl=3600, show_spinner=False, max_entries=500)
def _predict(texts: tuple[str, ...], home: str, run_id: str) -> list[float]:
    api = importlib.import_module("nlp.api")
    return [float(p) for p in api.predict_texts(list(texts), home=home, run_id=run_id)]


def recommend_for_history(item_ids: list[str], k: int = 10) -> tuple[pd.DataFrame | None, str | None]:
    """(recommendations with titles or None, a note to show or None). Picked titles the model does not know (no
    events when it trained) are left out, and the note names them."""
    run_id = _serving_run("recsys")
    if run_id is None:
        return None, "No recommender trained yet: run `marquee train recsys`."
    try:
        known = _known(q.home(), run_id)
        left_out = [t for t in item_ids if t not in known]
        recs = _recommend(tuple(t for t in item_ids if t in known), k, q.home(), run_id)
    except (ImportError, AttributeError):
        return None, "The recommender package is not available in this install."
    except MarqueeError as exc:
        return None, md_escape(str(exc))   # notes are shown as markdown; messages quote paths and data
    except Exception as exc:  # noqa: BLE001 - a live panel explains a broken model instead of failing the page
        return None, f"The recommender could not answer ({type(exc).__name__}: {md_escape(str(exc))})."
    names = q.title_names(recs["item_id"].astype(str).tolist()) if len(recs) else None
    if names is not None:
        recs = recs.assign(item_id=recs["item_id"].astype(str)).merge(names, on="item_id", how="left")
        recs = recs[[c for c in ("item_id", "title", "genres", "score", "reason") if c in recs.columns]]
    if not left_out:
        return recs, None
    titles = dict(q.title_names(left_out)[["item_id", "title"]].itertuples(index=False))
    shown = ", ".join(md_escape(str(titles.get(t) or t)) for t in left_out)
    return recs, (f"Left out: {shown} (no one had watched {'it' if len(left_out) == 1 else 'them'} when this "
                  "model trained)" + ("; these are the most popular titles." if len(left_out) == len(item_ids) else "."))


def predict_texts(texts: list[str]) -> tuple[list[float] | None, str | None]:
    """(p_positive per text, None) or (None, why not)."""
    run_id = _serving_run("sentiment")
    if run_id is None:
        return None, "No sentiment model trained yet: run `marquee train sentiment`."
    try:
        return _predict(tuple(texts), q.home(), run_id), None
    except (ImportError, AttributeError):
        return None, "The sentiment package is not available in this install."
    except MarqueeError as exc:
        return None, md_escape(str(exc))
    except Exception as exc:  # noqa: BLE001 - as above
        return None, f"The sentiment model could not answer ({type(exc).__name__}: {md_escape(str(exc))})."
