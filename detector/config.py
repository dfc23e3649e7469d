"""One home for every tunable default of the pipeline.

Commands and the nightly job build a :class:`Config` (optionally overriding fields)
instead of repeating literals, so a default changes in exactly one place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from detector.config_learned import LearnedSettings
from detector.feature_settings import FEATURE_SETTINGS, settings_trained_with


@dataclass(frozen=True)
class Config(LearnedSettings):
    """Defaults for ingest, features, model and alerting; the learned layer's are
    :class:`~detector.config_learned.LearnedSettings` (inherited: one object, one field
    per default)."""

    # ingest
    chunk_rows: int = 50_000
    """Rows per streamed chunk: bounds the memory of reading, validating and annotating.
    Up to ``workers + 1`` chunks are in flight at once, each with its prompts and the
    annotation's text forms, so this sets the peak of a run's first pass (2 days of the
    10M-request bench log: 2.5 GiB at 100k rows, 1.6-1.8 GiB at 50k, for no more CPU;
    docs/performance.md, fourth round). It never changes a feature."""
    bucket_target_rows: int = 500_000
    """Rows per account-hash bucket when the log is spilled; bounds feature memory."""
    partition_slack_hours: float = 3.0
    """How far a row's timestamp may lie outside its ``date=`` partition's UTC day before
    it is quarantined: log shipping puts the last minutes of a day into the next day's
    partition (late delivery) and clocks drift a little. A row further away (1970, a
    month early) is a shipping or clock fault and would widen the scored time span."""
    span_max_gap_days: int = 2
    """A flat log's span: its busiest run of days with at most this many empty days
    between two of them (a weekend's outage). Rows further off (a clock fault a month
    early) would stretch the window every per-day feature divides by."""
    span_max_stray_share: float = 0.01
    """Rows off the span are quarantined only up to this share of the log's rows; more is
    a log of two periods, read whole with one warning naming the gap."""

    annotation_cache_days: float = 3.0
    """How long an annotated file unused by any run stays in the annotation cache
    (:mod:`detector.annotation_cache`; the nightly job's). A window slides by a day a
    night, so a day's entry is used every night until the day leaves the window."""

    workers: int = max(1, min(2, os.cpu_count() or 1))
    """Threads annotating chunks while the next one is read (the machine has 2 cores)."""

    # text heuristics: only the head and tail of a prompt are scanned (wrappers live there)
    text_head_chars: int = 320
    text_tail_chars: int = 160

    prompt_memo_entries: int = 1_000_000
    """Most distinct prompts whose text columns a run remembers across chunks, so a
    prompt seen in an earlier chunk is not annotated again (:mod:`detector.promptmemo`):
    40 bytes each, 40 MB at this default (twice that for a moment while a chunk's new
    prompts are merged in). Past it, new prompts are annotated but not remembered."""

    # model tiers (detector.features.tier)
    frontier_model_pattern: str = r"(?i)(?:^|[^a-z0-9])(?:pro|opus|ultra|max|large)(?:[^a-z0-9]|$)"
    """A model whose name matches this regular expression is of the provider's most capable
    (and most expensive) tier: "-pro", "opus", "ultra", "-max", "-large", as model names
    usually say. Capability extraction wants the best teacher; products choose by cost and
    latency. A provider with another naming scheme sets its own pattern; when no model of
    the log matches (or every one does) ``frontier_model_share`` is constant and says
    nothing."""

    # topic model
    topic_clusters: int = 24
    topic_fit_rows: int = 100_000
    """The topic model is fitted on the first clean chunk of this many rows that has
    prompts (:mod:`detector.topic_fit`), read apart from the stream's chunks."""
    topic_sample_rows: int = 20_000
    topic_hash_features: int = 2**15
    topic_components: int = 50
    """Latent directions (LSA) the topic model clusters prompts in (:mod:`detector.topics`)."""

    # features
    min_requests_for_timing: int = 5
    """Accounts with fewer requests get the neutral value for timing features."""
    quiet_window_hours: int = 6
    suite_rerun_share: float = 0.7
    """An account whose distinct prompts are at least this share re-runs (sent on another
    day or to another model) runs a fixed suite: its re-run prompts do not count in its
    content shares or its unread follow-ups. Measured on an unseen realistic population
    (seed 303): safety benchmarking 0.75-0.99 and an evaluation company 0.92-1.0; safety
    probing at most 0.39 there, and capability sweeps and distillation under 0.1."""
    suite_max_temperature: float | None = 0.2
    """Hottest temperature at which a re-sent prompt counts towards
    :attr:`suite_rerun_share` (rows without one count). A suite samples near 0 to compare
    answers; a prober re-sends its probes hot until one gets through, and was taken for
    a benchmark without this (docs/realistic-baseline.md, session 29). None: the rule of
    bundles trained before it."""
    suite_adoption: bool = False
    """Whether an account that runs a fixed suite (see :attr:`suite_rerun_share`) can show
    adoption. False: its move to a new model is neutral. Evaluation re-runs its suite on
    a new model the day it ships and its people review the new model's answers with new
    prompts the same day; those prompts read as a fast switch (a safety benchmarker "10 h
    after the release, 1st percentile"). On four realistic populations with a release,
    safety benchmarking flagged 2 -> 0 (1212), 1 -> 0 (7171), PR-AUC -0.0002 to +0.0001
    (docs/realistic-baseline.md, session 24). True: the behaviour of bundles trained
    before session 24."""
    reading_tokens_per_s: float = 50.0
    """A follow-up sent sooner after the previous turn than its answer takes to read at
    this speed was not read by a person: people read 4-8 tokens a second, so 50 (about
    2,000 words a minute, a skim; the gap also holds the answer's generation time) is
    what no person beats and a script always does. At 20, chat products whose users
    skim and ask again counted as unread and their conversation family rivalled
    extraction's: on four realistic populations without a release, moving to 50 cut the
    accounts flagged from 236-249 to 211-227 (precision 0.77-0.81 -> 0.84-0.88; global
    chat products 6-15% -> 5-7% flagged, data labelling 3-13% -> 2-5%) for 1-5 fewer
    extraction accounts flagged; PR-AUC -0.0024 to +0.0056 (docs/realistic-baseline.md,
    session 20). 100 flagged global chat products again (9-12%)."""
    min_followups: int = 10
    """Accounts with fewer timed follow-up turns get the neutral unread share."""
    typed_context_tokens: int = 4000
    """Without prompt text in the log, a conversation whose smallest turn (its opening:
    later turns carry the history too) has more input tokens than this opens on a
    program's context -- an agent's tool definitions and workspace, a document -- not on a
    typed question under a product's system prompt, and its follow-ups say nothing about
    whether a person reads (with prompt text, the 400-character rule of
    ``detector.features.conversation`` decides). 0 counts every conversation (bundles
    trained before session 23). On realistic populations 707 and 4242 with the prompt
    column removed, agent products' tool loops read as unread follow-ups and 71-72% of
    them were flagged; at 4000, none, and PR-AUC 0.73 -> 0.84 and 0.51 -> 0.60
    (docs/realistic-baseline.md, session 23). Logs with prompt text are unchanged."""
    harvest_max_input_tokens: int = 150
    harvest_min_output_tokens: int = 400
    """A request of at most 150 input tokens that drew 400+ output tokens harvests an
    answer: a short standalone question, a long complete reply."""
    harvest_max_prompt_chars: int | None = 600
    """With prompt text and turn indices in the log, a conversation of one turn whose
    prompt has at most this many characters (about 150 tokens) asks a short question too,
    whatever system prompt it carries. Input tokens count the system prompt: a boilerplate
    one of a few hundred tokens on half a distiller's requests hid half its harvesting
    (docs/realistic-baseline.md, session 38). None: input tokens alone (bundles trained
    before session 38)."""
    harvest_length_spread: bool = True
    """Without prompt text in the log, weigh the harvest share by how much the harvesting
    prompts' lengths vary (their input tokens' coefficient of variation, at most 1), in
    place of topic breadth: a product's template fills one slot and varies little in
    length, questions drawn from everywhere vary as much as they are long. On realistic
    populations 707 and 4242 with the prompt column removed, content-generation products
    were 61-76% flagged on the plain share (coefficient 0.18 against 0.77-0.79 for plain
    distillation and low-and-slow; docs/realistic-baseline.md, session 24). False: the
    share alone (bundles trained before session 24). Logs with prompt text are unchanged."""
    harvest_topic_breadth: str = "effective"
    """How ``broad_harvest_share`` weighs the harvest share by topic breadth:
    ``"effective"``, the effective share of topics (2 ** topic entropy over the number of
    topics), or ``"touched"``, the share of topics touched at all (bundles trained before
    session 22). Touched topics grow with volume: a small product centred on two or three
    subjects touches most of the 24 in a few hundred requests, as a distiller does. On
    three realistic populations (6262, 7171, 707) the effective share cut the benign
    accounts flagged 49 -> 22, 12 -> 7 and 27 -> 16 (small apps 12 -> 0 at 6262) and raised
    PR-AUC 0.952 -> 0.960, 0.990 -> 0.992, 0.975 -> 0.980 (docs/realistic-baseline.md)."""

    bench_new_per_day: int | None = 10
    """``bench_share`` is weighed by the share of the window's days on which the account
    asked at least this many new benchmark-style questions: a sweep pulls new items daily,
    a researcher on a day or two (None: unweighed, bundles trained before session 31;
    docs/realistic-baseline.md)."""

    # sub-streams (detector.substreams)
    substreams: bool = True
    """Score each account's qualifying sub-streams too (``--no-substreams`` turns it off)."""
    substream_kinds: tuple[str, ...] = ("system",)
    """How an account's traffic is split (detector.substreams.KINDS): ``system`` (system
    prompt, or none); opt-in ``shape`` (max_tokens x temperature) and ``client`` (user
    agent x network). On the realistic population (seeds 303/404) adding ``shape`` took
    mixed cover from 50%/40% to 70%/50% flagged but safety benchmarkers from 0% to
    2.5%/5%; adding ``client`` lifted safety benchmarkers, whose harness runs from its
    own client, to 40%/22.5% (docs/operations.md)."""
    substream_min_requests: int = 50
    """A sub-stream needs this many requests to be scored (fewer: its features are noise)..."""
    substream_min_unshaped_requests: int = 30
    """...or this many for the one without a value (no system prompt: what the product did
    not shape), the first suspect, when it holds ``substream_min_unshaped_share`` of the
    account: a mixed-cover pull of 37-48 requests a week, 12-19% of its product's traffic,
    was missed at 50 (docs/realistic-baseline.md, session 34)."""
    substream_min_unshaped_share: float = 0.1
    """A developer's tests through a product's key (5-10% of its traffic) rarely reach it."""
    substream_min_share: float = 0.05
    """...and at least this share of its account's requests (less is not a stream)."""
    substream_max_share: float = 0.5
    """...and at most this share: a majority stream already dominates the account's own
    features, and scoring it would double the work for the accounts with two clients."""
    substream_max_rows_share: float = 0.5
    """Per account and kind, qualifying sub-streams are taken (the one without a system
    prompt first, then smallest first) while their rows stay within this share of the
    account's: bounds the extra feature work."""

    # model
    n_estimators: int = 150
    family_estimators: int = 25
    """Trees per feature-family subspace forest (see AnomalyModel)."""
    max_samples: int = 256
    """Accounts drawn to grow each tree of the full-space forest."""
    family_max_samples: int = 2048
    """Accounts drawn to grow each tree of a family forest. A tree of ``n`` accounts is
    about ``log2 n`` levels deep, so it cannot order accounts beyond its top ``1/n``:
    at 256 every account past a family's 99.6th percentile got about the same depth (the
    conversation family's score rose only from 0.94 at a harvest share of 15-20%, where
    benign accounts mix with extraction, to 1.1 at 30-50%, where every one extracts). With about
    1% of accounts extracting, the ranking is decided in that top half-percent. 2048
    (session 27, docs/realistic-baseline.md): PR-AUC on six realistic populations
    +0.0009 on average (five of six up, the unseen 8128 0.9971 -> 0.9985),
    low-and-slow within the top k 0.69-0.94 -> 0.81-0.94; training time unchanged."""
    family_sample_share: float = 0.125
    """...but at most this share of the training accounts (never fewer than
    :attr:`max_samples`): a tree that sees every account sees every member of a campaign,
    and alike accounts isolate together (:func:`detector.forest_blend.family_sample_size`).
    Populations of 16,384 accounts or more get the full :attr:`family_max_samples`. On the
    default population (1,405 accounts) trees of every account took PR-AUC from 0.9921 to
    0.9908 and 0.9963 to 0.9957 (seeds 7 and 11); at an eighth, 0.9921 and 0.9962."""
    random_state: int = 0
    alert_budget: str | None = None
    """Share (``"2%"``) or count (``"50"``) of the training cases the model's default
    threshold flags; None (the default): :attr:`alert_spreads` decides, under
    :attr:`alert_ceiling` (detector.ranking.default_threshold)."""
    alert_spreads: float = 5.0
    """The default threshold sits this many bulk spreads (median to 75th percentile, in
    raw score) above the training median, for family trees as deep as the full forest's
    (:attr:`max_samples`). A fixed 2% budget flagged 2% whatever the population held: on
    realistic populations (about 1% extraction) half its alerts were heavy legitimate
    products, on the default one (about 10% extraction) it left whole hydras unflagged.
    Measured (session 10): at 5, flagged accounts 505 -> 330 and 551 -> 363 on two
    realistic populations (precision 0.39 -> 0.57, 0.35 -> 0.48), 75 -> 158 and 44 -> 146
    on two default ones, every flagged case extraction there. Which accounts rank within
    the top k does not depend on it."""
    alert_spreads_per_doubling: float = 1 / 6
    """Added to :attr:`alert_spreads` for each doubling of the family trees' sample
    beyond :attr:`max_samples` (:func:`detector.ranking.depth_spreads`): 5.5 at 2048.
    Deeper trees draw the bulk's 75th percentile towards the median, so five spreads fell
    about a point lower. Six realistic populations (family trees of 2048), benign /
    extraction accounts flagged: 41 / 1,170 before the trees grew, 55 / 1,183 at 5, 30 /
    1,171 at 5.25, 14 / 1,164 at 5.5 (no benign kind over 2% on any of them); on a seventh
    chosen after, 5 / 197 -> 1 / 195 (session 27). The default population's trees stay at
    256 (:attr:`family_sample_share`), and so does its line: a flat 5.5 there flagged 92
    and 83 accounts instead of 127 and 148 (seeds 7 and 11, every one extraction either
    way; session 28)."""
    alert_ceiling: str = "10%"
    """The default threshold never flags more than this share of the training cases: a
    guard against a population whose bulk is unusually tight, not a budget. The rule
    flags 5-7% of the default population's cases (every one of them extraction); at a
    5% ceiling a 41-account hydra's case (67.93) missed the capped threshold (67.98)."""
    cluster_behaviour_multiple: float = 1.75
    """A coordination cluster is scored as a cluster (its members carry its cluster
    features into the model) only when its median member's behaviour score
    (:mod:`detector.behaviour`: links left out) reaches this multiple of the training
    median; a quieter cluster's members are scored as unlinked accounts, each on its
    own behaviour (:mod:`detector.quiet_clusters`). Linking is evidence of coordination,
    not of extraction: classroom cohorts and research organisations are linked too.
    Campaigns' medians sat at 0.46-1.06, benign clusters' at 0.03-0.32 (session 15);
    1.75 since the family forests grew deeper (session 27) and kept a 41-account hydra of
    the default population a cluster. 0 scores every cluster as a cluster. Measurements:
    docs/realistic-baseline.md, sessions 15 and 27."""
    cluster_rider_share: float = 0.6
    """...and a member of a cluster scored as one whose own behaviour score is under this
    share of the cluster's median member's *rides along*: it is scored and cased as an
    unlinked account (its cluster id stays, so the link is still shown). A campaign's
    accounts run one script, so they behave alike: over ten realistic populations none
    of 2,370 extraction members of loud clusters was under 0.666 of its median (0.1st
    percentile 0.69), while benign accounts linked into campaigns were flagged at their
    case score: labelling platforms and new sign-ups at 0.25-0.44 (session 33, at 0.5),
    and three of a classroom cohort created in a hydra's creation hours on its SDK
    configuration at 0.50-0.57 (session 37, seed 2626). Riders that share evidence of
    their own and are loud as a group are a second campaign in the cluster and stand
    with it (:func:`detector.quiet_clusters.rider_campaigns`). 0 lifts every member."""
    n_reasons: int = 3
    tail_weight: float = 0.25
    """Weight of the tail-probability (ECOD-style) score in the blend (detector.tails)."""
    full_forest_weight: float = 0.25
    """Share of the full-space forest in the forests' part of the blend (the family forests
    take the rest). A forest over all features isolates what is *big*: at 0.5 heavy
    legitimate products outranked quiet extraction (docs/realistic-baseline.md, session 9)."""
    family_floor: float | None = 0.0
    """Normalised family scores below this count as this (None: no floor). 0 is the
    training median: a family in which an account is *more typical* than the median says
    nothing, instead of cancelling another family's evidence (a capability sweep that
    holds no conversations lost its place to heavy products before the floor)."""
    family_weights: tuple[tuple[str, float], ...] = (
        ("conversation", 4.0),
        ("adoption", 3.0),
        ("tier", 3.0),
        ("probing", 2.0),
    )
    """Relative weight of a family's subspace forest in the blend, and of its features'
    terms in the tail score (:class:`detector.tails.TailScorer`); unnamed families weigh 1,
    one constant over the training population 0
    (:func:`detector.forest_blend.silence_constant_families`). The families weighed up are
    evidence of extraction rather than of being unusual: conversation (a reading speed and
    a token budget: a script harvesting answers), adoption (a new model within hours of
    its release, with new prompts, not a suite's re-runs), tier (the share of requests on
    the provider's most capable models, against its catalogue) and probing (harmful
    topics and jailbreak phrasing in new prompts, sent while the account was new:
    session 41). Each weight was chosen on
    realistic populations and checked on unseen ones -- conversation 4 and adoption 3
    (sessions 8, 13), tier 3 (session 14), probing 2 (session 36) -- and the figures, with
    the weights tried and rejected, are in docs/realistic-baseline.md."""
    peer_quantiles: tuple[float, ...] = (0.5, 0.8, 0.95)
    """Population quantiles of requests/day that cut peer tiers (see detector.peers)."""
    peer_prior: float = 5.0
    """Accounts' worth of weight the population's statistics keep in each tier's."""
    peer_families: tuple[str, ...] = ("volume",)
    """Feature families compared with peers of similar size (volume: being big is not by
    itself a reason). Adding timing and infra measured worse on 3 of 4 populations."""
    peer_spread_floor: float = 0.5
    """A tier's spread is at least this share of the population's (see detector.peers)."""

    # nightly
    window_days: int = 7
    max_window_days: int = 366
    """Longest --window-days accepted: a year; longer is a typo, not a window."""
    retrain_days: int = 7
    topic_refit_days: int = 28
    """A scheduled retrain (model age, new verdicts) keeps the current model's topic model
    while the window it was fitted on ended at most this many days before tonight's: the
    days already annotated with it are replayed from the annotation cache instead of read
    again, and topic ids (so topic features and scores) stay put from one retrain to the
    next. A retrain triggered by drift or asked to (``--refit-topics``) refits it, and so
    does one after this many days. 0: refit on every retrain."""
    psi_threshold: float = 0.25
    rise_margin: float = 15.0
    """Score points a closed case (or a cleared account, over the score its verdict
    answered) must rise by to alert again."""
    benign_verdict_days: int = 90
    """Days a ``benign`` verdict holds: then the account is judged again when it flags
    (an ``extraction`` verdict does not lapse)."""
    max_rule_pattern_chars: int = 200
    """Longest user-agent / template pattern a suppression rule accepts."""
    max_rule_days: int = 366
    """Longest a suppression rule may last: a rule without an end is forgotten, not kept."""
    psi_bins: int = 10
    """Quantile bins per feature for the drift (PSI) check against the training population."""
    lock_timeout_hours: float = 6.0
    """A run holding the nightly lock longer than this is reported as probably hung (a run
    never takes this long); the lock itself is freed only when its holder exits."""

    # evaluation
    min_label_overlap: float = 0.5
    """Share of a labels file's accounts that must be among the scored accounts for
    ``detector evaluate`` to measure anything (fewer means another population's labels)."""

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view, stored in model bundles and run summaries."""
        return asdict(self)

    def with_features_of(self, trained: Mapping[str, Any]) -> Config:
        """This config with the settings that define a feature's value
        (:data:`FEATURE_SETTINGS`) taken from ``trained``, the config a model bundle was
        trained with (``Bundle.config``): a model is scored on the features it was fitted
        on, so a bundle trained before a default changed keeps its own definitions.
        A setting the bundle predates takes its value from before it existed
        (:func:`detector.feature_settings.settings_trained_with`)."""
        return replace(self, **settings_trained_with(trained, self.feature_settings()))

    def feature_settings(self) -> dict[str, Any]:
        """The settings that define features (:data:`FEATURE_SETTINGS`) and their values:
        recorded with every scored run, so a run says which definitions it scored."""
        return {name: getattr(self, name) for name in FEATURE_SETTINGS}


HARVEST_TOPIC_BREADTHS: tuple[str, ...] = ("effective", "touched")
"""The values of :attr:`Config.harvest_topic_breadth`."""


DEFAULT = Config()
