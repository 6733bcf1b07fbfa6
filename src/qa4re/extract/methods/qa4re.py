"""QA4RE (Zhang et al. 2023): each candidate relation's filled template is a lettered option; the model answers a letter."""

from __future__ import annotations

from collections.abc import Sequence

from qa4re.extract.methods.base import PromptMethod
from qa4re.prompts.decode import parse_letter
from qa4re.prompts.options import OptionOrder, qa_options
from qa4re.schemas.model import RelationSchema
from qa4re.types import Option, RelationInstance


class QA4RE(PromptMethod):
    """The paper's prompt: the sentence, then the options ``A. [subj] ... [obj].``; the answer is a letter."""

    name = "qa4re"
    letters = True
    max_new_tokens = 4

    def options(self, schema: RelationSchema, instance: RelationInstance, candidates: Sequence[str], order: OptionOrder) -> tuple[Option, ...]:
        return qa_options(schema, candidates, instance.subj_text, instance.obj_text, order)

    def parse(self, text: str, options: Sequence[Option]) -> Option | None:
        return parse_letter(text, options)
