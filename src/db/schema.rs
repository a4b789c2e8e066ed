//! Diesel table definitions, written by hand to match `migrations/` (both backends share them).

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        created_at -> BigInt,
        password_changed_at -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        public_id -> Text,
        secret_sha256 -> Text,
        label -> Text,
        scopes -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    collections (id) {
        id -> Text,
        title -> Text,
        alias -> Nullable<Text>,
        description -> Nullable<Text>,
        public_read -> Bool,
        kind -> Text,
        created_at -> BigInt,
        last_date_added -> BigInt,
        api_root -> Text,
    }
}

diesel::table! {
    collection_grants (user_id, collection_id) {
        user_id -> BigInt,
        collection_id -> Text,
        can_read -> Bool,
        can_write -> Bool,
    }
}

diesel::table! {
    stix_objects (pk) {
        pk -> BigInt,
        stix_id -> Text,
        stix_type -> Text,
        spec_version -> Text,
        created -> Nullable<BigInt>,
        modified -> Nullable<BigInt>,
        version -> BigInt,
        revoked -> Bool,
        json -> Text,
    }
}

diesel::table! {
    collection_objects (seq) {
        seq -> BigInt,
        collection_id -> Text,
        object_pk -> BigInt,
        date_added -> BigInt,
        is_first -> Bool,
        is_latest -> Bool,
        stix_id -> Text,
    }
}

diesel::table! {
    taxii_status (id) {
        id -> Text,
        collection_id -> Text,
        user_id -> Nullable<BigInt>,
        status -> Text,
        request_timestamp -> BigInt,
        total_count -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::table! {
    taxii_status_details (status_id, position) {
        status_id -> Text,
        position -> BigInt,
        stix_id -> Text,
        version -> Text,
        outcome -> Text,
        message -> Nullable<Text>,
    }
}

diesel::table! {
    taxii_pending (status_id, position) {
        status_id -> Text,
        position -> BigInt,
        collection_id -> Text,
        json -> Text,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        actor -> Nullable<Text>,
        action -> Text,
        target -> Nullable<Text>,
        detail -> Nullable<Text>,
        remote_addr -> Nullable<Text>,
    }
}

diesel::table! {
    server_secrets (name) {
        name -> Text,
        value -> Text,
        created_at -> BigInt,
    }
}

diesel::joinable!(api_tokens -> users (user_id));
diesel::joinable!(collection_grants -> users (user_id));
diesel::joinable!(collection_grants -> collections (collection_id));
diesel::joinable!(collection_objects -> collections (collection_id));
diesel::joinable!(collection_objects -> stix_objects (object_pk));
diesel::joinable!(taxii_status_details -> taxii_status (status_id));
diesel::joinable!(taxii_pending -> taxii_status (status_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    api_tokens,
    collections,
    collection_grants,
    stix_objects,
    collection_objects,
    taxii_status,
    taxii_status_details,
    taxii_pending,
    audit_log,
    server_secrets,
);
