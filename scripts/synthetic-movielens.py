#!/usr/bin/env python3
"""Writes a small MovieLens-format data set with structure a recommender should find, for the
CI run of `lyceum recommend eval` (ML-100K may not be redistributed, so CI generates its own).

Usage: synthetic-movielens.py OUT_DIR [--users N] [--items M] [--per-user K]
  ->  OUT_DIR/synthetic.inter and OUT_DIR/synthetic.item (RecBole layout, as
  scripts/fetch-ml100k.sh writes ML-100K). The defaults (900, 120, 10) are CI's evaluation set;
  larger ones are what scripts/recommend-cost.sh measures the refit on.

The structure: 8 genres of 15 items; each learner keeps to one genre for most ratings, and
otherwise takes one of the few items trending in the current 10-day window, so both what a
learner took (the collaborative and content parts) and what is recent (the popularity prior)
carry signal. Learners arrive over 80 days and rate 10 items over about a week. Seeded, so
every run writes the same files.
"""
import argparse
import os
import random

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller", "Western"]
DAY = 86_400
START = 1_700_000_000


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("out")
    args.add_argument("--users", type=int, default=900)
    args.add_argument("--items", type=int, default=120)
    args.add_argument("--per-user", type=int, default=10)
    opts = args.parse_args()
    out, users, per_user = opts.out, opts.users, opts.per_user
    per_genre = max(opts.items // len(GENRES), 1)
    items = len(GENRES) * per_genre
    if per_user > items:
        args.error("--per-user cannot exceed the number of items")
    # Each learner's picks within a genre fall off exponentially, over 4 of 15 items by default.
    decay = 0.25 * 15 / per_genre
    os.makedirs(out, exist_ok=True)
    rng = random.Random(7)
    with open(os.path.join(out, "synthetic.item"), "w", encoding="utf-8") as f:
        f.write("item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n")
        for item in range(items):
            genre = GENRES[item // per_genre]
            f.write(f"{item + 1}\t{genre} film {item % per_genre + 1}\t2001\t{genre}\n")
    with open(os.path.join(out, "synthetic.inter"), "w", encoding="utf-8") as f:
        f.write("user_id:token\titem_id:token\trating:float\ttimestamp:float\n")
        for user in range(users):
            genre = rng.randrange(len(GENRES))
            arrival = START + int(user / users * 80 * DAY) + rng.randrange(DAY)
            taken = set()
            at = arrival
            while len(taken) < per_user:
                at += rng.randrange(DAY // 2, DAY)
                window = (at - START) // (10 * DAY)
                if rng.random() < 0.3:
                    # Three trending items per window, drawn from all genres.
                    item = (window * 37 + rng.randrange(3) * 11) % items
                else:
                    item = genre * per_genre + min(
                        int(rng.expovariate(decay)), per_genre - 1
                    )
                if item in taken:
                    continue
                taken.add(item)
                f.write(f"{user + 1}\t{item + 1}\t{rng.randint(3, 5)}\t{at}\n")


if __name__ == "__main__":
    main()
