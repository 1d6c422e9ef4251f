"""docs/protocol.md's reference tables are generated from the schemas (sync/protocol_doc.py): this fails
when a message or an intent changed and the document was not regenerated."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.intent_schemas import SCHEMAS
from sync.protocol_doc import client_messages, main, render

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_protocol_md_is_up_to_date():
    text = DOC.read_text(encoding="utf-8")
    assert render(text) == text, "run: python -m sync.protocol_doc --write docs/protocol.md"


def test_every_message_and_intent_is_in_the_document():
    text = DOC.read_text(encoding="utf-8")
    for model in client_messages():
        kind = model.model_fields["type"].annotation.__args__[0]
        assert f"#### `{kind}`" in text
    for name in SCHEMAS:
        assert f"#### `{name}`" in text


def test_check_fails_on_a_stale_document_and_write_mends_it(tmp_path):
    stale = tmp_path / "protocol.md"
    stale.write_text(
        "# x\n<!-- generated:messages -->\nold\n<!-- /generated:messages -->\n"
        "<!-- generated:intents -->\n<!-- /generated:intents -->\n",
        encoding="utf-8",
    )
    assert main(["--check", str(stale)]) == 1
    assert main(["--write", str(stale)]) == 0
    assert main(["--check", str(stale)]) == 0
    assert "| `customer_id` | string | yes |" in stale.read_text(encoding="utf-8")


def test_a_document_without_markers_is_an_error(tmp_path):
    bare = tmp_path / "protocol.md"
    bare.write_text("# nothing generated here\n", encoding="utf-8")
    with pytest.raises(ValueError, match="generated:messages"):
        main(["--check", str(bare)])
