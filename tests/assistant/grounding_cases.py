"""Retrieval hits made by hand for the grounding tests, in Python and under Node alike."""

from __future__ import annotations

import dataclasses

import numpy as np
from pagemind.search_index import Hit


def hit(
    number: int,
    url: str,
    text: str,
    cosine: float = 0.5,
    strength: float = 0.0,
    coverage: float = 0.0,
) -> Hit:
    return Hit(
        id=number,
        url=url,
        page=url.split("/")[0] + ".md",
        heading=url.split("#")[-1],
        breadcrumb=f"Page \u203a {url.split('#')[-1]}",
        text=text,
        score=cosine,
        cosine=cosine,
        coverage=coverage,
        strength=strength,
        chunks=(number,),
    )


def nested_sections(subsection_unit: float) -> tuple[list[Hit], np.ndarray, np.ndarray]:
    """Candidates, a query vector and their units' vectors: a section ("timeouts"), its
    subsection ("default", whose one unit has cosine `subsection_unit` with the query),
    another page's section, and a section of a third page with the subsection's breadcrumb.
    Scored by their units, they rank: the section 0.85, the other page's 0.75, the third
    page's 0.6, the subsection (0.5 + subsection_unit) / 2."""
    within = "Page \u203a timeouts \u203a default"
    candidates = [
        hit(0, "timeouts/#timeouts", "Timeouts keep a request from waiting forever.", 0.7),
        _crumb(hit(1, "timeouts/#default", "The default is five seconds.", 0.5), within),
        hit(2, "retries/#retries", "Retries are set on the transport.", 0.6),
        _crumb(hit(3, "pool/#default", "The pool holds ten connections.", 0.5), within),
    ]
    query = np.random.default_rng(1).standard_normal(16)
    vectors = np.array([_along(query, c) for c in (1.0, subsection_unit, 0.9, 0.7)])
    return candidates, query, vectors


def _crumb(section: Hit, breadcrumb: str) -> Hit:
    return dataclasses.replace(section, breadcrumb=breadcrumb)


def _along(query: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at `cosine` with the query."""
    direction = query / np.linalg.norm(query)
    other = np.random.default_rng(2).standard_normal(query.size)
    other -= (other @ direction) * direction
    return cosine * direction + np.sqrt(1 - cosine**2) * other / np.linalg.norm(other)
