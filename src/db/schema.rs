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
        expires_at -> Nullable<BigInt>,
        exports -> Nullable<Text>,
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
        intake -> Bool,
        tlp_ceiling -> Integer,
        share_target -> Bool,
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
        content_sha256 -> Nullable<Text>,
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
        tlp_rank -> Integer,
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

diesel::table! {
    whitelist_rules (id) {
        id -> BigInt,
        match_kind -> Text,
        pattern -> Text,
        applies_to -> Text,
        reason -> Text,
        author -> Text,
        builtin -> Bool,
        created_at -> BigInt,
    }
}

diesel::table! {
    events (id) {
        id -> BigInt,
        stix_id -> Text,
        title -> Text,
        event_type -> Text,
        happened_at -> Nullable<BigInt>,
        description -> Nullable<Text>,
        tlp -> Text,
        tags -> Text,
        adversary -> Nullable<Text>,
        message_id -> Nullable<Text>,
        fingerprint -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    imports (id) {
        id -> BigInt,
        content_sha256 -> Text,
        raw -> Binary,
        raw_size -> BigInt,
        source -> Text,
        source_metadata -> Nullable<Text>,
        input_kind -> Text,
        state -> Text,
        error -> Nullable<Text>,
        extraction -> Nullable<Text>,
        subject -> Nullable<Text>,
        sender -> Nullable<Text>,
        reporter -> Nullable<Text>,
        message_id -> Nullable<Text>,
        fingerprint -> Nullable<Text>,
        meta -> Text,
        event_id -> Nullable<BigInt>,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    draft_items (id) {
        id -> BigInt,
        import_id -> BigInt,
        section -> Text,
        item_type -> Text,
        value -> Text,
        state -> Text,
        origin -> Text,
        whitelist_reason -> Nullable<Text>,
        details -> Text,
    }
}

diesel::table! {
    event_recipients (event_id, address) {
        event_id -> BigInt,
        address -> Text,
        role -> Text,
        import_id -> Nullable<BigInt>,
        added_at -> BigInt,
    }
}

diesel::table! {
    indicators (id) {
        id -> BigInt,
        kind -> Text,
        value -> Text,
        status -> Text,
        score -> Integer,
        tlp -> Text,
        description -> Nullable<Text>,
        first_seen -> BigInt,
        last_seen -> BigInt,
        status_changed_at -> BigInt,
        expires_at -> Nullable<BigInt>,
        stix_id -> Text,
        stix_created -> Nullable<BigInt>,
        stix_modified -> Nullable<BigInt>,
        stix_observed_id -> Nullable<Text>,
        stix_based_on_id -> Nullable<Text>,
        whitelist_rule_id -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    indicator_tags (indicator_id, tag) {
        indicator_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    indicator_sources (indicator_id, source) {
        indicator_id -> BigInt,
        source -> Text,
        first_at -> BigInt,
        last_at -> BigInt,
    }
}

diesel::table! {
    indicator_events (indicator_id, event_id) {
        indicator_id -> BigInt,
        event_id -> BigInt,
        linked_at -> BigInt,
    }
}

diesel::table! {
    indicator_history (id) {
        id -> BigInt,
        indicator_id -> BigInt,
        at -> BigInt,
        actor -> Text,
        field -> Text,
        old_value -> Nullable<Text>,
        new_value -> Nullable<Text>,
        reason -> Nullable<Text>,
    }
}

diesel::table! {
    indicator_relations (source_id, rel_type, target_id) {
        source_id -> BigInt,
        rel_type -> Text,
        target_id -> BigInt,
        stix_id -> Text,
        origin -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    indicator_links (indicator_id, stix_id) {
        indicator_id -> BigInt,
        stix_id -> Text,
        collection_id -> Text,
        linked_at -> BigInt,
    }
}

diesel::table! {
    exports (id) {
        id -> BigInt,
        name -> Text,
        format -> Text,
        filters -> Text,
        options -> Text,
        created_by -> Text,
        created_at -> BigInt,
    }
}

diesel::table! {
    event_shares (event_id, collection_id) {
        event_id -> BigInt,
        collection_id -> Text,
        report_stix_id -> Text,
        shared_by -> Text,
        shared_at -> BigInt,
    }
}

diesel::table! {
    intake_cursors (collection_id) {
        collection_id -> Text,
        last_seq -> BigInt,
    }
}

diesel::table! {
    connectors (id) {
        id -> BigInt,
        name -> Text,
        origin -> Text,
        protocol -> Text,
        enabled -> Bool,
        config -> Text,
        password_sealed -> Nullable<Text>,
        uid_validity -> Nullable<BigInt>,
        last_uid -> Nullable<BigInt>,
        status -> Text,
        last_success_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        consecutive_failures -> BigInt,
        next_attempt_at -> Nullable<BigInt>,
        messages_taken -> BigInt,
        messages_failed -> BigInt,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    connector_attempts (connector_id, message_key) {
        connector_id -> BigInt,
        message_key -> Text,
        attempts -> BigInt,
        last_error -> Nullable<Text>,
        last_at -> BigInt,
    }
}

diesel::table! {
    connector_seen (connector_id, message_key) {
        connector_id -> BigInt,
        message_key -> Text,
        import_id -> Nullable<BigInt>,
        taken_at -> BigInt,
    }
}

diesel::table! {
    operation_runs (id) {
        id -> BigInt,
        operation -> Text,
        indicator_id -> BigInt,
        status -> Text,
        started_by -> Text,
        parameters -> Text,
        output -> Text,
        created -> Text,
        error -> Nullable<Text>,
        created_at -> BigInt,
        started_at -> Nullable<BigInt>,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sightings (id) {
        id -> BigInt,
        indicator_id -> BigInt,
        run_id -> Nullable<BigInt>,
        stix_id -> Text,
        sighting_of -> Text,
        count -> BigInt,
        first_seen -> BigInt,
        last_seen -> BigInt,
        hosts -> Text,
        description -> Nullable<Text>,
        objects -> Text,
        published -> Bool,
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
diesel::joinable!(imports -> events (event_id));
diesel::joinable!(draft_items -> imports (import_id));
diesel::joinable!(event_recipients -> events (event_id));
diesel::joinable!(indicator_tags -> indicators (indicator_id));
diesel::joinable!(indicator_sources -> indicators (indicator_id));
diesel::joinable!(indicator_events -> indicators (indicator_id));
diesel::joinable!(indicator_events -> events (event_id));
diesel::joinable!(indicator_history -> indicators (indicator_id));
diesel::joinable!(indicator_links -> indicators (indicator_id));
diesel::joinable!(event_shares -> events (event_id));
diesel::joinable!(event_shares -> collections (collection_id));
diesel::joinable!(connector_seen -> connectors (connector_id));
diesel::joinable!(connector_attempts -> connectors (connector_id));
diesel::joinable!(operation_runs -> indicators (indicator_id));
diesel::joinable!(sightings -> indicators (indicator_id));

diesel::table! {
    web_sessions (id_sha256) {
        id_sha256 -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
    }
}

diesel::joinable!(web_sessions -> users (user_id));

diesel::table! {
    ui_jobs (id) {
        id -> BigInt,
        user_id -> BigInt,
        kind -> Text,
        total -> BigInt,
        done -> BigInt,
        failed -> BigInt,
        result -> Text,
        created_at -> BigInt,
        finished_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(ui_jobs -> users (user_id));

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
    whitelist_rules,
    events,
    imports,
    draft_items,
    event_recipients,
    indicators,
    indicator_tags,
    indicator_sources,
    indicator_events,
    indicator_history,
    indicator_relations,
    indicator_links,
    exports,
    event_shares,
    intake_cursors,
    connectors,
    connector_attempts,
    connector_seen,
    operation_runs,
    sightings,
    web_sessions,
    ui_jobs,
);

diesel::table! {
    taxii_served (collection_id, hour) {
        collection_id -> Text,
        hour -> BigInt,
        requests -> BigInt,
        objects -> BigInt,
    }
}

diesel::table! {
    leases (name) {
        name -> Text,
        holder -> Text,
        expires_at -> BigInt,
    }
}

// Issue 20: suggested verdicts of drafts and the registered domains seen in imports.
diesel::table! {
    draft_verdicts (import_id) {
        import_id -> BigInt,
        verdict -> Text,
        score -> Integer,
        reasons -> Text,
        computed_at -> BigInt,
        inputs_version -> Integer,
        action -> Nullable<Text>,
        action_by -> Nullable<Text>,
        action_at -> Nullable<BigInt>,
        action_detail -> Nullable<Text>,
        undone_at -> Nullable<BigInt>,
        undone_by -> Nullable<Text>,
    }
}

diesel::table! {
    seen_domains (domain) {
        domain -> Text,
        first_import_id -> Nullable<BigInt>,
        first_seen_at -> BigInt,
    }
}

diesel::joinable!(draft_verdicts -> imports (import_id));
diesel::allow_tables_to_appear_in_same_query!(draft_verdicts, imports, seen_domains);

diesel::table! {
    subscriptions (id) {
        id -> BigInt,
        name -> Text,
        origin -> Text,
        protocol -> Text,
        enabled -> Bool,
        config -> Text,
        secret_sealed -> Nullable<Text>,
        collection_id -> Text,
        cursor -> Nullable<Text>,
        status -> Text,
        last_success_at -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        last_error_at -> Nullable<BigInt>,
        consecutive_failures -> BigInt,
        next_attempt_at -> Nullable<BigInt>,
        objects_taken -> BigInt,
        objects_rejected -> BigInt,
        last_rejected -> Nullable<Text>,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    subscription_protocols (name) {
        name -> Text,
    }
}

diesel::joinable!(subscriptions -> collections (collection_id));
diesel::allow_tables_to_appear_in_same_query!(subscriptions, collections);

diesel::table! {
    misp_links (indicator_id, attribute_uuid) {
        indicator_id -> BigInt,
        attribute_uuid -> Text,
        event_uuid -> Text,
        event_info -> Text,
        orgc -> Text,
        via -> Text,
        linked_at -> BigInt,
    }
}

diesel::joinable!(misp_links -> indicators (indicator_id));
diesel::allow_tables_to_appear_in_same_query!(misp_links, indicators);

// Issue 20 parts 3-4: campaigns, answers to reporters.
diesel::table! {
    campaigns (id) {
        id -> BigInt,
        title -> Text,
        merged_into -> Nullable<BigInt>,
        first_seen -> BigInt,
        last_seen -> BigInt,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::table! {
    campaign_drafts (import_id) {
        import_id -> BigInt,
        campaign_id -> Nullable<BigInt>,
        simhash -> Nullable<BigInt>,
        linked_by -> Text,
        added_at -> BigInt,
    }
}

diesel::table! {
    campaign_keys (kind, value, import_id) {
        kind -> Text,
        value -> Text,
        import_id -> BigInt,
    }
}

diesel::table! {
    notify_templates (verdict) {
        verdict -> Text,
        enabled -> Bool,
        subject -> Text,
        body -> Text,
        updated_by -> Nullable<Text>,
        updated_at -> BigInt,
    }
}

diesel::table! {
    notify_outbox (id) {
        id -> BigInt,
        import_id -> Nullable<BigInt>,
        verdict -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        message_id -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        last_error -> Nullable<Text>,
        created_at -> BigInt,
        sent_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(campaign_drafts -> imports (import_id));
diesel::joinable!(campaign_drafts -> campaigns (campaign_id));
diesel::joinable!(campaign_keys -> imports (import_id));
diesel::joinable!(notify_outbox -> imports (import_id));
diesel::allow_tables_to_appear_in_same_query!(
    campaigns,
    campaign_drafts,
    campaign_keys,
    imports,
    notify_outbox
);
diesel::allow_columns_to_appear_in_same_group_by_clause!(campaign_drafts::campaign_id, imports::state);
