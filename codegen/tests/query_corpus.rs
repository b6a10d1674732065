//! The reference query corpus (Kalix docs and samples), plus OR and
//! multi-column ORDER BY, compiled against fixture messages.

mod query_support;

use plinth_codegen::query::*;
use query_support::Fixture;

const C: &str = "Customer";

fn render_sql(q: &CompiledQuery) -> String {
    let mut out = format!("query: {}\nshape: {:?}\n", q.query, q.shape);
    for (name, d) in [("sqlite", &q.sqlite), ("postgres", &q.postgres)] {
        out += &format!("--- {name}\nrows:  {}\n", d.rows.as_deref().unwrap_or("-"));
        out += &format!(
            "count: {}\nlive:  {}\n",
            d.count.as_deref().unwrap_or("-"),
            d.live.as_deref().unwrap_or("-")
        );
    }
    out += "--- params\n";
    for (i, p) in q.params.iter().enumerate() {
        out += &format!(
            "{}: {:?} as {:?}{}\n",
            i + 1,
            p.source,
            p.sql_type,
            if p.array { "[]" } else { "" }
        );
    }
    out += &format!("--- indexes\n{:?}\n", q.indexes);
    out
}

fn snapshot(name: &str, q: &CompiledQuery) {
    insta::with_settings!({ snapshot_path => "../../snapshots/query", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, render_sql(q));
    });
}

