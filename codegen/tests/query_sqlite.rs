//! Compiled SQLite statements run for real on an in-memory database.

mod query_support;

use plinth_codegen::query::*;
use prost::Message;
use prost_reflect::{DynamicMessage, Value};
use query_support::Fixture;
use rusqlite::Connection;

fn to_sqlite(v: SqlValue) -> rusqlite::types::Value {
    use rusqlite::types::Value as V;
    match v {
        SqlValue::Null => V::Null,
        SqlValue::Integer(i) => V::Integer(i),
        SqlValue::Real(f) => V::Real(f),
        SqlValue::Bool(b) => V::Integer(i64::from(b)),
        SqlValue::Text(s) => V::Text(s),
        SqlValue::Blob(b) => V::Blob(b),
        a @ SqlValue::Array(_) => V::Text(a.json_array_text().expect("array")),
    }
}

struct Db {
    f: Fixture,
    conn: Connection,
}

#[derive(Default, Clone)]
struct Cust {
    id: &'static str,
    name: &'static str,
    email: &'static str,
    city: Option<&'static str>,
    age: i32,
    emails: &'static [&'static str],
    phone: Option<&'static str>,
    since: Option<i64>,
    status: i32,
    score: f64,
    vip: bool,
    tags: &'static [i64],
}

fn set(m: &mut DynamicMessage, field: &str, v: Value) {
    m.set_field_by_name(field, v);
}

fn timestamp(f: &Fixture, secs: i64) -> Value {
    let desc = f
        .pool
        .get_message_by_name("google.protobuf.Timestamp")
        .expect("timestamp");
    let mut t = DynamicMessage::new(desc);
    t.set_field_by_name("seconds", Value::I64(secs));
    Value::Message(t)
}

impl Db {
    fn new(rows: &[Cust]) -> Self {
        let f = Fixture::new();
        let conn = Connection::open_in_memory().expect("sqlite");
        let db = Db { f, conn };
        db.create("customers", "Customer");
        let schema = table_schema("customers", &db.f.msg("Customer"), &[]);
        for c in rows {
            db.insert(&schema, c.id, &db.customer(c));
        }
        db
    }

    fn create(&self, table: &str, row: &str) -> TableSchema {
        let schema = table_schema(table, &self.f.msg(row), &[]);
        self.conn
            .execute(&schema.sqlite.create_table, [])
            .expect("create table");
        schema
    }

    fn insert(&self, schema: &TableSchema, key: &str, row: &DynamicMessage) {
        let mut values = vec![
            rusqlite::types::Value::Text(key.to_string()),
            rusqlite::types::Value::Blob(row.encode_to_vec()),
        ];
        values.extend(row_values(row, schema).into_iter().map(to_sqlite));
        self.conn
            .execute(&schema.sqlite.upsert, rusqlite::params_from_iter(values))
            .expect("upsert");
    }

    fn customer(&self, c: &Cust) -> DynamicMessage {
        let f = &self.f;
        let mut m = DynamicMessage::new(f.msg("Customer"));
        set(&mut m, "customer_id", Value::String(c.id.into()));
        set(&mut m, "name", Value::String(c.name.into()));
        set(&mut m, "email", Value::String(c.email.into()));
        if let Some(city) = c.city {
            let mut a = DynamicMessage::new(f.msg("Address"));
            a.set_field_by_name("city", Value::String(city.into()));
            set(&mut m, "address", Value::Message(a));
        }
        set(&mut m, "age", Value::I32(c.age));
        set(
            &mut m,
            "emails",
            Value::List(
                c.emails
                    .iter()
                    .map(|e| Value::String((*e).into()))
                    .collect(),
            ),
        );
        if let Some(p) = c.phone {
            set(&mut m, "phone_number", Value::String(p.into()));
        }
        if let Some(s) = c.since {
            set(&mut m, "since", timestamp(f, s));
        }
        set(&mut m, "status", Value::EnumNumber(c.status));
        set(&mut m, "score", Value::F64(c.score));
        set(&mut m, "vip", Value::Bool(c.vip));
        set(
            &mut m,
            "tags",
            Value::List(c.tags.iter().map(|t| Value::I64(*t)).collect()),
        );
        m
    }

