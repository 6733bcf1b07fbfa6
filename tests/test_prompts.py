from __future__ import annotations

import json
from collections.abc import Sequence

import pytest

from conftest import GOLDEN
from qa4re.datasets.tacred import tacred_instance
from qa4re.extract.methods import get_method
from qa4re.prompts.options import PAPER_ORDER, OptionOrder, option_letter, ordered_relations
from qa4re.prompts.render import Demonstration, RenderedPrompt, select_demonstrations
from qa4re.schemas.loader import load_schema
from qa4re.schemas.model import RelationSchema
from qa4re.types import Entity, Option, RelationInstance

GOLDEN_CASE = json.loads((GOLDEN / "retacred_person_person.json").read_text(encoding="utf-8"))


def build_options(
    method: str, schema: RelationSchema, instance: RelationInstance, candidates: Sequence[str], order: OptionOrder = PAPER_ORDER
) -> tuple[Option, ...]:
    return get_method(method).options(schema, instance, candidates, order)


def render_prompt(method: str, instance: RelationInstance, options: tuple[Option, ...], demonstrations: Sequence[Demonstration] = ()) -> RenderedPrompt:
    return get_method(method).render(instance, options, demonstrations)


def golden_instance() -> RelationInstance:
    return tacred_instance(GOLDEN_CASE["example_tacred_json"], "golden", 1)


def prompt_for(method: str, schema_name: str = "retacred", instance: RelationInstance | None = None, **kwargs: object):  # type: ignore[no-untyped-def]
    schema = load_schema(schema_name)
    instance = instance or golden_instance()
    options = build_options(method, schema, instance, schema.candidates(instance.type_pair) or ())
    return render_prompt(method, instance, options, **kwargs)  # type: ignore[arg-type]


def test_default_qa4re_prompt_is_byte_identical_to_the_golden_prompt() -> None:
    prompt = prompt_for("qa4re")
    assert prompt.text == GOLDEN_CASE["expected_prompt"]
    assert prompt.letter_to_relation == GOLDEN_CASE["expected_letter_to_relation"]


def test_vanilla_prompt_follows_the_method_exactly() -> None:
    expected = (
        "Given a Sentence, and two Entities within the Sentence, classify the relationship between the two Entities based on the provided Sentence."
        " All possible Relationships are listed below:\n"
        "- per:identity\n- per:children\n- per:spouse\n- per:siblings\n- per:other_family\n- per:parents\n- no_relation\n\n"
        "Sentence: Kercher 's body was found in a pool of blood with her throat slit on Nov. 2 , 2007 , in the bedroom of the house she shared with Knox .\n"
        "Entity 1: her\nEntity 2: she\nRelationship:"
    )
    prompt = prompt_for("vanilla")
    assert prompt.text == expected
    assert prompt.answers[-1] == "no_relation"


def test_vanilla_temp_explains_each_label_with_its_templates() -> None:
    text = prompt_for("vanilla-temp").text
    assert (
        "are listed below with explanations:\n- per:identity: Entity 1 is the identity/pronoun of Entity 2 OR Entity 1 and Entity 2 are the same person\n"
        in text
    )
    assert "- no_relation: Entity 1 has no known relations to Entity 2\n\nSentence:" in text


def test_semeval_questions_have_19_options_with_other_last() -> None:
    instance = RelationInstance("s", "The engine of the car", Entity(4, 10, "MISC"), Entity(18, 21, "MISC"))
    prompt = prompt_for("qa4re", "semeval", instance)
    assert prompt.answers == tuple("ABCDEFGHIJKLMNOPQRS")
    assert prompt.options[-1].relation == "Other"
    assert "B. [car] is the component of [engine]" in prompt.text


@pytest.mark.parametrize(("index", "letter"), [(0, "A"), (25, "Z"), (26, "AA"), (27, "AB"), (701, "ZZ"), (702, "AAA")])
def test_letters_continue_past_z_like_spreadsheet_columns(index: int, letter: str) -> None:
    assert option_letter(index) == letter


def test_all_tacred_relations_as_options_use_two_letter_labels_past_z() -> None:
    schema = load_schema("tacred")
    instance = RelationInstance("x", "Ann met Bob", Entity(0, 3, "PERSON"), Entity(8, 11, "PERSON"))
    options = build_options("qa4re", schema, instance, schema.positive_relations)
    assert len(options) == 42
    assert options[26].letter == "AA"
    assert options[-1].relation == "no_relation"
    assert "\nAP. [Ann] has no known relations to [Bob]\n\nWhich option" in render_prompt("qa4re", instance, options).text


