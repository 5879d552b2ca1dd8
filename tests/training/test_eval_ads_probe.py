"""`icegrt eval ads-probe`: the verdict token pair, the AUC by hand, and a run on the tiny model."""

from __future__ import annotations

import json
import math

import pytest

from training.evaluate.ads_probe import auc, decision_tokens, summarize


def test_auc_by_hand():
    # pairs (p, n): (0.9, 0.2) (0.9, 0.5) (0.4, 0.2) (0.5, 0.2) win, (0.4, 0.5) loss, (0.5, 0.5) tie: 4.5 / 6
    assert auc([0.9, 0.4, 0.5], [0.2, 0.5]) == pytest.approx(4.5 / 6)
    assert auc([0.9], []) is None
    rows = [{"violating": True, "p_violation": 0.9}, {"violating": True, "p_violation": 0.6},
            {"violating": False, "p_violation": 0.2}, {"violating": False, "p_violation": 0.8}]
    summary = summarize(rows)
    assert summary["auc"] == 0.75 and summary["mean_p_violation"] == {"violating": 0.75, "compliant": 0.5}
    assert summary["flagged"]["0.5"] == {"violating": 1.0, "compliant": 0.5}
    assert summary["flagged"]["0.7"] == {"violating": 0.5, "compliant": 0.5}


def test_the_verdict_tokens_are_where_an_empty_and_a_found_answer_part(tiny_tokenizer):
    opening, compliant, violating = decision_tokens(tiny_tokenizer)
    assert compliant != violating
    assert tiny_tokenizer.decode(opening + [compliant]).startswith('{"violations":[]')
    assert tiny_tokenizer.decode(opening + [violating]).startswith('{"violations":[{')


def test_probe_command_on_the_tiny_model(tiny_model_path, tmp_path, capsys):
    from cli.main import main

    out = tmp_path / "probe.json"
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "6", "--threads", "1", "--output", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["split"] == "dev" and len(report["rows"]) == 6
    assert all(0 <= row["p_violation"] <= 1 for row in report["rows"])
    assert report["summary"]["ads"] == 6 and report["summary"]["violating"] == sum(r["violating"] for r in report["rows"])
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "0", "--output", str(out)]) == 2


def test_compare_separates_a_bias_shift_from_a_change_of_ranking():
    from training.evaluate.ads_probe import compare

    def rows(ps):
        return [{"id": f"ad{i}", "ad_digest": f"d{i}", "violating": i < 2, "p_violation": p} for i, p in enumerate(ps)]

    # every ad's odds halved (log-odds -ln 2), the ranking kept: a pure bias shift, AUC unchanged
    before = rows([0.8, 0.6, 0.5, 0.2])
    after = rows([2 / 3, 3 / 7, 1 / 3, 1 / 9])  # odds 4 -> 2, 1.5 -> 0.75, 1 -> 0.5, 0.25 -> 0.125
    result = compare(after, before)
    assert result["ads"] == 4
    assert result["bias"]["all"]["diff"] == pytest.approx(-math.log(2))
    assert result["bias"]["all"]["stderr"] == pytest.approx(0.0, abs=1e-9)
    assert result["bias"]["violating"]["n"] == 2 and result["bias"]["compliant"]["n"] == 2
    assert result["auc"]["diff"] == 0.0
    # the compliant ads swap above the violating ones: AUC 1 -> 0; only common ids are paired
    swapped = rows([0.2, 0.5, 0.6, 0.8]) + [{"id": "other", "violating": True, "p_violation": 0.9}]
    assert compare(swapped, before)["auc"]["diff"] == -1.0 and compare(swapped, before)["ads"] == 4
    with pytest.raises(ValueError, match="share no ad"):
        compare(rows([0.5]), [{"id": "x", "violating": False, "p_violation": 0.5}])
    # the same id with another ad text behind it (a changed generator): refused, not paired
    with pytest.raises(ValueError, match="different ads under the same ids"):
        compare(rows([0.5, 0.5]), [{**row, "ad_digest": "other"} for row in rows([0.5, 0.5])])


def test_probe_command_against_another_probe(tiny_model_path, tmp_path):
    from cli.main import main

    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "6", "--threads", "1", "--output", str(first)]) == 0
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "6", "--threads", "1", "--output", str(second),
                 "--against", str(first)]) == 0
    against = json.loads(second.read_text())["against"]
    # the same model against itself: no shift, no change of AUC
    assert against["ads"] == 6 and against["bias"]["all"]["diff"] == pytest.approx(0.0, abs=1e-9)
    assert against["auc"]["diff"] == 0.0
    # not a probe JSON, or a probe of other ads: refused before any work, nothing written
    bad = tmp_path / "bad.json"
    bad.write_text('{"rows": [{"id": 1}]}')
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "6", "--output", str(tmp_path / "x.json"),
                 "--against", str(bad)]) == 2
    bad.write_text(json.dumps({"rows": [{"id": "nowhere", "ad_digest": "x", "violating": True, "p_violation": 0.5}]}))
    assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "6", "--output", str(tmp_path / "x.json"),
                 "--against", str(bad)]) == 2
    # the same ids over other ad texts (a probe from before a generator change), or rows without digests
    rows = json.loads(first.read_text())["rows"]
    for changed in ([{**row, "ad_digest": "0" * 16} for row in rows], [{k: v for k, v in row.items() if k != "ad_digest"} for row in rows]):
        bad.write_text(json.dumps({"rows": changed}))
        assert main(["eval", "ads-probe", "--model", "tiny", "--limit", "6", "--output", str(tmp_path / "x.json"),
                     "--against", str(bad)]) == 2
    assert not (tmp_path / "x.json").exists()