    fn req(&self, fields: &[(&str, Value)]) -> DynamicMessage {
        let mut m = DynamicMessage::new(self.f.msg("Req"));
        for (k, v) in fields {
            m.set_field_by_name(k, v.clone());
        }
        m
    }

    /// The `_key`s of the first table, joined with `/` across tables.
    fn run_with(
        &self,
        sql: &str,
        resp: &str,
        req: &DynamicMessage,
    ) -> (CompiledQuery, Vec<String>) {
        let q = self.f.ok(sql, "Req", resp, true);
        let window = q.paging.window(req, |t| t.parse().ok()).expect("window");
        let params = bind_params(&q, Dialect::Sqlite, req, window).expect("bind");
        let mut stmt = self
            .conn
            .prepare(q.sqlite.rows.as_deref().expect("rows"))
            .expect("prepare");
        let n = q.tables.len();
        let keys = stmt
            .query_map(
                rusqlite::params_from_iter(params.into_iter().map(to_sqlite)),
                |r| {
                    let mut parts = Vec::new();
                    for i in 0..n {
                        parts.push(
                            r.get::<_, Option<String>>(2 * i)?
                                .unwrap_or_else(|| "-".into()),
                        );
                    }
                    Ok(parts.join("/"))
                },
            )
            .expect("query")
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        (q, keys)
    }

    fn run(&self, sql: &str, req: &[(&str, Value)]) -> Vec<String> {
        self.run_with(sql, "Customer", &self.req(req)).1
    }
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

fn people() -> Vec<Cust> {
    vec![
        Cust {
            id: "c1",
            name: "Bob",
            email: "bob@x",
            city: Some("Paris"),
            age: 40,
            emails: &["bob@x", "b@y"],
            phone: Some("123"),
            since: Some(1_000),
            status: 1,
            score: 2.5,
            vip: true,
            tags: &[1, 2],
        },
        Cust {
            id: "c2",
            name: "bob",
            email: "lower@x",
            city: Some("Oslo"),
            age: 70,
            emails: &["lower@x"],
            status: 2,
            score: 1.0,
            tags: &[2],
            ..Default::default()
        },
        Cust {
            id: "c3",
            name: "Bobby",
            email: "bobby@x",
            city: None,
            age: 40,
            emails: &[],
            since: Some(5_000),
            status: 1,
            score: 3.0,
            ..Default::default()
        },
        Cust {
            id: "c4",
            name: "Alice Jansson",
            email: "alice@x",
            city: Some("Paris"),
            age: 25,
            emails: &["alice@x", "b@y"],
            phone: Some("456"),
            since: Some(9_000),
            score: 0.5,
            vip: true,
            tags: &[3],
            ..Default::default()
        },
        Cust {
            id: "c5",
            name: "Carl",
            email: "carl@x",
            city: Some("Oslo"),
            age: 40,
            emails: &["carl@x"],
            status: 1,
            score: 9.0,
            ..Default::default()
        },
    ]
}

#[test]
fn filters() {
    let db = Db::new(&people());
    // ANY over a repeated column, and the Kalix `repeated = value` form.
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE :some_email = ANY(emails)",
            &[("some_email", s("b@y"))]
        ),
        ["c1", "c4"]
    );
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE emails = :email",
            &[("email", s("carl@x"))]
        ),
        ["c5"]
    );
    // ANY over a repeated parameter; integer arrays.
    let cities = Value::List(vec![s("Oslo"), s("Rome")]);
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE address.city = ANY(:cities)",
            &[("cities", cities)]
        ),
        ["c2", "c5"]
    );
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE :tag = ANY(tags)",
            &[("tag", Value::I64(2))]
        ),
        ["c1", "c2"]
    );
    // Nested paths and NULL for an absent parent message.
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE address.city = :city",
            &[("city", s("Paris"))]
        ),
        ["c1", "c4"]
    );
    assert_eq!(
        db.run("SELECT * FROM customers WHERE address.city IS NULL", &[]),
        ["c3"]
    );
    assert_eq!(
        db.run("SELECT * FROM customers WHERE phone_number IS NULL", &[]),
        ["c2", "c3", "c5"]
    );
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE phone_number IS NOT NULL AND age < 30",
            &[]
        ),
        ["c4"]
    );
    // LIKE is case-sensitive in both dialects; prefix and suffix.
    assert_eq!(
        db.run("SELECT * FROM customers WHERE name LIKE 'Bob%'", &[]),
        ["c1", "c3"]
    );
    assert_eq!(
        db.run("SELECT * FROM customers WHERE name LIKE '%son'", &[]),
        ["c4"]
    );
    assert_eq!(
        db.run("SELECT * FROM customers WHERE name LIKE 'B_b'", &[]),
        ["c1"]
    );
    assert_eq!(
        db.run("SELECT * FROM customers WHERE name NOT LIKE 'Bob%'", &[]),
        ["c2", "c4", "c5"]
    );
    // IN with a literal and a parameter.
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE email IN ('bob@x', :some_email)",
            &[("some_email", s("carl@x"))]
        ),
        ["c1", "c5"]
    );
    // Enums by name, booleans, floats against an integer parameter, timestamps.
    assert_eq!(
        db.run("SELECT * FROM customers WHERE status = 'SUSPENDED'", &[]),
        ["c2"]
    );
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE vip = true AND score > :min_age",
            &[("min_age", Value::I32(1))]
        ),
        ["c1"]
    );
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE status = :status",
            &[("status", Value::EnumNumber(1))]
        ),
        ["c1", "c3", "c5"]
    );
    let ts = timestamp(&db.f, 5_000);
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE since >= :createdOn",
            &[("createdOn", ts)]
        ),
        ["c3", "c4"]
    );
    // OR, NOT and precedence (NOT > AND > OR); NULL city is neither Paris nor not Paris.
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE NOT address.city = 'Paris' OR age > 60 AND vip = false",
            &[]
        ),
        ["c2", "c5"]
    );
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE (name = :name OR age = 25) AND address.city = 'Paris'",
            &[("name", s("Bob"))]
        ),
        ["c1", "c4"]
    );
}

