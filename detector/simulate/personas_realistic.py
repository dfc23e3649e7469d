"""The realistic world's personas: a provider's population as it looks, not as a demo.

Most accounts are small — hobbyists, developers trying the API, sign-ups of the week,
small apps, students — many behind carrier NAT, so unrelated accounts share
addresses. Heavy products are a few percent, and among them are the benign traps a
detector of *unusual* accounts trips on: LLM-as-judge and data-labelling platforms,
an evaluation company re-running fixed suites daily at temperature 0, **permitted
safety benchmarking** (sensitive prompts re-run when a model ships, mostly refused),
translation and document batch jobs, content farms, coding assistants, enterprise
and 24/7 global products, research labs of 5-15 accounts sharing one card and
network, classroom cohorts signed up together, and boilerplate system prompts.

Extraction is 0.5-2% of accounts (the ``prevalence``), and most of it is run as a
competent operator runs it: plain distillation and low-and-slow pulls in human
sessions through an official SDK from 1-3 addresses on months-old accounts, with
ordinary ``max_tokens`` and temperature and no chain-of-thought wording; a swarm of
light accounts sharing no card or network; a hydra linked only by templates and
timing; a real product hiding a pull in 10-30% of its traffic; a reseller. The loud
kinds (chain-of-thought elicitation, capability sweeps, safety probing, card- and
network-linked hydras) remain, as a minority.

Weights are shares *within a label*: benign weights split the benign accounts,
extraction weights split ``prevalence`` of the population (see :mod:`.worlds`).
Rates use the simulator's relative units (see :mod:`.personas`).
"""

from __future__ import annotations

from dataclasses import replace

from detector.schema import LABEL_BENIGN, LABEL_EXTRACTION
from detector.simulate.persona_spec import SWEEP_GRIDS, Persona, Stream
from detector.simulate.personas import PERSONAS_BY_NAME

B, X = LABEL_BENIGN, LABEL_EXTRACTION
_D = PERSONAS_BY_NAME
_SMALL_NETWORKS = (("residential", 0.5), ("carrier_nat", 0.35), ("mobile_v6", 0.15))
_ORDINARY_MAX_TOKENS = (1024, 2048, 4096)


def _reuse(name: str, weight: float, **changes: object) -> Persona:
    """A default-world persona with a realistic-world weight (and any other changes)."""
    return replace(_D[name], weight=weight, **changes)  # type: ignore[arg-type]


_HOBBY = _D["hobbyist"].streams[0]
_DEV = _D["developer_testing"].streams[0]
_CHAT_PRODUCT = _D["consumer_chat"].streams[0]

