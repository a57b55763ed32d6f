"""Screen side versus stored response: randomised, deterministic, and invertible."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from prefdata.annotate.side_order import choice_to_screen, left_response, screen_to_choice


def test_order_is_deterministic_and_balanced() -> None:
    sides = [left_response(f"pair{i}", "ann") for i in range(2000)]
    assert sides == [left_response(f"pair{i}", "ann") for i in range(2000)]
    assert 0.45 < sides.count("chosen") / len(sides) < 0.55


def test_annotators_see_different_orders() -> None:
    differ = sum(
        left_response(f"pair{i}", "a") != left_response(f"pair{i}", "b") for i in range(500)
    )
    assert 200 < differ < 300


@given(
    screen=st.sampled_from(["A", "B", "tie", "both_bad", "skip"]),
    left=st.sampled_from(["chosen", "rejected"]),
)
def test_screen_and_choice_round_trip(screen: str, left: str) -> None:
    choice = screen_to_choice(screen, left)  # type: ignore[arg-type]
    assert choice_to_screen(choice, left) == screen  # type: ignore[arg-type]
    if screen == "A":
        assert choice == left
