//! The view store case: schema statements (run by several instances at
//! once), a projection batch committing rows and applied sequence numbers
//! together, a failing batch changing nothing, and queries whose values come
//! back alike from both backends.

use std::sync::Arc;

use plinth::storage::view::{Dialect, SqlValue};
use plinth::storage::{ViewBatch, ViewStore, ViewWrite};

use super::Backend;

/// The SQL of the case in one dialect.
struct Sql {
    table: &'static str,
    index: &'static str,
    upsert: &'static str,
    delete: &'static str,
    broken: &'static str,
    all: &'static str,
    by_city: &'static str,
    by_tag: &'static str,
    city_in: &'static str,
    by_flag: &'static str,
    count_from: &'static str,
}

const SQLITE: Sql = Sql {
    table: "CREATE TABLE IF NOT EXISTS \"t\" (\"_key\" TEXT NOT NULL PRIMARY KEY, \"_row\" BLOB NOT NULL, \"city\" TEXT, \"tags\" TEXT NOT NULL, \"n\" INTEGER NOT NULL, \"ok\" INTEGER NOT NULL, \"score\" REAL NOT NULL)",
    index: "CREATE INDEX IF NOT EXISTS \"t_city\" ON \"t\" (\"city\")",
    upsert: "INSERT INTO \"t\" (\"_key\", \"_row\", \"city\", \"tags\", \"n\", \"ok\", \"score\") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (\"_key\") DO UPDATE SET \"_row\" = excluded.\"_row\", \"city\" = excluded.\"city\", \"tags\" = excluded.\"tags\", \"n\" = excluded.\"n\", \"ok\" = excluded.\"ok\", \"score\" = excluded.\"score\"",
    delete: "DELETE FROM \"t\" WHERE \"_key\" = ?1",
    broken: "INSERT INTO \"missing\" VALUES (?1)",
    all: "SELECT \"_key\", \"_row\", \"city\", \"n\", \"ok\", \"score\" FROM \"t\" ORDER BY \"_key\" LIMIT ?1",
    by_city: "SELECT \"_key\" FROM \"t\" WHERE \"city\" = ?1 ORDER BY \"_key\"",
    by_tag: "SELECT \"_key\" FROM \"t\" WHERE EXISTS (SELECT 1 FROM json_each(\"t\".\"tags\") WHERE value = ?1) ORDER BY \"_key\"",
    city_in: "SELECT \"_key\" FROM \"t\" WHERE \"city\" IN (SELECT value FROM json_each(?1)) ORDER BY \"_key\"",
    by_flag: "SELECT \"_key\" FROM \"t\" WHERE \"ok\" = ?1 ORDER BY \"_key\"",
    count_from: "SELECT COUNT(*) FROM \"t\" WHERE \"n\" >= ?1",
};

const POSTGRES: Sql = Sql {
    table: "CREATE TABLE IF NOT EXISTS \"t\" (\"_key\" TEXT NOT NULL PRIMARY KEY, \"_row\" BYTEA NOT NULL, \"city\" TEXT, \"tags\" TEXT[] NOT NULL, \"n\" BIGINT NOT NULL, \"ok\" BOOLEAN NOT NULL, \"score\" DOUBLE PRECISION NOT NULL)",
    index: "CREATE INDEX IF NOT EXISTS \"t_tags\" ON \"t\" USING GIN (\"tags\")",
    upsert: "INSERT INTO \"t\" (\"_key\", \"_row\", \"city\", \"tags\", \"n\", \"ok\", \"score\") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (\"_key\") DO UPDATE SET \"_row\" = excluded.\"_row\", \"city\" = excluded.\"city\", \"tags\" = excluded.\"tags\", \"n\" = excluded.\"n\", \"ok\" = excluded.\"ok\", \"score\" = excluded.\"score\"",
    delete: "DELETE FROM \"t\" WHERE \"_key\" = $1",
    broken: "INSERT INTO \"missing\" VALUES ($1)",
    all: "SELECT \"_key\", \"_row\", \"city\", \"n\", \"ok\", \"score\" FROM \"t\" ORDER BY \"_key\" LIMIT $1::BIGINT",
    by_city: "SELECT \"_key\" FROM \"t\" WHERE \"city\" = $1::TEXT ORDER BY \"_key\"",
    by_tag: "SELECT \"_key\" FROM \"t\" WHERE \"t\".\"tags\" @> ARRAY[$1::TEXT]::TEXT[] ORDER BY \"_key\"",
    city_in: "SELECT \"_key\" FROM \"t\" WHERE \"city\" = ANY($1::TEXT[]) ORDER BY \"_key\"",
    by_flag: "SELECT \"_key\" FROM \"t\" WHERE \"ok\" = $1::BOOLEAN ORDER BY \"_key\"",
    count_from: "SELECT COUNT(*) FROM \"t\" WHERE \"n\" >= $1::BIGINT",
};

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.to_owned())
}

fn upsert(sql: &Sql, key: &str, city: Option<&str>, tags: &[&str], n: i64) -> ViewWrite {
    ViewWrite {
        statement: Arc::from(sql.upsert),
        params: vec![
            text(key),
            SqlValue::Blob(format!("row {key}").into_bytes()),
            city.map_or(SqlValue::Null, text),
            SqlValue::Array(tags.iter().map(|t| text(t)).collect()),
            SqlValue::Integer(n),
            SqlValue::Bool(n % 2 == 1),
            SqlValue::Real(n as f64 / 4.0),
        ],
    }
}