BENIGN: tuple[Persona, ...] = (
    # ----------------------------------------------------------- the small majority
    Persona(
        "hobbyist", B, 0.45,
        rate=(2, 40), active=(0.1, 0.6), age_days=(1, 1500), fresh_in_window=0.04,
        plans=(("free", 0.75), ("build", 0.25)), network=_SMALL_NETWORKS,
        ua=(("sdk", 0.45), ("browser", 0.3), ("generic", 0.25)),
        system_prompts=(0, 1), boilerplate_sys=0.5, min_active_days=1, streams=(_HOBBY,),
    ),
    Persona(
        "developer_testing", B, 0.2,
        rate=(10, 100), active=(0.08, 0.5), age_days=(1, 900), fresh_in_window=0.08,
        plans=(("free", 0.55), ("build", 0.45)),
        network=(("residential", 0.4), ("carrier_nat", 0.15), ("datacenter", 0.25),
                 ("corporate", 0.2)),
        ua=(("sdk", 0.55), ("generic", 0.45)),
        system_prompts=(0, 1), boilerplate_sys=0.5, min_active_days=1, streams=(_DEV,),
    ),
    Persona(
        "new_signup", B, 0.1,
        rate=(2, 25), active=(0.25, 0.7), fresh_in_window=1.0, exclusive_streams=True,
        plans=(("free", 0.9), ("build", 0.1)), network=_SMALL_NETWORKS,
        ua=(("sdk", 0.4), ("browser", 0.35), ("generic", 0.25)),
        system_prompts=(0, 1), boilerplate_sys=0.6, min_active_days=1,
        streams=(
            replace(_HOBBY, name="try_chat", share=(0.6, 0.6)),
            replace(_DEV, name="try_api", share=(0.4, 0.4)),
        ),
    ),
    Persona(
        "small_app", B, 0.1,
        rate=(3, 60), active=(0.5, 1.0), age_days=(20, 1200),
        plans=(("build", 0.6), ("scale", 0.3), ("free", 0.1)),
        network=(("server", 1.0),), ua=(("sdk", 0.85), ("generic", 0.15)),
        system_prompts=(1, 2), boilerplate_sys=0.35, exclusive_streams=True, min_active_days=1,
        streams=(
            Stream(
                "assistant", "chat", share=(0.4, 0.4), curve="product", session=("geom", 3, 10),
                gap_s=(50, 0.9), system_prompt=0.95, temperature=("fixed", (0.7, 1.0, 0.5)),
                max_tokens=(512, 1024, 2048), output=(250, 0.8), refusal=(0.002, 0.01),
            ),
            replace(_D["support_bot"].streams[0], name="helpdesk", share=(0.25, 0.25)),
            Stream(
                "docs", "document", share=(0.2, 0.2), curve="work", temperature=("zero",),
                system_prompt=0.6, max_tokens=(512, 1024), output=(180, 0.5),
            ),
            Stream(
                "copy", "seo", share=(0.15, 0.15), curve="work", session=("geom", 2, 8),
                gap_s=(40, 0.8), temperature=("fixed", (0.7, 1.0)), max_tokens=(1024, 2048),
                output=(500, 0.6),
            ),
        ),
    ),
    Persona(
        "classroom_cohort", B, 0.05,
        rate=(3, 30), active=(0.1, 0.4), group="cohort", group_size=(15, 40),
        plans=(("free", 1.0),), network=(("residential", 1.0),), ua=(("sdk", 1.0),),
        streams=(
            Stream(
                "coursework", "course", curve="school", session=("geom", 4, 15), gap_s=(60, 0.9),
                followup_p=0.5, system_prompt=0.8, temperature=("fixed", (1.0, 0.7)),
                max_tokens=(1024, 2048), output=(350, 0.8), refusal=(0.002, 0.01),
                thinking=0.05,
            ),
        ),
    ),
    # ------------------------------------------------------------- heavy products
    _reuse("consumer_chat", 0.008, boilerplate_sys=0.2),
    _reuse("global_chat_247", 0.004),
    _reuse("coding_assistant", 0.008, boilerplate_sys=0.1),
    _reuse("support_bot", 0.008),
    _reuse("agent_product", 0.006),
    _reuse("tutoring_app", 0.004),
    _reuse("enterprise_mixed", 0.008),
    _reuse("batch_document_pipeline", 0.004),
    _reuse("multi_account_org", 0.012),
    _reuse("evaluation_researcher", 0.004),
    _reuse("llm_judge_platform", 0.003),
    Persona(
        "data_labelling_platform", B, 0.003,
        rate=(60, 400), age_days=(120, 1200), plans=(("scale", 0.7), ("enterprise", 0.3)),
        network=(("server", 1.0),), ua=(("sdk", 0.6), ("generic", 0.4)), system_prompts=(1, 3),
        streams=(
            Stream(
                "labels", "labelling", share=(0.65, 0.8), curve="flat", session=("burst", 10, 80),
                conversation=0.0, gap_s=(1.5, 0.6), endpoints=(("messages", 0.6), ("batch", 0.4)),
                system_prompt=0.9, sys_tokens=(100, 600), temperature=("zero",),
                max_tokens=(16, 64, 256), output=(6, 0.8), logprobs=0.3,
            ),
            Stream(
                "judging", "judge", share=(0.1, 0.2), curve="flat", session=("burst", 5, 40),
                conversation=0.0, gap_s=(2, 0.7), system_prompt=1.0, temperature=("zero",),
                max_tokens=(64, 256), output=(12, 0.7), logprobs=0.3,
            ),
            Stream(
                "examples", "synth_data", share=(0.05, 0.15), curve="work",
                session=("burst", 5, 30), conversation=0.0, gap_s=(6, 0.8),
                temperature=("fixed", (0.7, 1.0)), max_tokens=(1024, 2048), output=(500, 0.6),
            ),
        ),
    ),
    Persona(
        "evaluation_company", B, 0.002,
        rate=(300, 2000), age_days=(90, 1500), adoption="evaluator",
        plans=(("scale", 0.6), ("enterprise", 0.4)),
        network=(("datacenter", 1.0),), ua=(("sdk", 0.7), ("generic", 0.3)),
        streams=(
            Stream(
                "suite", "eval_suite", timing="block", days="always", block=(1.0, 5.0, 0.5, 3.0),
                block_local=True, endpoints=(("messages", 0.6), ("batch", 0.4)),
                temperature=("zero",), max_tokens=(16, 64, 256, 1024), output=(40, 1.2),
                logprobs=0.4, error=0.002,
            ),
            Stream(
                "adhoc", "general", rate=(0.5, 5.0), curve="work", session=("geom", 2, 6),
                temperature=("fixed", (1.0, 0.7)), max_tokens=_ORDINARY_MAX_TOKENS,
                output=(300, 0.8),
            ),
        ),
    ),
    Persona(
        "safety_benchmarking", B, 0.002,
        rate=(200, 1200), age_days=(120, 1500), adoption="evaluator",
        plans=(("scale", 0.5), ("enterprise", 0.5)),
        network=(("datacenter", 0.6), ("corporate", 0.4)), ua=(("sdk", 0.8), ("generic", 0.2)),
        streams=(
            Stream(
                "release_run", "safety_suite", timing="block", days="release",
                block=(13.5, 20.0, 1.0, 4.0), temperature=("zero",), max_tokens=(512, 1024),
                output=(300, 0.8), refusal=(0.6, 0.9), error=0.002,
            ),
            Stream(
                "regression", "safety_suite", timing="block", days=(0, 1),
                block=(1.0, 6.0, 1.0, 3.0), temperature=("zero",), max_tokens=(512, 1024),
                output=(300, 0.8), refusal=(0.6, 0.9), error=0.002,
            ),
            Stream(
                "review", "general", rate=(1.0, 10.0), curve="work", session=("geom", 3, 8),
                temperature=("fixed", (1.0, 0.7)), max_tokens=_ORDINARY_MAX_TOKENS,
                output=(300, 0.8), refusal=(0.01, 0.05),
            ),
        ),
    ),
    Persona(
        "translation_batch", B, 0.003,
        rate=(100, 800), age_days=(90, 1500), plans=(("scale", 0.6), ("enterprise", 0.4)),
        network=(("datacenter", 1.0),), ua=(("sdk", 0.7), ("generic", 0.3)), system_prompts=(0, 1),
        streams=(
            Stream(
                "jobs", "translate", timing="block", days="always", block=(0.0, 24.0, 1.0, 4.0),
                endpoints=(("batch", 0.7), ("messages", 0.3)), system_prompt=0.5,
                temperature=("fixed", (0.0, 0.2, 0.3)), max_tokens=(2048, 4096),
                output=(450, 0.5),
            ),
        ),
    ),
    Persona(
        "content_generation", B, 0.004,
        rate=(30, 300), active=(0.7, 1.0), age_days=(30, 900),
        plans=(("build", 0.5), ("scale", 0.5)),
        network=(("datacenter", 0.6), ("server", 0.4)), ua=(("sdk", 0.6), ("generic", 0.4)),
        system_prompts=(0, 1), boilerplate_sys=0.5,
        streams=(
            Stream(
                "articles", "seo", timing="block", days="account", block=(0.0, 24.0, 2.0, 10.0),
                system_prompt=0.5, temperature=("fixed", (0.7, 0.8, 1.0)),
                max_tokens=(2048, 4096), output=(900, 0.5),
            ),
        ),
    ),
    Persona(
        "research_org", B, 0.012,
        rate=(10, 150), active=(0.4, 0.9), group="lab", group_size=(5, 15),
        exclusive_streams=True, plans=(("build", 0.4), ("scale", 0.6)),
        network=(("corporate", 1.0),), ua=(("sdk", 0.7), ("generic", 0.3)), system_prompts=(0, 2),
        streams=(
            Stream(
                "experiments", "research_eval", share=(0.4, 0.4), timing="block", days=(1, 3),
                block=(9.0, 18.0, 1.0, 4.0), block_local=True, temperature=("grid", SWEEP_GRIDS),
                max_tokens=(256, 1024, 4096), output=(200, 1.0), logprobs=0.4, thinking=0.3,
            ),
            Stream(
                "chat", "general", share=(0.25, 0.25), curve="work", session=("geom", 3, 10),
                gap_s=(80, 0.9), temperature=("fixed", (0.7, 1.0)),
                max_tokens=_ORDINARY_MAX_TOKENS, output=(350, 0.8), thinking=0.2,
            ),
            replace(_D["coding_assistant"].streams[0], name="code", share=(0.25, 0.25)),
            Stream(
                "redteam", "safety_suite", share=(0.1, 0.1), curve="work", session=("burst", 5, 30),
                conversation=0.0, gap_s=(5, 0.8), temperature=("zero",), max_tokens=(512, 1024),
                output=(300, 0.8), refusal=(0.5, 0.85),
            ),
        ),
    ),
)  # fmt: skip