/// Every valid corpus query compiles, with the expected shape.
#[test]
fn corpus_compiles() {
    let f = Fixture::new();
    use ResultShape::*;
    let cases: &[(u32, &str, &str, &str, bool, ResultShape)] = &[
        (1, "SELECT * FROM customers", "Req", C, true, Stream),
        (
            2,
            "SELECT * FROM customers WHERE name = :customer_name",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            3,
            "SELECT * FROM customers WHERE name = :customer_name AND address.city = :city",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            4,
            "SELECT * FROM customers WHERE address.city = 'New York'",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            5,
            "SELECT * FROM customers WHERE name = :customer_name AND NOT (address.city = 'New York' AND age > 65)",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            6,
            "SELECT * FROM customers WHERE name = :customer_name AND address.city = 'New York' OR NOT (name = :customer_name AND address.city = 'San Francisco')",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            7,
            "SELECT * FROM customers WHERE email IN ('bob@example.com', :some_email)",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            8,
            "SELECT * FROM customers WHERE :some_email = ANY(emails)",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            9,
            "SELECT * FROM customers WHERE email = ANY(:some_emails)",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            10,
            "SELECT * FROM customers WHERE name LIKE 'Bob%'",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            12,
            "SELECT * FROM customers WHERE phone_number = :number",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            13,
            "SELECT * FROM customers WHERE phone_number IS NULL",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            14,
            "SELECT * FROM customers WHERE phone_number IS NOT NULL",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            15,
            "SELECT * FROM customers WHERE name = :name AND age > :min_age ORDER BY age DESC",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            16,
            "SELECT * FROM customers LIMIT 10",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            17,
            "SELECT * FROM customers OFFSET :start_from LIMIT :max_customers",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            18,
            "SELECT * AS customers, next_page_token() AS next_page_token FROM customers OFFSET page_token_offset(:page_token) LIMIT 10",
            "Req",
            "CustomersPage",
            false,
            Collected,
        ),
        (
            19,
            "SELECT * AS customers, COUNT(*) AS total, has_more() AS more FROM customers LIMIT 10",
            "Req",
            "CustomersPage",
            false,
            Collected,
        ),
        (
            20,
            "SELECT * AS customers, has_more() AS more_customers FROM customers LIMIT 10",
            "Req",
            "CustomersPage",
            false,
            Collected,
        ),
        (
            21,
            "SELECT :request_id, customer_id as id, name FROM customers WHERE name = :customer_name",
            "Req",
            "CustomerSummary",
            true,
            Stream,
        ),
        (
            22,
            "SELECT * FROM customers WHERE address.city = :city",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            23,
            "SELECT * FROM customers_by_email WHERE email = :email",
            "Req",
            C,
            false,
            Single,
        ),
        (
            24,
            "SELECT * FROM customers_by_name WHERE name = :customer_name",
            "Req",
            C,
            true,
            Stream,
        ),
        (25, "SELECT * FROM all_customers", "Req", C, true, Stream),
        (
            26,
            "select * from carts where checked_out_timestamp >= :timestamp",
            "Req",
            "Cart",
            true,
            Stream,
        ),
        (
            27,
            "SELECT * FROM customers WHERE email = :email",
            "Req",
            C,
            false,
            Single,
        ),
        (
            28,
            "SELECT customer_id AS id, name FROM customers WHERE name = :customer_name",
            "Req",
            "IdName",
            true,
            Stream,
        ),
        (
            29,
            "SELECT customer_id AS id, name, (address.street AS address, address.city, email) AS billing_details FROM customers WHERE name = :customer_name",
            "Req",
            "CustomerBilling",
            true,
            Stream,
        ),
        (
            30,
            "SELECT * AS customers FROM customers WHERE name = :customer_name",
            "Req",
            "Customers",
            false,
            Collected,
        ),
        (
            31,
            "SELECT * AS customers FROM customers WHERE address.city = ANY(:cities)",
            "Req",
            "Customers",
            false,
            Collected,
        ),
        (
            32,
            "SELECT * FROM customers JOIN orders ON orders.customer_id = customers.customer_id JOIN products ON products.product_id = orders.product_id WHERE customers.customer_id = :customer_id ORDER BY orders.created",
            "Req",
            "CustomerOrder",
            true,
            Stream,
        ),
        (
            33,
            "SELECT customers.*, (orders.*, products.*) AS orders FROM customers JOIN orders ON orders.customer_id = customers.customer_id JOIN products ON products.product_id = orders.product_id WHERE customers.customer_id = :customer_id ORDER BY orders.created",
            "Req",
            "CustomerOrders",
            false,
            Single,
        ),
        (
            34,
            "SELECT customers.customer_id AS id, (name, address.street AS address1, address.city AS address2, email AS contact_email) AS shipping, (products.product_id AS id, product_name AS name, quantity, (price.currency, price.units, price.cents) AS value, order_id, created AS order_created) AS orders FROM customers JOIN orders ON orders.customer_id = customers.customer_id JOIN products ON products.product_id = orders.product_id WHERE customers.customer_id = :customer_id ORDER BY orders.created",
            "Req",
            "StructuredCustomerOrders",
            false,
            Single,
        ),
        (
            35,
            "SELECT * FROM customers JOIN orders ON orders.customer_id = customers.customer_id JOIN products ON products.product_id = orders.product_id WHERE customers.customer_id = :customer_id",
            "Req",
            "CustomerOrder",
            true,
            Stream,
        ),
        (
            36,
            "SELECT name  FROM users WHERE name = :name",
            "Req",
            "UserName",
            true,
            Stream,
        ),
        (
            37,
            "SELECT * FROM users WHERE name = :name",
            "Req",
            "User",
            true,
            Stream,
        ),
        (38, "SELECT * FROM view_model", "Req", "User", true, Stream),
        (
            39,
            "SELECT * AS results FROM customers WHERE name = :customer_name",
            "Req",
            "Users",
            false,
            Collected,
        ),
        (
            40,
            "select * from users where emails = :email",
            "Req",
            "User",
            true,
            Stream,
        ),
        (
            41,
            "select * from user_email_count",
            "Req",
            "EmailCount",
            true,
            Stream,
        ),
        (
            42,
            "SELECT * FROM counter_view_topic_sub WHERE value < :counterValue",
            "Req",
            "Counter",
            true,
            Stream,
        ),
        (
            43,
            "SELECT * AS users FROM users_by_country WHERE country = :country",
            "Req",
            "Users",
            false,
            Collected,
        ),
        (
            44,
            "SELECT * FROM users_by_email_and_name WHERE email = :email AND name = :name",
            "Req",
            "User",
            false,
            Single,
        ),
        (
            45,
            "SELECT * as customers FROM customers_by_creation_time WHERE createdOn >= :createdOn",
            "Req",
            "Users",
            false,
            Collected,
        ),
        (
            46,
            "SELECT * FROM time-tracker-view WHERE name = :name",
            "Req",
            "User",
            true,
            Stream,
        ),
        (
            47,
            "   SELECT * AS products FROM products_by_product_id WHERE productId = :productId",
            "Req",
            "Users",
            false,
            Collected,
        ),
        // Beyond the Kalix grammar: OR, multi-column ORDER BY, newlines, keyword case.
        (
            100,
            "SELECT * FROM customers WHERE address.city = :city OR age >= :min_age ORDER BY address.city ASC, age DESC, name",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            101,
            "\n  select *\n  from customers\n  where (status = 'ACTIVE' or vip = true)\n    and score > 1.5\n  order by since desc, name\n  limit :max_customers offset 5\n",
            "Req",
            C,
            true,
            Stream,
        ),
        (
            102,
            "SELECT COUNT(*) FROM customers WHERE address.city = :city",
            "Req",
            "CustomerCount",
            false,
            Aggregate,
        ),
    ];
    for &(id, sql, req, resp, streaming, shape) in cases {
        let q = f.ok(sql, req, resp, streaming);
        assert_eq!(q.shape, shape, "#{id}: {sql}");
        let rows = q.sqlite.rows.as_deref();
        assert_eq!(rows.is_some(), shape != Aggregate, "#{id}");
        // Values are never spliced into the SQL.
        for d in [&q.sqlite, &q.postgres] {
            for s in [&d.rows, &d.count, &d.live].into_iter().flatten() {
                assert!(
                    !s.replace("ESCAPE ''", "").contains('\''),
                    "#{id}: literal in SQL: {s}"
                );
            }
        }
        assert!(q.filter_params <= q.params.len());
    }
}