fn batch(writes: Vec<ViewWrite>, applied: &[(&str, u64)]) -> ViewBatch {
    ViewBatch {
        consumer: "view/test".into(),
        writes,
        applied: applied
            .iter()
            .map(|(e, s)| ("things".to_string(), e.to_string(), *s))
            .collect(),
        changed: Vec::new(),
    }
}

async fn keys(store: &dyn ViewStore, sql: &str, params: Vec<SqlValue>) -> Vec<String> {
    store
        .view_query(Arc::from(sql), params, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|row| match &row[0] {
            SqlValue::Text(k) => k.clone(),
            other => panic!("a key, not {other:?}"),
        })
        .collect()
}

pub async fn views(b: &Backend) {
    let sql = match b.dialect() {
        Dialect::Sqlite => &SQLITE,
        Dialect::Postgres => &POSTGRES,
    };
    let store = b.storage.views().expect("the backend holds views");
    assert_eq!(store.dialect(), b.dialect());

    // Processes start together and each runs the schema statements.
    let instances = b.instances(3).await;
    let schemas = instances.iter().map(|storage| {
        let store = storage.views().expect("the backend holds views");
        store.view_schema(vec![sql.table.into(), sql.index.into()])
    });
    for result in futures::future::join_all(schemas).await {
        result.unwrap();
    }
    drop(instances);
    assert!(store.view_schema(vec!["NOT SQL".into()]).await.is_err());

    assert!(!store.view_has_applied("view/test").await.unwrap());
    store
        .view_write(batch(
            vec![
                upsert(sql, "a", Some("Paris"), &["x", "y"], 3),
                upsert(sql, "b", Some("Rome"), &["y"], 4),
                upsert(sql, "c", None, &[], 5),
            ],
            &[("a", 3), ("b", 1), ("c", 1)],
        ))
        .await
        .unwrap();
    assert!(store.view_has_applied("view/test").await.unwrap());
    assert!(!store.view_has_applied("view/other").await.unwrap());
    let applied = |entity: &'static str, consumer: &'static str| {
        store.view_applied_seq(consumer, "things", entity)
    };
    assert_eq!(applied("a", "view/test").await.unwrap(), Some(3));
    assert_eq!(applied("a", "other").await.unwrap(), None);

    // A failing statement rolls the whole batch back, sequence numbers included.
    let broken = ViewWrite {
        statement: Arc::from(sql.broken),
        params: vec![SqlValue::Integer(1)],
    };
    let failed = store
        .view_write(batch(
            vec![upsert(sql, "d", Some("Oslo"), &[], 1), broken],
            &[("d", 1), ("a", 9)],
        ))
        .await;
    assert!(failed.is_err());
    assert_eq!(applied("d", "view/test").await.unwrap(), None);
    assert_eq!(applied("a", "view/test").await.unwrap(), Some(3));

    // Values come back as stored: integers, booleans as 0/1, reals, NULL, blobs.
    let rows = store
        .view_query(Arc::from(sql.all), vec![SqlValue::Integer(10)], 6)
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            vec![
                text("a"),
                SqlValue::Blob(b"row a".to_vec()),
                text("Paris"),
                SqlValue::Integer(3),
                SqlValue::Integer(1),
                SqlValue::Real(0.75),
            ],
            vec![
                text("b"),
                SqlValue::Blob(b"row b".to_vec()),
                text("Rome"),
                SqlValue::Integer(4),
                SqlValue::Integer(0),
                SqlValue::Real(1.0),
            ],
            vec![
                text("c"),
                SqlValue::Blob(b"row c".to_vec()),
                SqlValue::Null,
                SqlValue::Integer(5),
                SqlValue::Integer(1),
                SqlValue::Real(1.25),
            ],
        ]
    );
    assert_eq!(keys(store, sql.by_city, vec![text("Rome")]).await, ["b"]);
    assert_eq!(keys(store, sql.by_tag, vec![text("y")]).await, ["a", "b"]);
    assert_eq!(keys(store, sql.by_tag, vec![text("x")]).await, ["a"]);
    let cities = SqlValue::Array(vec![text("Rome"), text("Oslo"), text("Paris")]);
    assert_eq!(keys(store, sql.city_in, vec![cities]).await, ["a", "b"]);
    assert_eq!(
        keys(store, sql.by_flag, vec![SqlValue::Bool(true)]).await,
        ["a", "c"]
    );
    let count = store
        .view_query(Arc::from(sql.count_from), vec![SqlValue::Integer(4)], 1)
        .await
        .unwrap();
    assert_eq!(count, vec![vec![SqlValue::Integer(2)]]);
    // A broken query fails; it does not panic.
    let broken = store
        .view_query(Arc::from("SELECT nope FROM \"t\""), vec![], 1)
        .await;
    assert!(broken.is_err());

    // Deleting, and a sequence number that never goes back.
    store
        .view_write(batch(
            vec![ViewWrite {
                statement: Arc::from(sql.delete),
                params: vec![text("a")],
            }],
            &[("a", 2)],
        ))
        .await
        .unwrap();
    let remaining = keys(store, sql.by_tag, vec![text("y")]).await;
    assert_eq!(remaining, ["b"]);
    assert_eq!(applied("a", "view/test").await.unwrap(), Some(3));
}