_PLAIN = Stream(
    "pull", "plain", curve="work", session=("geom", 25, 120), conversation=0.2, gap_s=(8, 0.8),
    followup_p=0.6, system_prompt=0.5, temperature=("fixed", (0.7, 1.0, 0.8)),
    max_tokens=_ORDINARY_MAX_TOKENS, output=(550, 0.7), refusal=(0.002, 0.01), thinking=0.1,
)  # fmt: skip

EXTRACTION: tuple[Persona, ...] = (
    # --------------------------------------------------------- quiet and competent
    Persona(
        "hydra_no_shared_infra", X, 0.4,
        rate=(15, 40), active=(0.85, 1.0), group="swarm", countries="any", adoption="fast",
        plans=(("free", 0.6), ("build", 0.4)), network=(("proxy", 1.0),), ua=(("sdk", 1.0),),
        streams=(
            Stream(
                "relayed", "relay", share=(0.35, 0.45), curve="product", session=("geom", 3, 10),
                gap_s=(45, 0.9), followup_p=0.5, system_prompt=0.6,
                temperature=("fixed", (0.7, 1.0)), max_tokens=_ORDINARY_MAX_TOKENS,
                output=(320, 0.8), refusal=(0.003, 0.02),
            ),
            Stream(
                "generation", "synth_data", share=(0.55, 0.65), curve="flat",
                temperature=("fixed", (0.8, 0.9, 1.0)), max_tokens=(2048, 4096),
                output=(700, 0.6),
            ),
        ),
    ),
    Persona(
        "hydra_template_timing", X, 0.12,
        rate=(20, 60), age_days=(60, 240), group="hydra", evidence=("none",),
        cluster_sizes=(30,), creation_spread_h=(240.0, 1200.0), exclusive_streams=True,
        countries="any", plans=(("free", 0.5), ("build", 0.5)),
        network=(("datacenter", 0.5), ("residential", 0.5)),
        ua=(("sdk", 0.7), ("generic", 0.3)), adoption="fast",
        streams=(
            Stream(
                "campaign", "synth_data", timing="campaign", block=(7.0, 7.0, 11.0, 11.0),
                temperature=("fixed", (0.7, 1.0)), max_tokens=(2048, 4096), output=(700, 0.6),
            ),
        ),
    ),
    Persona(
        "plain_distillation", X, 0.08,
        rate=(150, 600), active=(0.85, 1.0), age_days=(90, 1200), countries="any",
        plans=(("build", 0.5), ("scale", 0.5)),
        network=(("residential", 0.35), ("datacenter", 0.65)),
        ua=(("sdk", 1.0),), system_prompts=(0, 1), boilerplate_sys=0.6, adoption="fast",
        streams=(_PLAIN,),
    ),
    Persona(
        "low_and_slow", X, 0.08,
        rate=(15, 70), active=(0.8, 1.0), age_days=(200, 1500),
        plans=(("build", 0.7), ("scale", 0.3)),
        network=(("residential", 0.6), ("carrier_nat", 0.2), ("datacenter", 0.2)),
        ua=(("sdk", 1.0),), system_prompts=(0, 1), boilerplate_sys=0.6, adoption="fast",
        streams=(
            replace(_PLAIN, name="slow", curve="human", session=("geom", 6, 30), gap_s=(40, 0.9)),
        ),
    ),
    Persona(
        "mixed_cover", X, 0.05,
        rate=(40, 300), age_days=(200, 1500), plans=(("scale", 0.7), ("enterprise", 0.3)),
        network=(("server", 1.0),), ua=(("sdk", 1.0),), system_prompts=(1, 3),
        streams=(
            replace(_CHAT_PRODUCT, name="product", share=(0.72, 0.88)),
            Stream(
                "pull", "plain", share=(0.11, 0.27), timing="block", days="always",
                block=(0.0, 24.0, 6.0, 20.0), temperature=("fixed", (0.7, 1.0)),
                max_tokens=(2048, 4096), output=(550, 0.6), ua=("generic", 0.5),
                network=("datacenter", 0.5), adoption="fast",
            ),
        ),
    ),
    Persona(
        "reseller_relay", X, 0.03,
        rate=(80, 500), age_days=(120, 1200), countries="any",
        plans=(("build", 0.5), ("scale", 0.5)), network=(("server", 1.0),),
        ua=(("sdk", 0.5), ("generic", 0.3), ("browser", 0.2)), ua_count=(8, 30),
        system_prompts=(5, 25),
        streams=(
            Stream(
                "users", "relay", share=(0.6, 0.75), curve="global", session=("geom", 3, 12),
                gap_s=(60, 0.9), followup_p=0.5, system_prompt=0.7,
                temperature=("fixed", (1.0, 0.7)), max_tokens=_ORDINARY_MAX_TOKENS,
                output=(300, 0.8), refusal=(0.003, 0.02),
            ),
            Stream(
                "bulk", "plain", share=(0.25, 0.4), timing="block", days="always",
                temperature=("fixed", (0.7, 1.0)), max_tokens=(2048, 4096), output=(550, 0.6),
                adoption="fast",
            ),
        ),
    ),
    # ------------------------------------------------------------------ loud kinds
    Persona(
        "hydra_shared_card", X, 0.06,
        rate=(20, 80), age_days=(1, 20), fresh_in_window=0.5, group="hydra",
        evidence=("payment",), cluster_sizes=(15, 25), exclusive_streams=True,
        plans=(("free", 0.6), ("build", 0.4)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 0.6), ("sdk", 0.4)), adoption="fast",
        streams=(_D["hydra"].streams[0],),
    ),
    Persona(
        "hydra_shared_network", X, 0.06,
        rate=(20, 80), age_days=(1, 20), fresh_in_window=0.5, group="hydra",
        evidence=("network",), cluster_sizes=(20, 30), exclusive_streams=True,
        plans=(("free", 0.6), ("build", 0.4)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 0.6), ("sdk", 0.4)), adoption="fast",
        streams=(_D["hydra"].streams[1],),
    ),
    Persona(
        "cot_elicitation", X, 0.04,
        rate=(60, 300), age_days=(1, 400), fresh_in_window=0.2, exclusive_streams=True,
        plans=(("build", 0.7), ("free", 0.1), ("scale", 0.2)), countries="any",
        network=(("datacenter", 0.7), ("residential", 0.3)), ua=(("sdk", 0.5), ("generic", 0.5)),
        adoption="fast",
        streams=(
            replace(_D["bulk_distillation"].streams[0], name="distill", share=(0.5, 0.5)),
            replace(_D["reasoning_trace_extraction"].streams[0], name="traces", share=(0.5, 0.5)),
        ),
    ),
    _reuse("capability_sweep", 0.03, age_days=(1, 400), ua=(("sdk", 0.5), ("generic", 0.5))),
    _reuse("safety_probing", 0.03),
    _reuse("code_distillation", 0.02, age_days=(1, 400), ua=(("sdk", 0.5), ("generic", 0.5))),
)  # fmt: skip

REALISTIC_PERSONAS: tuple[Persona, ...] = BENIGN + EXTRACTION
SWARM_PERSONA = "hydra_no_shared_infra"
"""The no-shared-infrastructure hydra, whose size ``--hydra-accounts`` can set."""