#[test]
fn ordering_and_paging() {
    let db = Db::new(&people());
    assert_eq!(
        db.run("SELECT * FROM customers ORDER BY age DESC, name", &[]),
        ["c2", "c1", "c3", "c5", "c4"]
    );
    assert_eq!(
        db.run(
            "SELECT * FROM customers WHERE age >= 40 ORDER BY address.city ASC, age DESC, name",
            &[]
        ),
        ["c3", "c2", "c5", "c1"],
        "NULL sorts first in SQLite"
    );
    // LIMIT/OFFSET from parameters: one extra row is fetched for has_more().
    let page = |start: i32| {
        db.run(
            "SELECT * FROM customers ORDER BY name LIMIT :max_customers OFFSET :start_from",
            &[
                ("max_customers", Value::I32(2)),
                ("start_from", Value::I32(start)),
            ],
        )
    };
    assert_eq!(page(0), ["c4", "c1", "c3"]);
    assert_eq!(page(2), ["c3", "c5", "c2"]);
    assert_eq!(page(4), ["c2"]);
    assert_eq!(
        db.run(
            "SELECT * FROM customers ORDER BY name LIMIT 1 OFFSET 1",
            &[]
        ),
        ["c1", "c3"]
    );
    // Token paging: an empty token is the first page, default size 100.
    let req = db.req(&[("page_token", s(""))]);
    let q = db.f.ok("SELECT * AS customers, next_page_token() AS next_page_token FROM customers OFFSET page_token_offset(:page_token)", "Req", "CustomersPage", false);
    let w = q.paging.window(&req, |t| t.parse().ok()).expect("window");
    assert_eq!((w.page_size, w.offset, w.fetch()), (Some(100), 0, 101));
    let req = db.req(&[("page_token", s("3"))]);
    assert_eq!(
        q.paging
            .window(&req, |t| t.parse().ok())
            .expect("window")
            .offset,
        3
    );
    assert!(
        q.paging
            .window(&db.req(&[("page_token", s("bad"))]), |t| t.parse().ok())
            .is_err()
    );
}

