-- Paid questions: a learner pays (authorises) an expert's question price to ask in writing; the
-- expert's answer captures the hold, a passed deadline releases it. Others may pay a small fixed
-- amount to unlock a public answer (`question_unlocks`, one row per reader and question).

-- The price an expert asks for a written question, in the currency of their profile. No row:
-- the expert does not take paid questions.
CREATE TABLE expert_question_prices (
    expert_id TEXT PRIMARY KEY NOT NULL REFERENCES expert_profiles(user_id) ON DELETE CASCADE,
    price_minor BIGINT NOT NULL CHECK (price_minor > 0 AND price_minor <= 1000000),
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE paid_questions (
    id TEXT PRIMARY KEY NOT NULL,
    expert_id TEXT NOT NULL REFERENCES users(id),
    asker_id TEXT NOT NULL REFERENCES users(id),
    title TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    price_minor BIGINT NOT NULL CHECK (price_minor > 0),
    currency TEXT NOT NULL,
    status TEXT NOT NULL
        CHECK (status IN ('pending_payment', 'open', 'answered', 'expired', 'payment_failed')),
    answer TEXT CHECK (answer IS NULL OR length(answer) BETWEEN 1 AND 8000),
    public BOOLEAN NOT NULL DEFAULT TRUE,
    -- Unpaid: when the payment window closes. Open: when the expert's time to answer runs out.
    deadline_at TIMESTAMP NOT NULL,
    answered_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((status = 'answered') = (answer IS NOT NULL AND answered_at IS NOT NULL))
);
CREATE INDEX paid_questions_expert_idx ON paid_questions (expert_id, status, answered_at);
CREATE INDEX paid_questions_asker_idx ON paid_questions (asker_id, created_at);
CREATE INDEX paid_questions_due_idx ON paid_questions (status, deadline_at);

-- `pending` until the hold named by `hold_id` is captured, then `paid`: the reader sees the
-- answer. A new attempt replaces `hold_id`, so a late authorisation of an old hold is released.
CREATE TABLE question_unlocks (
    question_id TEXT NOT NULL REFERENCES paid_questions(id),
    user_id TEXT NOT NULL REFERENCES users(id),
    hold_id TEXT NOT NULL REFERENCES payment_holds(id),
    status TEXT NOT NULL CHECK (status IN ('pending', 'paid')),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (question_id, user_id)
);
CREATE INDEX question_unlocks_hold_idx ON question_unlocks (hold_id);
