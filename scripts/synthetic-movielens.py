#!/usr/bin/env python3
"""Writes a small MovieLens-format data set with structure a recommender should find, for the
CI run of `lyceum recommend eval` (ML-100K may not be redistributed, so CI generates its own).

Usage: synthetic-movielens.py OUT_DIR  ->  OUT_DIR/synthetic.inter and OUT_DIR/synthetic.item
(RecBole layout, as scripts/fetch-ml100k.sh writes ML-100K).

The structure: 8 genres of 15 items; each learner keeps to one genre for most ratings, and
otherwise takes one of the few items trending in the current 10-day window, so both what a
learner took (the collaborative and content parts) and what is recent (the popularity prior)
carry signal. Learners arrive over 80 days and rate 10 items over about a week. Seeded, so
every run writes the same files.
"""
import os
import random
import sys

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Western"]
PER_GENRE = 15
USERS = 900
RATINGS_PER_USER = 10
DAY = 86_400
START = 1_700_000_000


def main() -> None:
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    rng = random.Random(7)
    items = len(GENRES) * PER_GENRE
    with open(os.path.join(out, "synthetic.item"), "w", encoding="utf-8") as f:
        f.write("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n")
        for item in range(items):
            genre = GENRES[item // PER_GENRE]
            f.write(f"{item + 1}\t{genre} film {item % PER_GENRE + 1}\t2001\t{genre}\n")
    with open(os.path.join(out, "synthetic.inter"), "w", encoding="utf-8") as f:
        f.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        for user in range(USERS):
            genre = rng.randrange(len(GENRES))
            arrival = START + int(user / USERS * 80 * DAY) + rng.randrange(DAY)
            taken = set()
            at = arrival
            while len(taken) < RATINGS_PER_USER:
                at += rng.randrange(DAY // 2, DAY)
                window = (at - START) // (10 * DAY)
                if rng.random() < 0.3:
                    # Three trending items per window, drawn from all genres.
                    item = (window * 37 + rng.randrange(3) * 11) % items
                else:
                    item = genre * PER_GENRE + min(
                        int(rng.expovariate(0.25)), PER_GENRE - 1
                    )
                if item in taken:
                    continue
                taken.add(item)
                f.write(f"{user + 1}\t{item + 1}\t{rng.randint(3, 5)}\t{at}\n")


if __name__ == "__main__":
    main()
