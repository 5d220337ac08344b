"""Prompts come from a list or a JSONL, CSV or Parquet file; rows go out as JSONL or Parquet; bad input is an
error that names the file and the line before anything runs."""

from __future__ import annotations

import json

import pytest

from llmcompiler_provider.batch import BatchInputError, OutputWriter, read_prompts
from llmcompiler_provider.batch_results import BatchItem, prompt_id_for


def test_a_list_of_strings_and_mappings_gets_ids():
    prompts = read_prompts(["How tall is it?", {"id": 7, "prompt": "How long?"}, {"prompt": "p", "plan": "join()"}])
    assert [p.id for p in prompts] == [prompt_id_for("How tall is it?"), "7", prompt_id_for("p")]
    assert prompts[2].plan == "join()"


def test_a_derived_id_is_stable_across_reads():
    assert read_prompts(["same text"])[0].id == read_prompts(["same text"])[0].id


def test_jsonl_with_blank_lines(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": "a", "prompt": "one"}\n\n{"prompt": "two"}\n')
    assert [(p.id, p.prompt) for p in read_prompts(path)] == [("a", "one"), (prompt_id_for("two"), "two")]


def test_csv_with_an_id_column(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('id,prompt\nx1,"Which is taller, A or B?"\nx2,second\n')
    assert [(p.id, p.prompt) for p in read_prompts(path)] == [("x1", "Which is taller, A or B?"), ("x2", "second")]


def test_parquet_in_and_out_round_trip(tmp_path):
    pyarrow = pytest.importorskip("pyarrow", reason="Parquet needs the [parquet] extra")
    import pyarrow.parquet as parquet

    source = tmp_path / "in.parquet"
    parquet.write_table(pyarrow.table({"id": ["a", "b"], "prompt": ["one", "two"]}), source)
    assert [(p.id, p.prompt) for p in read_prompts(source)] == [("a", "one"), ("b", "two")]

    out = tmp_path / "out.parquet"
    with OutputWriter(out) as writer:
        for i in range(2500):  # more than one row group
            writer.write(BatchItem(id=str(i), status="success", answer=f"a{i}", prompt_tokens=i))
    table = parquet.read_table(out)
    assert table.num_rows == 2500 and table.column("answer")[2499].as_py() == "a2499"


def test_jsonl_output_has_one_row_per_item(tmp_path):
    out = tmp_path / "out.jsonl"
    with OutputWriter(out) as writer:
        writer.write(BatchItem(id="a", status="failed", error="boom"))
    assert json.loads(out.read_text())["error"] == "boom"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("in.jsonl", '{"prompt": "ok"}\n{"prompt": "ok2"\n', r"in.jsonl:2: not JSON"),
        ("in.jsonl", '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n',
         r"in.jsonl:line 2: the id 'a' was already given at line 1"),
        ("in.jsonl", '{"question": "x"}\n', r"in.jsonl:line 1: no 'prompt' text"),
        ("in.jsonl", '{"prompt": 3}\n', r"in.jsonl:line 1: 'prompt' must be text, not int"),
        ("in.csv", "id,question\na,b\n", r"in.csv:1: the header needs a 'prompt' column"),
        ("in.txt", "hello\n", r"in.txt: unknown file type"),
    ],
)
def test_bad_input_names_the_file_and_the_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BatchInputError, match=message):
        read_prompts(path)


def test_the_same_prompt_twice_without_ids_is_refused():
    with pytest.raises(BatchInputError, match=r"item 2: the id .* was already given at item 1"):
        read_prompts(["same", "same"])


def test_one_string_is_not_a_list_of_prompts():
    with pytest.raises(BatchInputError, match="not one string"):
        read_prompts("a prompt")
