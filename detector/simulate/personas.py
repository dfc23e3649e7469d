"""Who is in the default simulated world: every persona is data (parameters), not code.

Each persona is a :class:`~.persona_spec.Persona` (an account archetype with a label)
with its :class:`~.persona_spec.Stream` components. The engine in
:mod:`detector.simulate.traffic` turns these parameters into rows; nothing here knows
how rows are built.

Request rates are in the simulator's *relative* units: heavy products are scaled
down (a real 20k-request/day chat product is a few hundred here) so that the default
world stays small, while the ordering and overlap of volumes between benign and
extraction personas is kept. ``volume_scale`` multiplies every rate.
"""

from __future__ import annotations

from detector.schema import LABEL_BENIGN, LABEL_EXTRACTION
from detector.simulate.persona_spec import SWEEP_GRIDS, Persona, Stream

B, X = LABEL_BENIGN, LABEL_EXTRACTION
_DISTILL_TEMPS = ("grid", SWEEP_GRIDS)

PERSONAS: tuple[Persona, ...] = (
    # ------------------------------------------------------------------ benign
    Persona(
        "hobbyist", B, 0.34,
        rate=(1, 30), active=(0.15, 0.6), age_days=(1, 1500), fresh_in_window=0.08,
        plans=(("free", 0.7), ("build", 0.3)),
        network=(("residential", 1.0),),
        ua=(("sdk", 0.45), ("browser", 0.35), ("generic", 0.2)),
        system_prompts=(0, 1),
        streams=(
            Stream(
                "chat", "hobby", curve="human", session=("geom", 3, 12), gap_s=(70, 0.9),
                followup_p=0.6, system_prompt=0.25,
                temperature=("fixed", (1.0, 1.0, 0.7, 0.5)), max_tokens=(1024, 2048, 4096),
                output=(280, 0.9), refusal=(0.005, 0.03), logprobs=0.01, thinking=0.1,
            ),
        ),
    ),
    Persona(
        "developer_testing", B, 0.10,
        rate=(10, 80), active=(0.1, 0.4), age_days=(1, 900), fresh_in_window=0.1,
        plans=(("free", 0.5), ("build", 0.5)),
        network=(("residential", 0.7), ("datacenter", 0.3)),
        ua=(("sdk", 0.5), ("generic", 0.5)),
        system_prompts=(0, 1),
        streams=(
            Stream(
                "smoke", "dev_test", curve="work", session=("burst", 3, 25), conversation=0.15,
                gap_s=(4, 0.8), followup="dev_test", followup_p=0.8,
                endpoints=(("messages", 0.9), ("code", 0.05), ("batch", 0.05)),
                system_prompt=0.3, temperature=("fixed", (1.0, 0.0, 0.7)),
                max_tokens=(16, 64, 100, 256, 1024), output=(20, 1.0), error=0.06,
                logprobs=0.05, thinking=0.05,
            ),
        ),
    ),
    Persona(
        "consumer_chat", B, 0.04,
        rate=(30, 250), age_days=(90, 1500),
        plans=(("build", 0.3), ("scale", 0.5), ("enterprise", 0.2)),
        network=(("server", 1.0),), ua=(("sdk", 1.0),), system_prompts=(1, 3),
        streams=(
            Stream(
                "users", "chat", curve="product", session=("geom", 4, 16), gap_s=(50, 0.9),
                followup_p=0.55, system_prompt=0.97, temperature=("fixed", (0.7, 0.8, 1.0, 0.5)),
                max_tokens=(1024, 2048, 4096), output=(300, 0.8), refusal=(0.002, 0.01),
                thinking=0.05,
            ),
        ),
    ),
    Persona(
        "coding_assistant", B, 0.08,
        rate=(12, 120), age_days=(60, 1200),
        plans=(("build", 0.4), ("scale", 0.5), ("enterprise", 0.1)),
        network=(("server", 1.0),), ua=(("sdk", 0.85), ("generic", 0.15)), system_prompts=(1, 2),
        streams=(
            Stream(
                "ide", "code_help", curve="work", session=("geom", 3, 12), gap_s=(90, 0.9),
                endpoints=(("code", 0.6), ("agent", 0.3), ("messages", 0.1)), system_prompt=0.95,
                sys_tokens=(300, 2000), context_per_turn=(400, 1500),
                temperature=("fixed", (0.0, 0.2, 0.5, 1.0)), max_tokens=(4096, 8192),
                output=(600, 0.8), thinking=0.3,
            ),
        ),
    ),
    Persona(
        "support_bot", B, 0.04,
        rate=(20, 160), age_days=(90, 1500),
        plans=(("build", 0.4), ("scale", 0.6)),
        network=(("server", 1.0),), ua=(("sdk", 1.0),), system_prompts=(1, 1),
        streams=(
            Stream(
                "tickets", "support", curve="product", session=("geom", 2, 5), gap_s=(40, 0.7),
                followup="support_followup", followup_p=0.8, system_prompt=1.0,
                sys_tokens=(800, 2500), context_per_turn=(100, 300),
                temperature=("fixed", (0.2, 0.3, 0.0)), max_tokens=(300, 512),
                output=(90, 0.5),
            ),
        ),
    ),
    Persona(
        "batch_document_pipeline", B, 0.015,
        rate=(100, 700), age_days=(120, 1500),
        plans=(("scale", 0.6), ("enterprise", 0.4)),
        network=(("datacenter", 1.0),), ua=(("sdk", 0.8), ("generic", 0.2)), system_prompts=(0, 1),
        streams=(
            Stream(
                "nightly", "document", timing="block", days="always", block=(1.0, 2.0, 1.5, 3.0),
                endpoints=(("batch", 1.0),), system_prompt=0.9, temperature=("zero",),
                max_tokens=(256, 512, 1024), output=(150, 0.4), error=0.003,
            ),
            Stream(
                "adhoc", "document", share=(0.005, 0.02), curve="work",
                endpoints=(("messages", 1.0),), temperature=("zero",),
                max_tokens=(512, 1024), output=(150, 0.4),
            ),
        ),
    ),
    Persona(
        "evaluation_researcher", B, 0.03,
        rate=(200, 1500), active=(0.15, 0.4), age_days=(30, 1200),
        plans=(("build", 0.6), ("scale", 0.4)),
        network=(("datacenter", 0.6), ("residential", 0.4)),
        ua=(("sdk", 0.6), ("generic", 0.4)),
        streams=(
            Stream(
                "run", "bench", timing="block", days=(1, 2), block=(9.0, 16.0, 1.0, 3.0),
                block_local=True, temperature=("zero",), max_tokens=(16, 32, 64, 256),
                output=(8, 0.8), logprobs=0.3, thinking=0.1,
            ),
            Stream(
                "trickle", "chat", rate=(0.3, 4.0), curve="work", session=("geom", 2, 6),
                temperature=("fixed", (1.0, 0.7)), max_tokens=(1024, 4096), output=(300, 0.8),
            ),
        ),
    ),
    Persona(
        "agent_product", B, 0.03,
        rate=(20, 160), age_days=(60, 900),
        plans=(("build", 0.3), ("scale", 0.6), ("enterprise", 0.1)),
        network=(("server", 1.0),), ua=(("sdk", 0.7), ("generic", 0.3)), system_prompts=(1, 2),
        streams=(
            Stream(
                "loops", "agent_task", curve="flat", session=("geom", 10, 40), gap_s=(8, 0.8),
                followup="agent_tool", followup_p=0.95,
                endpoints=(("agent", 0.9), ("messages", 0.1)), system_prompt=1.0,
                sys_tokens=(1500, 4000), base_context=(3000, 8000),
                context_per_turn=(1200, 3500), context_cap=60_000,
                temperature=("fixed", (0.0, 0.2, 1.0)), max_tokens=(4096, 8192),
                output=(350, 0.9), thinking=0.4,
            ),
        ),
    ),
    Persona(
        "enterprise_mixed", B, 0.03,
        rate=(40, 250), age_days=(180, 1800), regions=(1, 2),
        plans=(("enterprise", 1.0),),
        network=(("corporate", 1.0),), ua=(("sdk", 0.5), ("browser", 0.5)), system_prompts=(1, 4),
        streams=(
            Stream(
                "chat", "general", share=(0.4, 0.6), curve="work", session=("geom", 3, 10),
                gap_s=(80, 0.9), system_prompt=0.8, temperature=("fixed", (0.7, 1.0)),
                max_tokens=(2048, 4096), output=(350, 0.8), thinking=0.1,
            ),
            Stream(
                "code", "code_help", share=(0.2, 0.35), curve="work", session=("geom", 3, 10),
                gap_s=(90, 0.9), endpoints=(("code", 0.8), ("messages", 0.2)),
                system_prompt=0.9, context_per_turn=(400, 1500),
                temperature=("fixed", (0.2, 0.0)), max_tokens=(4096, 8192), output=(550, 0.8),
                thinking=0.2,
            ),
            Stream(
                "docs", "enterprise_doc", share=(0.15, 0.3), curve="work", session=("geom", 2, 6),
                gap_s=(120, 0.9), system_prompt=0.8, temperature=("fixed", (0.3, 0.7)),
                max_tokens=(2048, 4096), output=(450, 0.7),
            ),
        ),
    ),
    Persona(
        "tutoring_app", B, 0.03,
        rate=(20, 180), age_days=(90, 1200),
        plans=(("build", 0.4), ("scale", 0.6)),
        network=(("server", 1.0),), ua=(("sdk", 1.0),), system_prompts=(1, 2),
        streams=(
            Stream(
                "students", "tutor", curve="school", session=("geom", 4, 12), gap_s=(60, 0.8),
                followup="tutor_followup", followup_p=0.8, system_prompt=1.0,
                sys_tokens=(300, 1200), temperature=("fixed", (0.3, 0.5, 0.7)),
                max_tokens=(1024, 2048), output=(450, 0.6), thinking=0.2,
            ),
        ),
    ),
    Persona(
        "llm_judge_platform", B, 0.02,
        rate=(40, 300), age_days=(120, 1200),
        plans=(("scale", 0.7), ("enterprise", 0.3)),
        network=(("server", 1.0),), ua=(("sdk", 0.6), ("generic", 0.4)), system_prompts=(1, 1),
        streams=(
            Stream(
                "grading", "judge", curve="flat", session=("burst", 5, 60), conversation=0.0,
                gap_s=(2, 0.7), endpoints=(("messages", 0.8), ("batch", 0.2)),
                system_prompt=1.0, sys_tokens=(200, 800), temperature=("zero",),
                max_tokens=(64, 256, 512), output=(12, 0.7), logprobs=0.3,
            ),
        ),
    ),
    Persona(
        "global_chat_247", B, 0.015,
        rate=(100, 500), age_days=(180, 1500),
        plans=(("enterprise", 0.6), ("scale", 0.4)),
        network=(("global", 1.0),), ua=(("sdk", 1.0),), system_prompts=(2, 4),
        streams=(
            Stream(
                "users", "chat", curve="global", session=("geom", 4, 16), gap_s=(50, 0.9),
                followup_p=0.55, system_prompt=0.98, temperature=("fixed", (0.7, 1.0)),
                max_tokens=(2048, 4096), output=(320, 0.8), refusal=(0.002, 0.01), thinking=0.1,
            ),
        ),
    ),
    Persona(
        "multi_account_org", B, 0.075,
        rate=(20, 180), age_days=(60, 900), group="org", exclusive_streams=True,
        plans=(("build", 0.3), ("scale", 0.5), ("enterprise", 0.2)),
        network=(("server", 1.0),), ua=(("sdk", 0.9), ("generic", 0.1)), system_prompts=(1, 3),
        streams=(
            Stream(
                "chat", "chat", curve="product", session=("geom", 4, 14), gap_s=(50, 0.9),
                system_prompt=0.95, temperature=("fixed", (0.7, 1.0)),
                max_tokens=(1024, 2048, 4096), output=(300, 0.8), refusal=(0.002, 0.01),
            ),
            Stream(
                "code", "code_help", curve="work", session=("geom", 3, 12), gap_s=(90, 0.9),
                endpoints=(("code", 0.6), ("agent", 0.3), ("messages", 0.1)), system_prompt=0.95,
                context_per_turn=(400, 1500), temperature=("fixed", (0.0, 0.2, 0.5)),
                max_tokens=(4096, 8192), output=(600, 0.8), thinking=0.3,
            ),
        ),
    ),
    # -------------------------------------------------------------- extraction
    Persona(
        "bulk_distillation", X, 0.012,
        rate=(60, 400), age_days=(1, 14), fresh_in_window=0.4,
        plans=(("build", 0.7), ("free", 0.1), ("scale", 0.2)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 1.0),), adoption="fast",
        streams=(
            Stream(
                "loop", "distill", timing="block", days="always", temperature=_DISTILL_TEMPS,
                max_tokens=(4096, 8192, 4096), output=(2000, 0.5), output_frac=(0.45, 0.8),
                refusal=(0.0, 0.01), logprobs=0.02, thinking=0.3,
            ),
        ),
    ),
    Persona(
        "capability_sweep", X, 0.01,
        rate=(60, 400), age_days=(1, 20), fresh_in_window=0.4,
        plans=(("build", 0.6), ("free", 0.2), ("scale", 0.2)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 0.8), ("sdk", 0.2)), adoption="fast",
        streams=(
            Stream(
                "sweep", "bench", timing="block", days="always", temperature=("zero",),
                max_tokens=(16, 32, 256, 1024), output=(8, 0.8), logprobs=0.75, thinking=0.05,
            ),
        ),
    ),
    Persona(
        "code_distillation", X, 0.01,
        rate=(60, 350), age_days=(1, 14), fresh_in_window=0.4,
        plans=(("build", 0.7), ("scale", 0.3)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 0.7), ("sdk", 0.3)), adoption="fast",
        streams=(
            Stream(
                "loop", "code_distill", timing="block", days="always",
                endpoints=(("messages", 0.6), ("code", 0.4)),
                temperature=("grid", (*SWEEP_GRIDS, (0.2,), (0.0,))),
                max_tokens=(4096, 8192, 16000), output=(2500, 0.5), output_frac=(0.35, 0.7),
                thinking=0.3,
            ),
        ),
    ),
    Persona(
        "reasoning_trace_extraction", X, 0.01,
        rate=(50, 300), age_days=(1, 14), fresh_in_window=0.4,
        plans=(("build", 0.7), ("free", 0.1), ("scale", 0.2)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 0.7), ("sdk", 0.3)), adoption="fast",
        streams=(
            Stream(
                "loop", "reasoning_trace", timing="block", days="always",
                temperature=_DISTILL_TEMPS, max_tokens=(4096, 8192), output=(2500, 0.5),
                output_frac=(0.4, 0.75), thinking=0.75,
            ),
        ),
    ),
    Persona(
        "rubric_grading_extraction", X, 0.008,
        rate=(50, 300), age_days=(1, 10), fresh_in_window=0.5,
        plans=(("build", 0.8), ("free", 0.2)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 0.8), ("sdk", 0.2)), adoption="fast",
        streams=(
            Stream(
                "loop", "rubric_extract", timing="block", days="always",
                temperature=_DISTILL_TEMPS, max_tokens=(2048, 4096), output=(900, 0.5),
                output_frac=(0.35, 0.6), thinking=0.85,
            ),
        ),
    ),
    Persona(
        "safety_probing", X, 0.01,
        rate=(20, 100), active=(0.5, 0.9), age_days=(1, 30), fresh_in_window=0.5,
        plans=(("free", 0.7), ("build", 0.3)), countries="any",
        network=(("rotating", 1.0),), ua=(("browser", 0.4), ("generic", 0.4), ("sdk", 0.2)),
        adoption="fast",
        streams=(
            Stream(
                "probe", "safety", curve="evening", session=("burst", 5, 30), conversation=0.3,
                gap_s=(10, 1.0), followup="safety", followup_p=1.0,
                temperature=("fixed", (1.0, 0.7, 1.2)), max_tokens=(1024, 2048),
                output=(350, 0.8), refusal=(0.3, 0.6), thinking=0.1,
            ),
        ),
    ),
    Persona(
        "hydra", X, 0.04,
        rate=(20, 80), age_days=(1, 20), fresh_in_window=0.5, group="hydra",
        exclusive_streams=True,
        plans=(("free", 0.6), ("build", 0.4)), countries="any",
        network=(("datacenter", 1.0),), ua=(("generic", 1.0),), adoption="fast",
        streams=(
            Stream(
                "campaign", "distill", timing="campaign", share=(0.7, 0.7),
                temperature=_DISTILL_TEMPS, max_tokens=(4096, 8192), output=(2000, 0.5),
                output_frac=(0.4, 0.75), thinking=0.3,
            ),
            Stream(
                "code_campaign", "code_distill", timing="campaign", share=(0.3, 0.3),
                temperature=_DISTILL_TEMPS, max_tokens=(4096, 8192), output=(2500, 0.5),
                output_frac=(0.4, 0.75), thinking=0.3,
            ),
        ),
    ),
    Persona(
        "low_and_slow", X, 0.008,
        rate=(20, 150), active=(0.85, 1.0), age_days=(200, 1500),
        plans=(("build", 0.7), ("scale", 0.3)),
        network=(("residential", 0.5), ("datacenter", 0.5)), ua=(("sdk", 0.7), ("generic", 0.3)),
        adoption="fast",
        streams=(
            Stream(
                "slow", "distill", curve="human",
                temperature=("grid", (*SWEEP_GRIDS, (0.7,), (1.0,))),
                max_tokens=(4096, 8192), output=(2000, 0.5), output_frac=(0.4, 0.75),
                thinking=0.3,
            ),
        ),
    ),
    Persona(
        "mixed_cover", X, 0.0075,
        rate=(80, 450), age_days=(200, 1500),
        plans=(("scale", 0.7), ("enterprise", 0.3)),
        network=(("server", 1.0),), ua=(("sdk", 1.0),), system_prompts=(1, 3),
        streams=(
            Stream(
                "product", "chat", share=(0.65, 0.8), curve="product", session=("geom", 4, 16),
                gap_s=(50, 0.9), followup_p=0.55, system_prompt=0.97,
                temperature=("fixed", (0.7, 0.8, 1.0)), max_tokens=(1024, 2048, 4096),
                output=(300, 0.8), refusal=(0.002, 0.01),
            ),
            Stream(
                "extract", "distill", share=(0.2, 0.35), timing="block", days="always",
                temperature=_DISTILL_TEMPS, max_tokens=(4096, 8192), output=(2000, 0.5),
                output_frac=(0.4, 0.75), thinking=0.3, ua=("generic", 0.5), adoption="fast",
            ),
        ),
    ),
    Persona(
        "reseller_relay", X, 0.0075,
        rate=(60, 400), age_days=(120, 1200),
        plans=(("build", 0.5), ("scale", 0.5)), countries="any",
        network=(("relay", 1.0),), ua=(("generic", 1.0),), adoption="fast",
        streams=(
            Stream(
                "users", "chat", share=(0.6, 0.75), curve="global", session=("geom", 3, 12),
                gap_s=(60, 0.9), followup_p=0.5, temperature=("fixed", (1.0, 0.7)),
                max_tokens=(1024, 4096), output=(300, 0.8), refusal=(0.003, 0.02),
            ),
            Stream(
                "extract", "distill", share=(0.25, 0.4), timing="block", days="always",
                temperature=_DISTILL_TEMPS, max_tokens=(4096, 8192), output=(2000, 0.5),
                output_frac=(0.4, 0.75), thinking=0.3,
            ),
        ),
    ),
)  # fmt: skip

PERSONAS_BY_NAME: dict[str, Persona] = {p.name: p for p in PERSONAS}
BENIGN_PERSONAS: tuple[str, ...] = tuple(p.name for p in PERSONAS if p.label == B)
EXTRACTION_PERSONAS: tuple[str, ...] = tuple(p.name for p in PERSONAS if p.label == X)