#[test]
fn properties_of_representative_queries() {
    let f = Fixture::new();
    // #1: whole rows, streamable with live updates.
    let q = f.ok("SELECT * FROM customers", "Req", C, true);
    assert_eq!(q.projection, Projection::WholeRow { table: 0 });
    assert!(q.stream_updates_unsupported.is_none());
    assert!(q.sqlite.live.is_some());
    assert!(q.indexes.is_empty());

    // #2 unary: NOT_FOUND shape, streaming not supported.
    let q = f.ok(
        "SELECT * FROM customers WHERE name = :customer_name",
        "Req",
        C,
        false,
    );
    assert_eq!(q.shape, ResultShape::Single);
    assert!(q.stream_updates_unsupported.is_some());
    assert_eq!(
        q.params[0].source,
        ParamSource::Request {
            field: "customer_name".into()
        }
    );
    assert_eq!(q.filter_params, 1);
    assert_eq!(q.params[1].source, ParamSource::Limit);
    assert_eq!(q.params[2].source, ParamSource::Offset);
    assert_eq!(
        q.indexes[0].columns,
        vec![("name".to_string(), false), ("_key".to_string(), false)]
    );

    // #18: token paging with the default page size only when LIMIT is absent.
    let q = f.ok("SELECT * AS customers, next_page_token() AS next_page_token FROM customers OFFSET page_token_offset(:page_token)", "Req", "CustomersPage", false);
    assert_eq!(q.paging.default_page_size, Some(100));
    assert_eq!(
        q.paging.offset,
        Some(OffsetSource::PageToken {
            field: "page_token".into()
        })
    );
    let Projection::Fields(fields) = &q.projection else {
        panic!()
    };
    assert_eq!(
        fields[0].source,
        FieldSource::Rows {
            projection: Projection::WholeRow { table: 0 }
        }
    );
    assert_eq!(fields[1].source, FieldSource::NextPageToken);

    // #19: COUNT(*) has its own statement.
    let q = f.ok(
        "SELECT * AS customers, COUNT(*) AS total, has_more() AS more FROM customers LIMIT 10",
        "Req",
        "CustomersPage",
        false,
    );
    assert_eq!(
        q.sqlite.count.as_deref(),
        Some("SELECT COUNT(*) FROM \"customers\"")
    );
    assert_eq!(q.paging.limit, Some(CountSource::Literal(10)));

    // #21: the request id is echoed, columns renamed.
    let q = f.ok(
        "SELECT :request_id, customer_id as id, name FROM customers WHERE name = :customer_name",
        "Req",
        "CustomerSummary",
        true,
    );
    let Projection::Fields(fields) = &q.projection else {
        panic!()
    };
    assert_eq!(
        fields[0].source,
        FieldSource::Param {
            field: "request_id".into()
        }
    );
    assert_eq!(fields[1].field, "id");
    assert_eq!(
        fields[1].source,
        FieldSource::Row {
            table: 0,
            path: vec!["customer_id".into()]
        }
    );

    // #29: nested projection.
    let q = f.ok("SELECT customer_id AS id, name, (address.street AS address, address.city, email) AS billing_details FROM customers WHERE name = :customer_name", "Req", "CustomerBilling", true);
    let Projection::Fields(fields) = &q.projection else {
        panic!()
    };
    let FieldSource::Nested {
        projection: Projection::Fields(inner),
        repeated: false,
    } = &fields[2].source
    else {
        panic!("{:?}", fields[2])
    };
    assert_eq!(inner[0].field, "address");
    assert_eq!(
        inner[0].source,
        FieldSource::Row {
            table: 0,
            path: vec!["address".into(), "street".into()]
        }
    );

    // #33: joins, repeated nested; joined tables get join-column indexes.
    let q = f.ok("SELECT customers.*, (orders.*, products.*) AS orders FROM customers JOIN orders ON orders.customer_id = customers.customer_id JOIN products ON products.product_id = orders.product_id WHERE customers.customer_id = :customer_id ORDER BY orders.created", "Req", "CustomerOrders", false);
    assert_eq!(
        q.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["customers", "orders", "products"]
    );
    let Projection::Fields(fields) = &q.projection else {
        panic!()
    };
    let orders = fields.iter().find(|m| m.field == "orders").expect("orders");
    assert!(matches!(
        orders.source,
        FieldSource::Nested { repeated: true, .. }
    ));
    assert!(
        q.indexes
            .iter()
            .any(|h| h.table == "orders" && h.columns[0].0 == "customer_id")
    );
    assert!(q.stream_updates_unsupported.is_some());

    // #40: `repeated = value` is containment.
    let q = f.ok(
        "select * from users where emails = :email",
        "Req",
        "User",
        true,
    );
    assert!(
        q.sqlite
            .rows
            .as_deref()
            .unwrap()
            .contains("json_each(\"users\".\"emails\")")
    );
    assert!(
        q.postgres
            .rows
            .as_deref()
            .unwrap()
            .contains("\"users\".\"emails\" @> ARRAY[$1::TEXT]::TEXT[]")
    );

    // #45: Timestamp parameter binds as microseconds (integer).
    let q = f.ok(
        "SELECT * as customers FROM customers_by_creation_time WHERE createdOn >= :createdOn",
        "Req",
        "Users",
        false,
    );
    assert_eq!(q.params[0].sql_type, SqlType::Integer);

    // Enum literal resolved to its number at build time.
    let q = f.ok(
        "SELECT * FROM customers WHERE status = 'SUSPENDED'",
        "Req",
        C,
        true,
    );
    assert!(
        q.sqlite
            .rows
            .as_deref()
            .unwrap()
            .contains("\"customers\".\"status\" = 2")
    );

    // A narrower response type is filled field by field.
    let q = f.ok("SELECT * FROM customers", "Req", "CustomerLite", true);
    let Projection::Fields(fields) = &q.projection else {
        panic!()
    };
    assert_eq!(fields.len(), 3);

    // Same parameter twice binds once.
    let q = f.ok(
        "SELECT * FROM customers WHERE name = :name OR email = :name",
        "Req",
        C,
        true,
    );
    assert_eq!(q.filter_params, 1);
}

