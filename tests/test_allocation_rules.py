"""The lottery draw: repeatable from the seed, and fair to every entrant."""
from collections import Counter

from backend.rules.allocation import commitment, digest, draw_order, winners_count

ENTRANTS = [f"R{i:03d}" for i in range(20)]


def test_a_draw_is_fixed_by_the_seed_and_the_entries_not_their_arrival_order():
    once = draw_order("seed-1", ENTRANTS)
    assert once == draw_order("seed-1", list(reversed(ENTRANTS)))
    assert sorted(once) == sorted(ENTRANTS)
    assert once != draw_order("seed-2", ENTRANTS)
    assert digest(once) == digest(draw_order("seed-1", ENTRANTS))
    assert commitment("seed-1") != commitment("seed-2") and len(commitment("x")) == 64


def test_whole_series_winners_never_exceed_stock():
    assert winners_count(entries=10, remaining_doses=7, doses_per_person=2) == 3
    assert winners_count(entries=2, remaining_doses=100, doses_per_person=2) == 2
    assert winners_count(entries=5, remaining_doses=0, doses_per_person=1) == 0


def test_each_entrant_wins_at_the_same_rate_over_10000_seeded_draws():
    """20 entrants, 5 places: p = 0.25; sd over 10,000 draws = 0.0043; tolerance ±0.02 (4.6 sd)."""
    wins = Counter()
    draws = 10_000
    for n in range(draws):
        wins.update(draw_order(f"fairness-{n}", ENTRANTS)[:5])
    rates = {e: wins[e] / draws for e in ENTRANTS}
    assert all(abs(rate - 0.25) < 0.02 for rate in rates.values()), rates
    # and position in the list (first or last entrant) is not favoured either
    first = Counter(draw_order(f"pos-{n}", ENTRANTS)[0] for n in range(draws))
    assert all(abs(first[e] / draws - 0.05) < 0.01 for e in ENTRANTS), first
