//! The SQLite side of views on a real database file: schema statements, a
//! projection batch committing rows and applied sequence numbers together,
//! queries with bound values (arrays as JSON), and failures that change nothing.

use std::sync::Arc;

use plinth::storage::view::{Dialect, SqlValue};
use plinth::storage::{SqliteOptions, SqliteStorage, Storage, ViewBatch, ViewStore, ViewWrite};

const TABLE: &str = "CREATE TABLE IF NOT EXISTS \"t\" (\"_key\" TEXT NOT NULL PRIMARY KEY, \"_row\" BLOB NOT NULL, \"city\" TEXT, \"tags\" TEXT)";
const UPSERT: &str = "INSERT INTO \"t\" (\"_key\", \"_row\", \"city\", \"tags\") VALUES (?1, ?2, ?3, ?4) ON CONFLICT (\"_key\") DO UPDATE SET \"_row\" = excluded.\"_row\", \"city\" = excluded.\"city\", \"tags\" = excluded.\"tags\"";

fn upsert(key: &str, city: &str, tags: &[&str]) -> ViewWrite {
    ViewWrite {
        statement: Arc::from(UPSERT),
        params: vec![
            SqlValue::Text(key.into()),
            SqlValue::Blob(key.as_bytes().to_vec()),
            SqlValue::Text(city.into()),
            SqlValue::Array(tags.iter().map(|t| SqlValue::Text(t.to_string())).collect()),
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

#[tokio::test]
async fn view_rows_and_applied_sequences_commit_together_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plinth.db");
    {
        let storage = SqliteStorage::open(&path, SqliteOptions::default()).unwrap();
        let store = storage.views().expect("SQLite holds views");
        assert_eq!(store.dialect(), Dialect::Sqlite);
        store
            .view_schema(vec![
                TABLE.into(),
                "CREATE INDEX IF NOT EXISTS \"t_city\" ON \"t\" (\"city\")".into(),
            ])
            .await
            .unwrap();
        assert!(!store.view_has_applied("view/test").await.unwrap());
        store
            .view_write(batch(
                vec![
                    upsert("a", "Paris", &["x", "y"]),
                    upsert("b", "Rome", &["y"]),
                ],
                &[("a", 3), ("b", 1)],
            ))
            .await
            .unwrap();
        assert!(store.view_has_applied("view/test").await.unwrap());
        assert_eq!(
            store
                .view_applied_seq("view/test", "things", "a")
                .await
                .unwrap(),
            Some(3)
        );
        assert_eq!(
            store
                .view_applied_seq("other", "things", "a")
                .await
                .unwrap(),
            None
        );

        // A failing statement rolls the whole batch back, sequence numbers included.
        let broken = ViewWrite {
            statement: Arc::from("INSERT INTO \"missing\" VALUES (?1)"),
            params: vec![SqlValue::Integer(1)],
        };
        let failed = store
            .view_write(batch(
                vec![upsert("c", "Oslo", &[]), broken],
                &[("c", 1), ("a", 9)],
            ))
            .await;
        assert!(failed.is_err());
        assert_eq!(
            store
                .view_applied_seq("view/test", "things", "c")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .view_applied_seq("view/test", "things", "a")
                .await
                .unwrap(),
            Some(3)
        );
        storage.close().await.unwrap();
    }

    let storage = SqliteStorage::open(&path, SqliteOptions::default()).unwrap();
    let store = storage.views().unwrap();
    assert_eq!(
        keys(
            store,
            "SELECT \"_key\" FROM \"t\" ORDER BY \"_key\"",
            vec![]
        )
        .await,
        ["a", "b"]
    );
    assert_eq!(
        keys(
            store,
            "SELECT \"_key\" FROM \"t\" WHERE \"city\" = ?1",
            vec![SqlValue::Text("Rome".into())]
        )
        .await,
        ["b"]
    );
    // Arrays are stored and bound as JSON text.
    let tagged = "SELECT \"_key\" FROM \"t\" WHERE EXISTS (SELECT 1 FROM json_each(\"t\".\"tags\") WHERE value = ?1) ORDER BY \"_key\"";
    assert_eq!(
        keys(store, tagged, vec![SqlValue::Text("y".into())]).await,
        ["a", "b"]
    );
    assert_eq!(
        keys(store, tagged, vec![SqlValue::Text("x".into())]).await,
        ["a"]
    );
    let any = "SELECT \"_key\" FROM \"t\" WHERE \"city\" IN (SELECT value FROM json_each(?1)) ORDER BY \"_key\"";
    let cities = SqlValue::Array(vec![
        SqlValue::Text("Rome".into()),
        SqlValue::Text("Oslo".into()),
    ]);
    assert_eq!(keys(store, any, vec![cities]).await, ["b"]);
    // Deleting and a sequence number that never goes back.
    store
        .view_write(batch(
            vec![ViewWrite {
                statement: Arc::from("DELETE FROM \"t\" WHERE \"_key\" = ?1"),
                params: vec![SqlValue::Text("a".into())],
            }],
            &[("a", 2)],
        ))
        .await
        .unwrap();
    assert_eq!(
        keys(store, "SELECT \"_key\" FROM \"t\"", vec![]).await,
        ["b"]
    );
    assert_eq!(
        store
            .view_applied_seq("view/test", "things", "a")
            .await
            .unwrap(),
        Some(3)
    );
    storage.close().await.unwrap();
}