def test_few_shot_prompt_has_one_instruction_and_answered_demonstrations() -> None:
    schema = load_schema("retacred")
    demo = RelationInstance("d1", "Ann married Bob .", Entity(0, 3, "PERSON"), Entity(12, 15, "PERSON"), "per:spouse")
    demo_options = build_options("qa4re", schema, demo, schema.candidates("PERSON:PERSON") or ())
    zero_shot = prompt_for("qa4re").text
    text = prompt_for("qa4re", demonstrations=[Demonstration(demo, demo_options, "D")]).text
    instruction, _, rest = zero_shot.partition("\n\n")
    assert text.count(instruction) == 1
    assert text.startswith(instruction + "\n\nSentence: [Ann] married [Bob] .\nOptions:\nA. [Ann] is the identity/pronoun of [Bob]\n")
    assert "Which option can be inferred from the given Sentence?\nOption: D\n\nSentence: Kercher" in text
    assert text.endswith(rest)


def test_demonstrations_are_type_matched_and_seeded_per_instance() -> None:
    people = [RelationInstance(f"p{i}", "a b", Entity(0, 1, "PERSON"), Entity(2, 3, "PERSON"), "no_relation") for i in range(10)]
    orgs = [RelationInstance(f"o{i}", "a b", Entity(0, 1, "ORGANIZATION"), Entity(2, 3, "PERSON"), "no_relation") for i in range(10)]
    pool = {"PERSON:PERSON": people, "ORGANIZATION:PERSON": orgs, "*": people + orgs}
    target = golden_instance()
    first = select_demonstrations(pool, target, 3, seed=1)
    assert [d.id for d in first] == [d.id for d in select_demonstrations(pool, target, 3, seed=1)]
    assert all(d.type_pair == "PERSON:PERSON" for d in first)
    assert [d.id for d in first] != [d.id for d in select_demonstrations(pool, target, 3, seed=2)]
    topped_up = select_demonstrations({"PERSON:PERSON": people[:1], "*": people[:1] + orgs}, target, 3, seed=1)
    assert topped_up[0].id == "p0" and len(topped_up) == 3


def test_shared_demonstrations_are_the_same_for_every_instance_of_a_type_pair() -> None:
    people = [RelationInstance(f"p{i}", "a b", Entity(0, 1, "PERSON"), Entity(2, 3, "PERSON"), "no_relation") for i in range(30)]
    targets = [RelationInstance(f"t{i}", "c d", Entity(0, 1, "PERSON"), Entity(2, 3, "PERSON")) for i in range(5)]
    pool = {"PERSON:PERSON": people, "*": people}
    shared = {tuple(d.id for d in select_demonstrations(pool, t, 3, seed=1, shared=True)) for t in targets}
    per_instance = {tuple(d.id for d in select_demonstrations(pool, t, 3, seed=1)) for t in targets}
    assert len(shared) == 1 and len(per_instance) > 1


def test_option_order_ablations_move_na_and_shuffle_only_the_candidates() -> None:
    candidates = ["a", "b", "c", "d", "e", "f"]
    assert ordered_relations(candidates, "NA") == [*candidates, "NA"]
    assert ordered_relations(candidates, "NA", OptionOrder(na_first=True)) == ["NA", *candidates]
    shuffled = ordered_relations(candidates, "NA", OptionOrder(shuffle_key="0:42"))
    assert shuffled[-1] == "NA" and sorted(shuffled[:-1]) == candidates and shuffled[:-1] != candidates
    assert shuffled == ordered_relations(candidates, "NA", OptionOrder(shuffle_key="0:42"))
    assert shuffled != ordered_relations(candidates, "NA", OptionOrder(shuffle_key="1:42"))


def test_na_first_letters_follow_the_new_order() -> None:
    schema = load_schema("retacred")
    instance = golden_instance()
    options = build_options("qa4re", schema, instance, schema.candidates(instance.type_pair) or (), OptionOrder(na_first=True))
    assert options[0].letter == "A" and options[0].relation == schema.na_relation
    assert list(dict.fromkeys(o.relation for o in options[1:])) == list(schema.candidates(instance.type_pair) or ())
