"""The general benchmarks' loaders on the real files: lm-eval prompt formats, limits, errors."""

from __future__ import annotations

import pytest

from training.evaluate.general.tasks import (TASKS, ChoiceDoc, GenerationDoc, TaskFormatError, WordDoc, copa,
                                             load_docs, select_tasks, siqa)

FULL_SIZES = {"arc_easy": 2376, "arc_challenge": 1172, "piqa": 1838, "boolq": 3270, "winogrande": 1267,
              "openbookqa": 500, "commonsense_qa": 1221, "siqa": 1954, "copa": 100, "lambada_openai": 5153,
              "gsm8k": 1319, "agieval_sat_en": 206}


def first(name: str):
    return load_docs(TASKS[name], limit=1)[0]


def test_twelve_tasks_with_primary_metrics():
    assert set(TASKS) == set(FULL_SIZES)
    assert {t.metric for t in TASKS.values()} == {"acc", "acc_norm", "exact_match"}


@pytest.mark.parametrize("name", ["arc_easy", "piqa", "boolq", "commonsense_qa", "siqa", "copa", "lambada_openai"])
def test_every_row_converts(name):
    docs = load_docs(TASKS[name])
    assert len(docs) == FULL_SIZES[name]
    for doc in docs:
        if isinstance(doc, ChoiceDoc):
            assert 0 <= doc.gold < len(doc.continuations)
            assert all(c.startswith(" ") and not ctx.endswith(" ") for ctx, c in zip(doc.contexts, doc.continuations))


def test_limit_takes_the_first_rows_in_file_order():
    five = load_docs(TASKS["arc_challenge"], limit=5)
    assert len(five) == 5 and five == load_docs(TASKS["arc_challenge"], limit=10)[:5]


def test_arc_format():
    doc = first("arc_easy")
    assert doc.contexts[0] == "Question: Which statement best explains why photosynthesis is the foundation of most food webs?\nAnswer:"
    assert doc.continuations[0] == " Sunlight is the source of energy for nearly all ecosystems."
    assert doc.lengths[0] == len("Sunlight is the source of energy for nearly all ecosystems.") and doc.gold == 0


def test_piqa_format():
    doc = first("piqa")
    assert doc.contexts[0] == "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:"
    assert doc.continuations[1].startswith(" Provide the guinea pig") and doc.gold == 0


def test_boolq_format_drops_the_passage_label():
    doc = first("boolq")
    assert doc.contexts[0].startswith("All biomass goes through")
    assert doc.contexts[0].endswith("\nQuestion: does ethanol take more energy make that produces?\nAnswer:")
    assert doc.continuations == (" no", " yes") and doc.gold == 0


def test_winogrande_partial_scoring():
    doc = first("winogrande")
    assert doc.contexts == ("Sarah was a much better surgeon than Maria so Sarah",
                            "Sarah was a much better surgeon than Maria so Maria")
    assert doc.continuations == (" always got the easier cases.",) * 2 and doc.gold == 1


def test_commonsense_qa_lettered_without_choices_line():
    doc = first("commonsense_qa")
    assert doc.contexts[0] == ("Question: A revolving door is convenient for two direction travel, but it also serves "
                               "as a security measure at a what?\nA. bank\nB. department store\nC. mall\nD. new york\nAnswer:")
    assert doc.continuations == (" A", " B", " C", " D")


def test_siqa_rebuilt_with_answer_texts():
    doc = first("siqa")
    assert doc.contexts[0] == "Q: Tracy didn't go home that evening and resisted Riley's attacks. What does Tracy need to do before this?\nA:"
    assert doc.continuations == (" make a new plan", " Find somewhere to go") and doc.gold == 1


def test_copa_connector_without_comma_and_lowered_choice():
    doc = first("copa")
    assert doc.contexts[0] == "The man turned on the faucet therefore"
    assert doc.continuations == (" the toilet filled with water.", " water flowed from the spout.")
    assert copa({"query": "It rained, because", "choices": ["Clouds came."], "gold": 0}).continuations == (" clouds came.",)


def test_agieval_and_lambada_and_gsm8k():
    assert first("agieval_sat_en").contexts[0].endswith("\nD.) One character argues with another character who intrudes on her home.\nAnswer:")
    word = first("lambada_openai")
    assert isinstance(word, WordDoc) and word.continuation == " signs" and word.context.endswith("I don't care about")
    gen = first("gsm8k")
    assert isinstance(gen, GenerationDoc) and gen.answer == "18"
    assert gen.prompt.count("Question: ") == 6 and gen.prompt.count("\n#### ") == 5
    assert gen.prompt.startswith("Question: Natalia sold clips") and gen.prompt.endswith("at the farmers' market?\nAnswer:")


def test_unknown_or_empty_task_list_is_refused():
    with pytest.raises(ValueError, match="unknown task.*hellaswag.*choose from"):
        select_tasks("arc_easy,hellaswag")
    with pytest.raises(ValueError, match="none given"):
        select_tasks(" , ")
    assert [t.name for t in select_tasks("copa, piqa,copa")] == ["copa", "piqa"]


def test_malformed_rows_name_what_is_wrong():
    with pytest.raises(TaskFormatError, match="because"):
        copa({"query": "It rained.", "choices": ["a", "b"], "gold": 0})
    with pytest.raises(TaskFormatError, match="Context"):
        siqa({"query": "Question: what?\nAnswer:", "choices": ["A"], "gold": 0})
    with pytest.raises(TaskFormatError, match="gold index 2"):
        copa({"query": "It rained, because", "choices": ["a", "b"], "gold": 2})
