//! Typed TEXT columns: the closed sets stored as TEXT (an indicator's kind and status, an
//! import's state, a draft item's section and state, a run's status) read and written as their
//! enums, and JSON stored in TEXT read and written as [`JsonText<T>`]. No schema change: the
//! columns stay TEXT on both backends.
//!
//! A value that does not parse is an error ([`super::DbError::Corrupt`], naming the column and
//! the value), never a default: a corrupt row fails its page instead of rendering as empty.
//!
//! The diesel impls for enums defined outside `db/` (`extract::ObservableKind`) are written here,
//! so that diesel stays in `db/`: Rust's orphan rule allows them (diesel's traits, our type).
//! Enums that are states of stored rows live in the `db/` file of their table and are
//! re-exported by the service that owns their use case, so that `db/` imports nothing above it.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

/// Implements diesel's TEXT mapping (both directions, every backend, nullable columns too) for
/// an enum with `fn as_str(self) -> &'static str` and `fn from_name(&str) -> Option<Self>`;
/// `$column` names what is stored, for the error a corrupt value gives.
macro_rules! text_enum {
    ($ty:ty, $column:literal) => {
        // What `#[derive(AsExpression)]` writes, for a type defined elsewhere: a bound value.
        impl diesel::expression::AsExpression<diesel::sql_types::Text> for $ty {
            type Expression = diesel::internal::derives::as_expression::Bound<diesel::sql_types::Text, Self>;
            fn as_expression(self) -> Self::Expression {
                diesel::internal::derives::as_expression::Bound::new(self)
            }
        }
        impl<'a> diesel::expression::AsExpression<diesel::sql_types::Text> for &'a $ty {
            type Expression = diesel::internal::derives::as_expression::Bound<diesel::sql_types::Text, Self>;
            fn as_expression(self) -> Self::Expression {
                diesel::internal::derives::as_expression::Bound::new(self)
            }
        }
        impl diesel::expression::AsExpression<diesel::sql_types::Nullable<diesel::sql_types::Text>> for $ty {
            type Expression = diesel::internal::derives::as_expression::Bound<
                diesel::sql_types::Nullable<diesel::sql_types::Text>,
                Self,
            >;
            fn as_expression(self) -> Self::Expression {
                diesel::internal::derives::as_expression::Bound::new(self)
            }
        }
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Nullable<diesel::sql_types::Text>, DB> for $ty
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                <str as diesel::serialize::ToSql<diesel::sql_types::Text, DB>>::to_sql(self.as_str(), out)
            }
        }
        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text =
                    <String as diesel::deserialize::FromSql<diesel::sql_types::Text, DB>>::from_sql(bytes)?;
                <$ty>::from_name(&text)
                    .ok_or_else(|| $crate::db::types::corrupt($column, &text, "unknown value"))
            }
        }
        impl<DB> diesel::deserialize::Queryable<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            Self: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            type Row = Self;
            fn build(row: Self) -> diesel::deserialize::Result<Self> {
                Ok(row)
            }
        }
    };
}

/// Defines a closed set stored as TEXT: the enum, `ALL`, `as_str` and `from_name` (the stored
/// texts, which are also the names shown on the wire), and its TEXT mapping.
macro_rules! text_set {
    ($(#[$meta:meta])* $vis:vis enum $name:ident ($column:literal) { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: [Self; [$(stringify!($variant)),+].len()] = [$(Self::$variant),+];

            /// The stored (and shown) name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }

            /// Inverse of `as_str`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $crate::db::types::text_enum!($name, $column);
    };
}
pub(crate) use {text_enum, text_set};

text_enum!(crate::extract::ObservableKind, "indicators.kind");
text_enum!(crate::stix::Tlp2, "tlp (indicators, events)");

/// The error a stored value that does not parse gives: a [`CorruptValue`] that `DbError::from`
/// turns into [`super::DbError::Corrupt`].
pub(crate) fn corrupt(
    column: &'static str,
    value: &str,
    why: &str,
) -> Box<dyn std::error::Error + Send + Sync> {
    // Long JSON texts are cut: the message names the value, it does not reproduce it.
    let shown: String = value.chars().take(80).collect();
    let cut = if shown.len() < value.len() { "…" } else { "" };
    Box::new(CorruptValue(format!("{column}: {why} '{shown}{cut}'")))
}

/// `error` and its causes on one line (diesel's field error names the field only; the value is
/// in its source).
pub(crate) fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

/// A stored value that its column's type cannot hold.
#[derive(Debug)]
pub struct CorruptValue(pub String);

impl std::fmt::Display for CorruptValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CorruptValue {}

/// JSON stored in a TEXT column, read and written as `T`: what a row holds is `T`, and a text
/// that is not a `T` is an error when the row is read, never `T::default()`.
#[derive(Debug, Clone, PartialEq, Eq, Default, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct JsonText<T>(pub T);

impl<T> JsonText<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for JsonText<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for JsonText<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T: serde::Serialize + std::fmt::Debug> ToSql<Text, diesel::sqlite::Sqlite> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::sqlite::Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(serialize::IsNull::No)
    }
}