#[test]
fn snapshots_of_compiled_sql() {
    let f = Fixture::new();
    let cases: &[(&str, &str, &str, &str, bool)] = &[
        (
            "sql_and_not",
            "SELECT * FROM customers WHERE name = :customer_name AND NOT (address.city = 'New York' AND age > 65)",
            "Req",
            C,
            true,
        ),
        (
            "sql_or_precedence",
            "SELECT * FROM customers WHERE name = :customer_name AND address.city = 'New York' OR NOT (name = :customer_name AND address.city = 'San Francisco')",
            "Req",
            C,
            true,
        ),
        (
            "sql_in_any",
            "SELECT * FROM customers WHERE email IN ('bob@example.com', :some_email) AND :some_email = ANY(emails) AND address.city = ANY(:cities)",
            "Req",
            C,
            true,
        ),
        (
            "sql_like_null",
            "SELECT * FROM customers WHERE name LIKE 'Bob%' AND phone_number IS NOT NULL",
            "Req",
            C,
            true,
        ),
        (
            "sql_order_limit",
            "SELECT * FROM customers WHERE name = :name AND age > :min_age ORDER BY age DESC OFFSET :start_from LIMIT :max_customers",
            "Req",
            C,
            true,
        ),
        (
            "sql_page_token",
            "SELECT * AS customers, next_page_token() AS next_page_token, COUNT(*) AS total, has_more() AS more FROM customers WHERE address.city = :city OFFSET page_token_offset(:page_token)",
            "Req",
            "CustomersPage",
            false,
        ),
        (
            "sql_join",
            "SELECT customers.*, (orders.*, products.*) AS orders FROM customers JOIN orders ON orders.customer_id = customers.customer_id LEFT JOIN products ON products.product_id = orders.product_id WHERE customers.customer_id = :customer_id ORDER BY orders.created",
            "Req",
            "CustomerOrders",
            false,
        ),
        (
            "sql_multi_order",
            "SELECT * FROM customers WHERE address.city = :city OR vip = true ORDER BY address.city ASC, age DESC, name",
            "Req",
            C,
            true,
        ),
        (
            "sql_hyphen_table",
            "SELECT * FROM time-tracker-view WHERE name = :name",
            "Req",
            "User",
            true,
        ),
    ];
    for (name, sql, req, resp, streaming) in cases {
        snapshot(name, &f.ok(sql, req, resp, *streaming));
    }
}

