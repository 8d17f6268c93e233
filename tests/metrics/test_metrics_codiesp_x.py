"""CodiEsp-X: the official toy example, hand-made edge cases of the reference rule, bad input."""

from pathlib import Path

import pytest

from clincode.metrics.codiesp_x import (
    Reference,
    codiesp_x_by_type,
    codiesp_x_score,
    read_valid_codes,
    read_x_gold,
    read_x_predictions,
)

TOY = Path(__file__).resolve().parents[1] / "data" / "codiesp_x_toy"


def test_official_toy_example():
    gold = read_x_gold(TOY / "gs_X.tsv")
    pred = read_x_predictions(TOY / "pred_X.tsv")
    valid = read_valid_codes(TOY / "valid_codes_D.tsv") | read_valid_codes(TOY / "valid_codes_P.tsv")
    score = codiesp_x_score(gold, pred, valid)
    # the official script's README: micro P 0.636, R 0.538, F 0.583 (7 hits, 11 predicted, 13 gold pairs)
    assert (score.hits, score.predicted, score.gold) == (7, 11, 13)
    assert round(score.precision, 3) == 0.636
    assert round(score.recall, 3) == 0.538
    assert round(score.f1, 3) == 0.583
    # without a valid-code list, s43.40 (in both documents, a miss) and code4 count as predicted: 7 / 14
    loose = codiesp_x_score(gold, pred)
    assert (loose.hits, loose.predicted) == (7, 14) and loose.precision == pytest.approx(0.5)


def ref(doc, code, start, end, label="DIAGNOSTICO"):
    return Reference(doc, label, code, start, end)


@pytest.mark.parametrize(
    ("pred", "hit"),
    [
        ((100, 120), True),  # exact
        ((90, 130), True),  # 10 characters over on each side
        ((89, 120), False),  # 11 before
        ((100, 131), False),  # 11 after
        ((101, 120), False),  # short at the start
        ((100, 119), False),  # short at the end
        ((95, 125), True),
    ],
)
def test_containment_with_ten_characters_of_tolerance(pred, hit):
    score = codiesp_x_score([ref("d", "n20.0", 100, 120)], [ref("d", "n20.0", *pred)])
    assert score.hits == int(hit)


def test_discontinuous_gold_counts_from_first_start_to_last_end(tmp_path):
    path = tmp_path / "gold.tsv"
    path.write_text("d\tDIAGNOSTICO\ts42.90x\tfracturas en hombro\t385 397;405 411\n", encoding="utf-8")
    gold = read_x_gold(path)
    assert (gold[0].start, gold[0].end) == (385, 411)
    assert codiesp_x_score(gold, [ref("d", "s42.90x", 385, 397)]).hits == 0  # only the first piece
    assert codiesp_x_score(gold, [ref("d", "s42.90x", 380, 415)]).hits == 1
    # pieces listed out of text order (the release has some): first start to last end, never hit
    path.write_text("d\tDIAGNOSTICO\tr69\tx\t2654 2674;691 706\n", encoding="utf-8")
    late = read_x_gold(path)
    assert (late[0].start, late[0].end) == (2654, 706)
    assert codiesp_x_score(late, [ref("d", "r69", 691, 2674), ref("d", "r69", 2654, 2674)]).hits == 0


def test_several_spans_per_code_count_once_and_one_match_is_enough():
    gold = [ref("d", "m81.0", 10, 20), ref("d", "m81.0", 200, 212), ref("d", "r69", 50, 60)]
    pred = [ref("d", "m81.0", 500, 510), ref("d", "m81.0", 200, 212), ref("d", "m81.0", 0, 5), ref("d", "r69", 0, 5)]
    score = codiesp_x_score(gold, pred)
    assert (score.hits, score.predicted, score.gold) == (1, 2, 2)
    assert score.precision == pytest.approx(0.5) and score.recall == pytest.approx(0.5)