impl<T: serde::Serialize + std::fmt::Debug> ToSql<Text, diesel::pg::Pg> for JsonText<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, diesel::pg::Pg>) -> serialize::Result {
        serde_json::to_writer(out, &self.0)?;
        Ok(serialize::IsNull::No)
    }
}

impl<T, DB> FromSql<Text, DB> for JsonText<T>
where
    T: serde::de::DeserializeOwned,
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
        serde_json::from_str(&text)
            .map(JsonText)
            .map_err(|e| corrupt(std::any::type_name::<T>(), &text, &format!("not JSON of this type ({e}):")))
    }
}

/// Reads JSON stored in TEXT as `T` where the row keeps the text (its type belongs to a layer
/// above `db/`, which `db/` does not import): like [`JsonText`], a text that is not a `T` is a
/// [`super::DbError::Corrupt`] naming the column, never `T::default()`.
pub fn json_column<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: &str,
) -> Result<T, super::DbError> {
    serde_json::from_str(text).map_err(|e| {
        super::DbError::Corrupt(diesel::result::Error::DeserializationError(corrupt(
            column,
            text,
            &format!("not JSON of this type ({e}):"),
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::super::{DatabaseUrl, Db, DbError, PoolOptions, events, indicators, testing};
    use super::JsonText;
    use crate::extract::ObservableKind;

    fn sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&DatabaseUrl::sqlite_file(&dir.path().join("t.db")), &PoolOptions::default())
            .expect("connect");
        db.migrate().expect("migrate");
        (dir, db)
    }

    const INDICATOR: &str = "INSERT INTO indicators (id, kind, value, status, score, tlp, first_seen, \
        last_seen, status_changed_at, stix_id, created_at, updated_at) VALUES (7, '{kind}', \
        'evil.example', 'active', 50, 'green', 0, 0, 0, 'indicator--{id}', 0, 0)";

    #[test]
    fn stored_texts_read_as_their_enums() {
        let (_dir, db) = sqlite();
        testing::execute(&db, &INDICATOR.replace("{kind}", "domain").replace("{id}", "1")).expect("insert");
        let row = indicators::get(&mut db.conn().expect("conn"), 7).expect("read").expect("row");
        assert_eq!((row.kind, row.status), (ObservableKind::Domain, indicators::Status::Active));
    }

    #[test]
    fn an_unknown_enum_text_is_an_error_naming_the_column_and_value() {
        let (_dir, db) = sqlite();
        testing::execute(&db, &INDICATOR.replace("{kind}", "bogus").replace("{id}", "2")).expect("insert");
        let read = indicators::get(&mut db.conn().expect("conn"), 7);
        let Err(e @ DbError::Corrupt(_)) = read else {
            panic!("expected a corrupt-value error, got {read:?}")
        };
        let message = e.to_string();
        assert!(message.contains("indicators.kind") && message.contains("'bogus'"), "{message}");
    }

    #[test]
    fn json_that_is_not_its_type_is_an_error_not_a_default() {
        let (_dir, db) = sqlite();
        let insert = "INSERT INTO events (id, stix_id, title, event_type, tlp, tags, created_at, updated_at) \
                      VALUES (3, 'grouping--x', 't', 'spearphish', 'green', '{tags}', 0, 0)";
        testing::execute(&db, &insert.replace("{tags}", r#"["a","b"]"#)).expect("insert");
        let row = events::get(&mut db.conn().expect("conn"), 3).expect("read").expect("row");
        assert_eq!(row.tags, JsonText(vec!["a".to_string(), "b".to_string()]));
        testing::execute(&db, r#"UPDATE events SET tags = '{"not": "a list"}' WHERE id = 3"#)
            .expect("corrupt");
        let read = events::get(&mut db.conn().expect("conn"), 3);
        let Err(e @ DbError::Corrupt(_)) = read else {
            panic!("expected a corrupt-value error, got {read:?}")
        };
        let message = e.to_string();
        assert!(message.contains("tags") && message.contains(r#"{"not": "a list"}"#), "{message}");
        let direct = super::json_column::<Vec<String>>("events.tags", "[1");
        assert!(matches!(direct, Err(DbError::Corrupt(_))), "{direct:?}");
    }
}