#[test]
fn snapshots_of_table_schemas() {
    let f = Fixture::new();
    let queries = [
        f.ok("SELECT * FROM customers WHERE name = :name AND age > :min_age ORDER BY age DESC", "Req", C, true),
        f.ok("SELECT * FROM customers WHERE name = :name", "Req", C, true),
        f.ok("SELECT * FROM customers WHERE :some_email = ANY(emails)", "Req", C, true),
        f.ok("SELECT * FROM customers WHERE address.city = :city ORDER BY name, since DESC", "Req", C, true),
        f.ok("SELECT customers.*, (orders.*, products.*) AS orders FROM customers JOIN orders ON orders.customer_id = customers.customer_id JOIN products ON products.product_id = orders.product_id WHERE customers.customer_id = :customer_id ORDER BY orders.created", "Req", "CustomerOrders", false),
    ];
    let refs: Vec<&CompiledQuery> = queries.iter().collect();
    for (table, row) in [
        ("customers", "Customer"),
        ("orders", "Order"),
        ("products", "Product"),
    ] {
        let s = table_schema(table, &f.msg(row), &refs);
        let mut out = String::new();
        for (name, sql) in [("sqlite", &s.sqlite), ("postgres", &s.postgres)] {
            out += &format!("--- {name}\n{};\n", sql.create_table);
            for i in &sql.create_indexes {
                out += &format!("{i};\n");
            }
            out += &format!("{};\n{};\n", sql.upsert, sql.delete);
        }
        insta::with_settings!({ snapshot_path => "../../snapshots/query", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(format!("schema_{table}"), out);
        });
    }
    // The prefix index (name) is subsumed by (name, age, _key).
    let s = table_schema("customers", &f.msg("Customer"), &refs);
    assert!(
        !s.indexes
            .iter()
            .any(|h| h.columns == vec![("name".to_string(), false), ("_key".to_string(), false)])
    );
    assert!(
        s.indexes
            .iter()
            .any(|h| h.array && h.columns[0].0 == "emails")
    );
    let names: Vec<&str> = s.columns.iter().map(|c| c.name.as_str()).collect();
    assert!(names.contains(&"address__city"));
    assert!(!names.contains(&"labels") && !names.contains(&"past_addresses"));
}
