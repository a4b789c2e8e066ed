//! Storage: paired migrations, up/down/up, backend selection, constraints on both backends.

use harpoon::db::{self, DbError, collections::GrantRow};

use crate::helpers::TestDb;

#[test]
fn both_backends_list_the_same_migrations_each_with_up_and_down() {
    let (sqlite, postgres) = db::migration_names();
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
    let root = crate::oracle::repo_root().join("migrations");
    for backend in ["sqlite", "postgres"] {
        let mut dirs: Vec<_> = std::fs::read_dir(root.join(backend))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        assert_eq!(dirs.len(), sqlite.len(), "{backend}");
        for dir in dirs {
            assert!(dir.join("up.sql").is_file() && dir.join("down.sql").is_file(), "{}", dir.display());
        }
    }
}

#[test]
fn up_down_up_leaves_the_schema_as_it_was() {
    let test_db = TestDb::fresh();
    let db = test_db.connect();
    assert_eq!(db.backend(), TestDb::expected_backend());
    let mut conn = db.conn().unwrap();
    let applied = db::migrate(&mut conn).unwrap();
    assert!(!applied.is_empty());
    let before = db::schema_fingerprint(&mut conn).unwrap();
    assert!(before.iter().any(|l| l.contains("collection_objects")), "{before:?}");
    let reverted = db::revert_all(&mut conn).unwrap();
    assert_eq!(reverted, applied.len());
    assert!(db::schema_fingerprint(&mut conn).unwrap().is_empty(), "down.sql drops everything");
    db::migrate(&mut conn).unwrap();
    assert_eq!(db::schema_fingerprint(&mut conn).unwrap(), before);
    assert!(db::migrate(&mut conn).unwrap().is_empty(), "migrating twice is a no-op");
}

#[test]
fn foreign_keys_and_unique_constraints_hold() {
    let test_db = TestDb::fresh();
    let db = test_db.connect();
    let mut conn = db.conn().unwrap();
    db::migrate(&mut conn).unwrap();
    let orphan =
        GrantRow { user_id: 4242, collection_id: "missing".into(), can_read: true, can_write: false };
    assert!(db::collections::set_grant(&mut conn, &orphan).is_err(), "foreign keys are enforced");
    db::users::insert(&mut conn, "dup", "hash", "reader").unwrap();
    assert!(matches!(db::users::insert(&mut conn, "dup", "hash", "reader"), Err(DbError::Conflict(_))));
    assert!(db::users::insert(&mut conn, "bad-role", "hash", "superuser").is_err(), "role is checked");
}

#[test]
fn server_secrets_are_created_once_and_shared() {
    let test_db = TestDb::fresh();
    let db = test_db.connect();
    let mut conn = db.conn().unwrap();
    db::migrate(&mut conn).unwrap();
    let first = db::secrets::get_or_create(&mut conn, "cursor-key", || "one".into()).unwrap();
    let second = db::secrets::get_or_create(&mut conn, "cursor-key", || "two".into()).unwrap();
    assert_eq!((first.as_str(), second.as_str()), ("one", "one"));
}

#[test]
fn a_corrupt_stored_value_is_an_error_not_a_default() {
    let test_db = TestDb::fresh();
    let db = test_db.connect();
    db.migrate().unwrap();
    db::testing::execute(
        &db,
        "INSERT INTO indicators (id, kind, value, status, score, tlp, first_seen, last_seen, \
         status_changed_at, stix_id, created_at, updated_at) VALUES (7, 'bogus', 'evil.example', \
         'active', 50, 'green', 0, 0, 0, 'indicator--corrupt', 0, 0)",
    )
    .unwrap();
    let read = db::indicators::get(&mut db.conn().unwrap(), 7);
    let Err(e @ DbError::Corrupt(_)) = read else { panic!("expected a corrupt-value error, got {read:?}") };
    assert!(e.to_string().contains("indicators.kind") && e.to_string().contains("'bogus'"), "{e}");
    db::testing::execute(
        &db,
        "INSERT INTO events (id, stix_id, title, event_type, tlp, tags, created_at, updated_at) \
         VALUES (3, 'grouping--corrupt', 't', 'spearphish', 'green', 'not json', 0, 0)",
    )
    .unwrap();
    let read = db::events::get(&mut db.conn().unwrap(), 3);
    assert!(matches!(read, Err(DbError::Corrupt(_))), "{read:?}");
    // A TLP level that is none of TLP 2.0's is corrupt too, not "no marking".
    db::testing::execute(
        &db,
        "INSERT INTO indicators (id, kind, value, status, score, tlp, first_seen, last_seen, \
         status_changed_at, stix_id, created_at, updated_at) VALUES (8, 'domain', 'evil.example', \
         'active', 50, 'purple', 0, 0, 0, 'indicator--corrupt-tlp', 0, 0)",
    )
    .unwrap();
    let read = db::indicators::get(&mut db.conn().unwrap(), 8);
    let Err(e @ DbError::Corrupt(_)) = read else { panic!("expected a corrupt-value error, got {read:?}") };
    assert!(e.to_string().contains("tlp") && e.to_string().contains("'purple'"), "{e}");
}

/// A pooled PostgreSQL connection used a moment ago is handed out without a `SELECT 1`
/// (`db/pool.rs`); one the server closed fails one statement and is then pinged and replaced,
/// never handed out broken again. (SQLite connections are files: nothing closes them.)
#[test]
fn a_connection_the_server_closed_is_replaced_after_its_first_failure() {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let test_db = TestDb::fresh();
    let db = test_db.connect();
    if TestDb::expected_backend() != db::Backend::Postgres {
        return;
    }
    let pid_of = |conn: &mut db::DbConn| -> Result<i32, DbError> {
        let db::DbConn::Postgres(c) = conn else { unreachable!() };
        Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result::<Pid>(c)?.pid)
    };
    let mut doomed = db.conn().unwrap();
    let pid = pid_of(&mut doomed).unwrap();
    db::testing::execute(&db, &format!("SELECT pg_terminate_backend({pid})")).unwrap();
    // Given back last, so handed out next (r2d2 reuses the newest idle connection first).
    drop(doomed);
    let outcomes: Vec<Result<i32, DbError>> = (0..3).map(|_| pid_of(&mut db.conn().unwrap())).collect();
    let failures = outcomes.iter().filter(|o| o.is_err()).count();
    assert!(failures <= 1, "{outcomes:?}");
    assert!(outcomes[1..].iter().all(|o| o.as_ref().is_ok_and(|p| *p != pid)), "{outcomes:?}");
}