#[test]
fn count_live_and_missing_params() {
    let db = Db::new(&people());
    let q = db.f.ok(
        "SELECT * AS customers, COUNT(*) AS total FROM customers WHERE age = :min_age LIMIT 1",
        "Req",
        "CustomersPage",
        false,
    );
    let req = db.req(&[("min_age", Value::I32(40))]);
    let params = bind_params(
        &q,
        Dialect::Sqlite,
        &req,
        q.paging.window(&req, |_| None).expect("window"),
    )
    .expect("bind");
    let count: i64 = db
        .conn
        .query_row(
            q.sqlite.count.as_deref().expect("count"),
            rusqlite::params_from_iter(params[..q.filter_params].iter().cloned().map(to_sqlite)),
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(count, 3);

    // The live statement tells whether one changed row matches.
    let q = db.f.ok(
        "SELECT * FROM customers WHERE address.city = :city",
        "Req",
        "Customer",
        true,
    );
    let live = q.sqlite.live.as_deref().expect("live");
    let req = db.req(&[("city", s("Oslo"))]);
    let params = bind_params(
        &q,
        Dialect::Sqlite,
        &req,
        Window {
            page_size: None,
            offset: 0,
        },
    )
    .expect("bind");
    let matches = |key: &str| {
        let mut p: Vec<_> = params[..q.filter_params]
            .iter()
            .cloned()
            .map(to_sqlite)
            .collect();
        p.push(rusqlite::types::Value::Text(key.into()));
        db.conn
            .prepare(live)
            .expect("prepare")
            .exists(rusqlite::params_from_iter(p))
            .expect("exists")
    };
    assert!(matches("c2"));
    assert!(!matches("c1"));

    // An unset optional request field is a bad request, not a silent default.
    let q = db.f.ok(
        "SELECT * FROM customers WHERE name = :maybe_name",
        "Req",
        "Customer",
        true,
    );
    let err = bind_params(
        &q,
        Dialect::Sqlite,
        &db.req(&[]),
        Window {
            page_size: None,
            offset: 0,
        },
    )
    .unwrap_err();
    assert_eq!(err, BindError::MissingField("maybe_name".into()));
}

#[test]
fn joins_and_upserts() {
    let db = Db::new(&people());
    let orders = db.create("orders", "Order");
    let order = |id: &str, cust: &str, qty: i32| {
        let mut m = DynamicMessage::new(db.f.msg("Order"));
        m.set_field_by_name("order_id", s(id));
        m.set_field_by_name("customer_id", s(cust));
        m.set_field_by_name("quantity", Value::I32(qty));
        m
    };
    db.insert(&orders, "o1", &order("o1", "c1", 5));
    db.insert(&orders, "o2", &order("o2", "c1", 1));
    db.insert(&orders, "o3", &order("o3", "c4", 2));
    // Upsert replaces the row and its columns.
    db.insert(&orders, "o3", &order("o3", "c5", 2));
    let sql = "SELECT customers.*, (orders.*) AS orders FROM customers JOIN orders ON orders.customer_id = customers.customer_id WHERE customers.customer_id = :customer_id ORDER BY orders.quantity";
    let (_, keys) = db.run_with(sql, "CustomerOrders", &db.req(&[("customer_id", s("c1"))]));
    assert_eq!(keys, ["c1/o2", "c1/o1"]);
    let sql = "SELECT customers.customer_id, orders.order_id FROM customers LEFT JOIN orders ON orders.customer_id = customers.customer_id WHERE age = 40 ORDER BY name";
    let (_, keys) = db.run_with(sql, "CustomerOrder", &db.req(&[]));
    assert_eq!(keys, ["c1/o1", "c1/o2", "c3/-", "c5/o3"]);
    // The schema's indexes are valid SQLite.
    let q = db.f.ok(sql, "Req", "CustomerOrder", true);
    for table in [("customers", "Customer"), ("orders", "Order")] {
        for stmt in table_schema(table.0, &db.f.msg(table.1), &[&q])
            .sqlite
            .create_indexes
        {
            db.conn.execute(&stmt, []).expect("create index");
        }
    }
    let stored: Vec<u8> = db
        .conn
        .query_row("SELECT _row FROM orders WHERE _key = 'o3'", [], |r| {
            r.get(0)
        })
        .expect("row");
    let decoded = DynamicMessage::decode(db.f.msg("Order"), stored.as_slice()).expect("decode");
    assert_eq!(
        decoded.get_field_by_name("customer_id").unwrap().as_str(),
        Some("c5")
    );
}
