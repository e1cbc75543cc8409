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
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(courses -> users (instructor_id));
diesel::joinable!(course_tags -> courses (course_id));
diesel::joinable!(lessons -> courses (course_id));
diesel::joinable!(entitlements -> courses (course_id));
diesel::joinable!(reviews -> courses (course_id));
diesel::joinable!(reviews -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    courses,
    course_tags,
    lessons,
    entitlements,
    reviews,
    behavior_events,
);
