"""Unit tests of the TCK runner's value parser, comparison and Gherkin handling (no server)."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tck
from tck import Node, Path_, Rel, canon, parse_value


@pytest.mark.parametrize(
    "text, value",
    [
        ("null", None),
        ("true", True),
        ("-12", -12),
        ("1.5e-3", 0.0015),
        ("-Inf", -math.inf),
        ("'it\\'s'", "it's"),
        ("'a\\\\b'", "a\\b"),
        ("[1, [2, 'x'], []]", [1, [2, "x"], []]),
        ("{a: 1, `b c`: {}}", {"a": 1, "b c": {}}),
    ],
)
def test_parses_scalars_and_containers(text, value):
    assert parse_value(text) == value


def test_integer_and_float_are_different_values():
    assert isinstance(parse_value("1"), int)
    assert isinstance(parse_value("1.0"), float)
    assert canon(1) != canon(1.0)
    assert canon(True) != canon(1)


def test_nan_equals_itself_in_comparison():
    assert canon(parse_value("NaN")) == canon(float("nan"))


def test_parses_graph_elements():
    assert parse_value("(:B:A {name: 'n'})") == Node(frozenset({"A", "B"}), {"name": "n"})
    assert parse_value("()") == Node(frozenset(), {})
    assert parse_value("[:T {k: [1]}]") == Rel("T", {"k": [1]})
    path = parse_value("<(:A)-[:T]->(:B)<-[:U]-()>")
    assert isinstance(path, Path_)
    assert [d for _, d, _ in path.hops] == ["->", "<-"]
    assert path.hops[1][2] == Node(frozenset(), {})


def test_list_starting_with_a_list_is_not_a_relationship():
    assert parse_value("[[:T]]") == [Rel("T", {})]
    assert parse_value("[ [1] ]") == [[1]]


def test_trailing_text_is_an_error():
    with pytest.raises(tck.ParseError):
        parse_value("1 2")


def test_row_comparison_any_order_and_in_order():
    a, b = [[1], ["x"]], [["x"], [1]]
    assert tck._rows_equal(a, b, ordered=False, unordered=False)
    assert not tck._rows_equal(a, b, ordered=True, unordered=False)
    assert not tck._rows_equal([[1], [1]], [[1]], ordered=False, unordered=False)


def test_ignoring_element_order_for_lists():
    assert tck._rows_equal([[[1, 2]]], [[[2, 1]]], ordered=False, unordered=True)
    assert not tck._rows_equal([[[1, 2]]], [[[2, 1]]], ordered=False, unordered=False)


def test_nodes_compare_by_labels_and_properties_not_order_of_keys():
    assert canon(parse_value("(:A {x: 1, y: 2})")) == canon(Node(frozenset({"A"}), {"y": 2, "x": 1}))
    assert canon(parse_value("(:A {x: 1})")) != canon(parse_value("(:A {x: 1.0})"))


@pytest.mark.parametrize(
    "parts, text",
    [
        ((14, 0, 0, 0), "P1Y2M"),
        ((0, 0, 0, 0), "PT0S"),
        ((0, 0, -1, 999_000_000), "PT-0.001S"),
        ((0, 1, 0, -1_000_000), "P1DT-0.001S"),
        ((-13, 0, -3661, -500_000_000), "P-1Y-1MT-1H-1M-1.5S"),
        ((149, -14, 57600, 0), "P12Y5M-14DT16H"),
    ],
)
def test_duration_text_matches_cypher_to_string(parts, text):
    assert tck.duration_text(*parts) == text


def test_temporal_text():
    import neo4j.time as t
    import pytz

    assert tck.from_driver(t.Time(12, 0, 0, 0)) == "12:00"
    assert tck.from_driver(t.Time(12, 31, 14, 645_000_000)) == "12:31:14.645"
    assert tck.from_driver(t.Time(12, 31, 14, 2)) == "12:31:14.000000002"
    assert tck.from_driver(t.Date(1984, 10, 11)) == "1984-10-11"
    offset = t.DateTime(2015, 7, 21, 21, 40, 32, 142_000_000, tzinfo=pytz.FixedOffset(60))
    assert tck.from_driver(offset) == "2015-07-21T21:40:32.142+01:00"
    zoned = pytz.timezone("Europe/Stockholm").localize(t.DateTime(2015, 7, 21, 21, 40))
    assert tck.from_driver(zoned) == "2015-07-21T21:40+02:00[Europe/Stockholm]"


def test_side_effects_count_distinct_labels_and_property_triples():
    before = tck.GraphState({1}, set(), {"A"}, {("n", 1, "k", canon(1))})
    after = tck.GraphState({1, 2}, set(), {"A", "B"}, {("n", 1, "k", canon(2))})
    effects = tck.side_effects(before, after)
    assert effects["+nodes"] == 1 and effects["-nodes"] == 0
    assert effects["+labels"] == 1
    assert effects["+properties"] == 1 and effects["-properties"] == 1


FEATURE = '''Feature: F
  Background:
    Given an empty graph

  @tag
  Scenario Outline: [1] Outline <n>
    When executing query:
      """
      RETURN <n> AS x
      """
    Then the result should be, in any order:
      | x   |
      | <n> |

    Examples:
      | n |
      | 1 |
      | 2 |

  Scenario: [2] Pipes \\| and escapes
    Then the result should be, in any order:
      | s        |
      | 'a\\|b\\n' |
'''


def test_gherkin_outline_expansion_background_and_cell_escapes():
    scenarios = tck.FeatureParser(FEATURE, "clauses/x/X1.feature").parse()
    assert [s.name for s in scenarios] == ["[1] Outline 1", "[1] Outline 2", "[2] Pipes \\| and escapes"]
    first = scenarios[0]
    assert first.area == "clauses/x"
    assert first.steps[0].text == "an empty graph"
    assert first.steps[1].docstring == "RETURN 1 AS x"
    assert first.steps[2].table == [["x"], ["1"]]
    assert scenarios[2].steps[1].table[1] == ["'a|b\n'"]
