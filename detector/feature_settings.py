"""Which settings define a feature's value, and what a bundle was trained with.

A model is scored on the features it was fitted on, so the settings that decide a
feature's value from the log are recorded with every bundle and scored run, and scoring
takes them from the bundle (:meth:`detector.config.Config.with_features_of`). A setting
added later has a *legacy* value: the rule a bundle trained before it used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FEATURE_SETTINGS", "LEGACY_FEATURE_SETTINGS", "settings_trained_with"]


def _like(current: Any, value: Any) -> Any:
    """``value`` (from a bundle's JSON) as the type of the setting's ``current`` value;
    ``None`` (a rule switched off) stays ``None``."""
    return value if value is None or current is None else type(current)(value)


FEATURE_SETTINGS: tuple[str, ...] = (
    "text_head_chars",
    "text_tail_chars",
    "frontier_model_pattern",
    "min_requests_for_timing",
    "quiet_window_hours",
    "suite_rerun_share",
    "suite_max_temperature",
    "suite_adoption",
    "reading_tokens_per_s",
    "min_followups",
    "typed_context_tokens",
    "harvest_max_input_tokens",
    "harvest_min_output_tokens",
    "harvest_max_prompt_chars",
    "harvest_length_spread",
    "harvest_topic_breadth",
    "bench_new_per_day",
)
"""Settings that decide a feature's value from the log (beyond the topic model, which a
bundle carries itself): scoring takes them from the bundle
(:meth:`detector.config.Config.with_features_of`)."""

LEGACY_FEATURE_SETTINGS: dict[str, Any] = {
    "harvest_topic_breadth": "touched",
    "typed_context_tokens": 0,
    "harvest_length_spread": False,
    "suite_adoption": True,
    "suite_max_temperature": None,
    "bench_new_per_day": None,
    "harvest_max_prompt_chars": None,
}
"""The value a feature setting had before it existed: what a bundle whose recorded
config names other feature settings but not this one was trained with."""


def settings_trained_with(trained: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, Any]:
    """The feature settings to apply to a config whose values are ``current`` so that it
    computes features as the config ``trained`` (a bundle's recorded config) did.

    A setting that did not exist when the bundle was trained (``trained`` names other
    feature settings, not this one) takes its :data:`LEGACY_FEATURE_SETTINGS` value; a
    ``trained`` that names none changes nothing. Values are cast to the type of the
    current one (a bundle's config comes back from JSON: lists for tuples, 1 for 1.0)."""
    recorded = {n: trained[n] for n in FEATURE_SETTINGS if trained.get(n) is not None}
    if recorded:
        recorded = {**LEGACY_FEATURE_SETTINGS, **recorded}
    return {name: _like(current[name], value) for name, value in recorded.items()}
