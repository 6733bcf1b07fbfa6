"""Ray work-folder blocks are data: typed records round-trip exactly; anything else is refused, never run."""

from __future__ import annotations

import math
import os
import pickle
from pathlib import Path

import pytest

from qa4re.engines.blocks import BlockError, decode, encode
from qa4re.extract.documents import DocumentResult, Mention, PairError, Triple
from qa4re.extract.pairs import Document
from qa4re.types import AnswerSource, Entity, ErrorKind, ErrorRecord, Prediction, RelationInstance

INSTANCE = RelationInstance("i1", "Anna met Bo.", Entity(0, 4, "PERSON"), Entity(9, 11, None), "per:x", "f.json", ("per:y",))
PREDICTION = Prediction("i1", "per:x", "per:y", 0.25, {"A": 0.25, "B": 0.75}, {"A": "per:x", "B": "per:y"}, "ab" * 32, "Anna", "Bo", "B",
                        AnswerSource.LOGPROBS, True, None, 0.5, ("per:y",))  # fmt: skip
ERROR = ErrorRecord("i2", "f.json", 3, "subj", "bad span", "per:x", ErrorKind.MODEL)
MENTION = Mention("Anna", 0, 4, "PERSON")
RESULT = DocumentResult(
    Document("d1", "Anna met Bo.", (Entity(0, 4, "PERSON"), Entity(9, 11, "PERSON")), "docs.jsonl", 1, ((0, 12),)),
    2, (Triple("d1", MENTION, "per:x", Mention("Bo", 9, 11, None), 0.9, "Anna met Bo."),),
    (PairError("d1", Mention("Bo", 9, 11, None), MENTION, "Anna met Bo.", "model call failed"),), 1,
)  # fmt: skip


def test_every_record_type_round_trips_exactly() -> None:
    records = [INSTANCE, PREDICTION, ERROR, RESULT, Prediction("i3", None, None, 0.0, {}, {}, "", letter_mass=-math.inf)]
    back, meta = decode(encode(records, {"fingerprint": "m"}), "block")
    assert back[:4] == records[:4] and meta == {"fingerprint": "m"}
    assert back[4].letter_mass == -math.inf and type(back[0].subj) is Entity and back[1].scoring is AnswerSource.LOGPROBS


class _Runs:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch /tmp/qa4re-block-was-executed",))


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (pickle.dumps([_Runs()]), "not a qa4re block"),
        (encode([INSTANCE])[:-5], "checksum mismatch"),
        (encode([INSTANCE]).replace(b"Anna", b"Hans"), "checksum mismatch"),
        (b'{"qa4re-block": 2}\n', "not a qa4re block of format 1"),
    ],
)
def test_a_pickle_a_truncated_an_altered_or_a_foreign_block_is_refused_naming_the_file(data: bytes, why: str) -> None:
    marker = Path("/tmp/qa4re-block-was-executed")
    marker.unlink(missing_ok=True)
    with pytest.raises(BlockError, match=why) as caught:
        decode(data, Path("work/done/00000001.jsonl"))
    assert str(caught.value).startswith("work/done/00000001.jsonl: ") and not marker.exists()


def test_a_block_naming_a_type_that_is_not_a_record_is_refused() -> None:
    import hashlib
    import json

    body = json.dumps({"type": "Popen", "data": {"args": ["sh"]}}).encode() + b"\n"
    header = json.dumps({"qa4re-block": 1, "records": 1, "sha256": hashlib.sha256(body).hexdigest()}).encode()
    with pytest.raises(BlockError, match="unknown record type 'Popen'"):
        decode(header + b"\n" + body, "b")
    wrong_field = encode([INSTANCE]).replace(b'"start": 0', b'"start": "0"')
    with pytest.raises(BlockError):
        decode(wrong_field, "b")
