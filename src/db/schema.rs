//! The portable diesel schema shared by the SQLite and PostgreSQL migrations.

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        password_hash -> Text,
        display_name -> Text,
        role -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        user_id -> Text,
        family_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    courses (id) {
        id -> Text,
        instructor_id -> Text,
        title -> Text,
        description -> Text,
        category -> Text,
        cover_image_url -> Nullable<Text>,
        price_minor -> BigInt,
        currency -> Text,
        level -> Text,
        language -> Text,
        status -> Text,
        rejection_reason -> Nullable<Text>,
        search_text -> Text,
        rating_count -> BigInt,
        rating_sum -> BigInt,
        rating_avg -> Double,
        enrollment_count -> BigInt,
        published_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    course_tags (course_id, tag) {
        course_id -> Text,
        tag -> Text,
    }
}

diesel::table! {
    lessons (id) {
        id -> Text,
        course_id -> Text,
        position -> Integer,
        title -> Text,
        body -> Nullable<Text>,
        media_url -> Nullable<Text>,
        duration_secs -> Integer,
        free_preview -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    entitlements (id) {
        id -> Text,
        user_id -> Text,
        course_id -> Text,
        source -> Text,
        order_id -> Nullable<Text>,
        granted_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reviews (id) {
        id -> Text,
        course_id -> Text,
        user_id -> Text,
        rating -> Integer,
        body -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    behavior_events (id) {
        id -> Text,
        user_id -> Text,
        course_id -> Text,
        kind -> Text,
        weight -> Double,
        occurred_at -> Timestamp,
        detail -> Nullable<Text>,
        dedup_key -> Nullable<Text>,
    }
}

diesel::table! {
    recommendation_dismissals (user_id, course_id) {
        user_id -> Text,
        course_id -> Text,
        dismissed_at -> Timestamp,
    }
}

diesel::table! {
    setup_claim (id) {
        id -> Integer,
        kind -> Text,
        claimed_at -> Timestamp,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(courses -> users (instructor_id));
diesel::joinable!(course_tags -> courses (course_id));
diesel::joinable!(lessons -> courses (course_id));
diesel::joinable!(entitlements -> courses (course_id));
diesel::joinable!(reviews -> courses (course_id));
diesel::joinable!(reviews -> users (user_id));

diesel::table! {
    orders (id) {
        id -> Text,
        user_id -> Text,
        course_id -> Text,
        instructor_id -> Text,
        status -> Text,
        list_price_minor -> BigInt,
        discount_minor -> BigInt,
        amount_minor -> BigInt,
        refunded_minor -> BigInt,
        currency -> Text,
        coupon_code -> Nullable<Text>,
        fee_bps -> Integer,
        payment_id -> Nullable<Text>,
        payment_status -> Text,
        expires_at -> Timestamp,
        paid_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    state_transitions (id) {
        id -> Text,
        entity -> Text,
        entity_id -> Text,
        from_state -> Nullable<Text>,
        to_state -> Text,
        cause -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (user_id, idem_key) {
        user_id -> Text,
        idem_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        order_id -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
    }
}

diesel::table! {
    webhook_events (event_id) {
        event_id -> Text,
        event_type -> Text,
        received_at -> Timestamp,
    }
}

diesel::table! {
    coupons (id) {
        id -> Text,
        code -> Text,
        percent_bps -> Nullable<Integer>,
        amount_minor -> Nullable<BigInt>,
        currency -> Nullable<Text>,
        course_id -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        max_redemptions -> Nullable<BigInt>,
        max_per_user -> Nullable<BigInt>,
        redemptions -> BigInt,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    coupon_redemptions (id) {
        id -> Text,
        coupon_id -> Text,
        user_id -> Text,
        order_id -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refunds (id) {
        id -> Text,
        order_id -> Text,
        amount_minor -> BigInt,
        reason -> Text,
        requested_by -> Text,
        provider_refund_id -> Nullable<Text>,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    ledger_transactions (id) {
        id -> Text,
        kind -> Text,
        reference -> Text,
        currency -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    ledger_entries (id) {
        id -> Text,
        transaction_id -> Text,
        account -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sandbox_payments (id) {
        id -> Text,
        reference -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        capture_method -> Text,
        status -> Text,
        captured_minor -> BigInt,
        refunded_minor -> BigInt,
        card_last4 -> Nullable<Text>,
        failure_code -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        payer_id -> Nullable<Text>,
    }
}

diesel::table! {
    sandbox_outbox (event_id) {
        event_id -> Text,
        payload -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(ledger_entries -> ledger_transactions (transaction_id));

diesel::table! {
    sandbox_refunds (refund_key) {
        refund_key -> Text,
        payment_id -> Text,
        amount_minor -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    live_sessions (id) {
        id -> Text,
        course_id -> Text,
        title -> Text,
        starts_at -> Timestamp,
        status -> Text,
        started_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    room_epochs (room) {
        room -> Text,
        epoch -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    room_events (room, epoch, seq) {
        room -> Text,
        epoch -> Text,
        seq -> BigInt,
        kind -> Text,
        actor_id -> Nullable<Text>,
        data -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    payment_holds (id) {
        id -> Text,
        purpose -> Text,
        subject_id -> Text,
        payer_id -> Text,
        payee_id -> Text,
        amount_minor -> BigInt,
        currency -> Text,
        fee_bps -> Integer,
        payment_id -> Nullable<Text>,
        status -> Text,
        captured_minor -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    bookings (id) {
        id -> Text,
        expert_id -> Text,
        learner_id -> Text,
        starts_at -> Timestamp,
        minutes -> Integer,
        extra_minutes -> Integer,
        rate_per_minute_minor -> BigInt,
        currency -> Text,
        status -> Text,
        billable_seconds -> BigInt,
        charged_minor -> BigInt,
        expert_joined_at -> Nullable<Timestamp>,
        learner_joined_at -> Nullable<Timestamp>,
        ended_at -> Nullable<Timestamp>,
        settled_at -> Nullable<Timestamp>,
        expires_at -> Timestamp,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        unpaid_place -> Nullable<Integer>,
        unpaid_expert_place -> Nullable<Integer>,
    }
}

diesel::table! {
    booking_slots (expert_id, slot_at) {
        expert_id -> Text,
        slot_at -> Timestamp,
        booking_id -> Text,
    }
}

diesel::table! {
    consult_intervals (id) {
        id -> Text,
        booking_id -> Text,
        started_at -> Timestamp,
        checkpoint_at -> Timestamp,
        ended_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    expert_profiles (user_id) {
        user_id -> Text,
        headline -> Text,
        bio -> Text,
        rate_per_minute_minor -> BigInt,
        currency -> Text,
        min_minutes -> Integer,
        max_minutes -> Integer,
        time_zone -> Text,
        published -> Bool,
        search_text -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    expert_tags (expert_id, tag) {
        expert_id -> Text,
        tag -> Text,
    }
}

diesel::table! {
    expert_languages (expert_id, language) {
        expert_id -> Text,
        language -> Text,
    }
}

diesel::table! {
    expert_windows (expert_id, weekday, start_minute) {
        expert_id -> Text,
        weekday -> Integer,
        start_minute -> Integer,
        end_minute -> Integer,
    }
}

diesel::table! {
    expert_blocked_days (expert_id, local_date) {
        expert_id -> Text,
        local_date -> Date,
        starts_at -> Timestamp,
        ends_at -> Timestamp,
    }
}

diesel::table! {
    expert_question_prices (expert_id) {
        expert_id -> Text,
        price_minor -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    paid_questions (id) {
        id -> Text,
        expert_id -> Text,
        asker_id -> Text,
        title -> Text,
        body -> Text,
        price_minor -> BigInt,
        currency -> Text,
        status -> Text,
        answer -> Nullable<Text>,
        public -> Bool,
        deadline_at -> Timestamp,
        answered_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    question_unlocks (question_id, user_id) {
        question_id -> Text,
        user_id -> Text,
        hold_id -> Text,
        status -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    revocations (id) {
        id -> BigInt,
        kind -> Text,
        user_id -> Text,
        subject -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    disabled_accounts (user_id) {
        user_id -> Text,
        disabled_by -> Text,
        disabled_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    live_sessions,
    room_epochs,
    room_events,
    users,
    refresh_tokens,
    revocations,
    disabled_accounts,
    courses,
    course_tags,
    lessons,
    entitlements,
    reviews,
    behavior_events,
    recommendation_dismissals,
    orders,
    state_transitions,
    idempotency_keys,
    webhook_events,
    coupons,
    coupon_redemptions,
    refunds,
    ledger_transactions,
    ledger_entries,
    sandbox_payments,
    sandbox_outbox,
    sandbox_refunds,
    payment_holds,
    bookings,
    booking_slots,
    consult_intervals,
    expert_profiles,
    expert_tags,
    expert_languages,
    expert_windows,
    expert_blocked_days,
    expert_question_prices,
    paid_questions,
    question_unlocks,
    setup_claim,
);