def test_a_document_absent_from_gold_adds_false_positives_only():
    gold = [ref("a", "r69", 0, 10)]
    pred = [ref("a", "r69", 0, 10), ref("ghost", "r69", 0, 10), ref("ghost", "n20.0", 0, 10)]
    score = codiesp_x_score(gold, pred)
    assert (score.hits, score.predicted, score.gold) == (1, 3, 1)
    assert score.precision == pytest.approx(1 / 3) and score.recall == 1.0
    assert score.f1 == pytest.approx(2 * (1 / 3) / (1 + 1 / 3))


def test_codes_compare_in_lower_case_and_invalid_codes_are_dropped_first():
    gold = [ref("a", "s43.40", 0, 10)]
    assert codiesp_x_score(gold, [ref("a", "S43.40", 0, 10)]).hits == 1
    dropped = codiesp_x_score(gold, [ref("a", "S43.40", 0, 10), ref("a", "zz", 0, 10)], valid_codes={"R69", "zz"})
    assert (dropped.hits, dropped.predicted) == (0, 1)
    empty = codiesp_x_score(gold, [])
    assert (empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0)


def test_by_type_keeps_each_label_apart():
    gold = [ref("a", "r69", 0, 10), ref("a", "bw03zzz", 20, 30, "PROCEDIMIENTO")]
    pred = [ref("a", "r69", 0, 10), ref("a", "bw03zzz", 0, 5, "PROCEDIMIENTO"), ref("a", "ct13", 0, 5, "PROCEDIMIENTO")]
    out = codiesp_x_by_type(gold, pred)
    assert out["D"].to_dict() == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "hits": 1, "predicted": 1, "gold": 1}
    assert (out["P"].hits, out["P"].predicted, out["P"].gold) == (0, 2, 1)
    assert (out["all"].hits, out["all"].predicted, out["all"].gold) == (1, 3, 2)


def test_bad_input_names_the_file_field_and_expectation(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tsv does not exist; expected a CodiEsp-X gold file"):
        read_x_gold(tmp_path / "nope.tsv")
    wrong = tmp_path / "wrong.tsv"
    wrong.write_text("d\t1 5\tDIAGNOSTICO\tr69\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"wrong.tsv line 1 has 4 tab-separated fields; expected 5 \(articleID, label"):
        read_x_gold(wrong)
    with pytest.raises(ValueError, match=r"line 1 has 5 tab-separated fields; expected 4 \(articleID, position, label, code\)"):
        read_x_predictions(TOY / "gs_X.tsv")
    bad = tmp_path / "bad.tsv"
    bad.write_text("d\t1 5\tDIAGNOSTICO\tr69\nd\t7-9\tDIAGNOSTICO\tr69\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv line 2: field position is '7-9'; expected \"start end\""):
        read_x_predictions(bad)
    reverse = tmp_path / "reverse.tsv"
    reverse.write_text("d\t9 7\tDIAGNOSTICO\tr69\n", encoding="utf-8")
    with pytest.raises(ValueError, match="expected offsets >= 0 and start <= end"):
        read_x_predictions(reverse)
    no_code = tmp_path / "no_code.tsv"
    no_code.write_text("d\t1 5\tDIAGNOSTICO\t \n", encoding="utf-8")
    with pytest.raises(ValueError, match="field code is empty"):
        read_x_predictions(no_code)


@pytest.mark.slow
def test_real_test_gold_scored_against_itself(shared_data):
    gold = read_x_gold(shared_data("codiesp") / "test" / "testX.tsv")
    assert len(gold) == 4777
    backwards = [r for r in gold if r.end < r.start]  # discontinuous pieces listed out of text order
    assert len(backwards) == 35
    as_predicted = [r for r in gold if r.start <= r.end]
    score = codiesp_x_score(gold, as_predicted)
    pairs = {(r.doc, r.code) for r in gold}
    only_backwards = pairs - {(r.doc, r.code) for r in as_predicted}
    # every pair with one readable reference is hit by it; a pair with only backwards ones cannot be
    assert score.gold == len(pairs) == 3721 and score.precision == 1.0
    assert score.hits == len(pairs) - len(only_backwards) and 0 < len(only_backwards) <= 35
    by_type = codiesp_x_by_type(gold, as_predicted)
    assert (by_type["D"].gold, by_type["P"].gold) == (2842, 879)
