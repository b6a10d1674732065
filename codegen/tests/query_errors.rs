//! Invalid queries: each gives a structured error with a precise span.

mod query_support;

use query_support::{Fixture, render_errors};

fn check(name: &str, sql: &str, resp: &str, streaming: bool) {
    let f = Fixture::new();
    let errors = match f.compile(sql, "Req", resp, streaming) {
        Ok(_) => panic!("`{sql}` should be rejected"),
        Err(e) => e,
    };
    assert!(!errors.is_empty());
    for e in &errors {
        assert!(
            e.span.start <= e.span.end && e.span.end <= sql.len(),
            "{name}: span {:?} outside the query",
            e.span
        );
    }
    insta::with_settings!({ snapshot_path => "../../snapshots/query", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(format!("error_{name}"), render_errors(sql, &errors));
    });
}

#[test]
fn invalid_queries() {
    let cases: &[(&str, &str, &str, bool)] = &[
        (
            "text_search",
            "SELECT * FROM customers WHERE text_search(profile, :search_words, 'english')",
            "Customer",
            true,
        ),
        (
            "unknown_table",
            "SELECT * FROM customer WHERE name = :name",
            "Customer",
            true,
        ),
        (
            "unknown_column",
            "SELECT * FROM customers WHERE nmae = :name",
            "Customer",
            true,
        ),
        (
            "unknown_nested_column",
            "SELECT * FROM customers WHERE address.cty = :city",
            "Customer",
            true,
        ),
        (
            "unknown_param",
            "SELECT * FROM customers WHERE name = :nmae",
            "Customer",
            true,
        ),
        (
            "string_vs_int",
            "SELECT * FROM customers WHERE age = :name",
            "Customer",
            true,
        ),
        (
            "string_literal_vs_int",
            "SELECT * FROM customers WHERE age > 'old'",
            "Customer",
            true,
        ),
        (
            "repeated_param_without_any",
            "SELECT * FROM customers WHERE name = :cities",
            "Customer",
            true,
        ),
        (
            "any_on_scalar_column",
            "SELECT * FROM customers WHERE :name = ANY(name)",
            "Customer",
            true,
        ),
        (
            "like_on_int",
            "SELECT * FROM customers WHERE age LIKE '4%'",
            "Customer",
            true,
        ),
        (
            "like_wildcards_both_ends",
            "SELECT * FROM customers WHERE name LIKE '%ob%'",
            "Customer",
            true,
        ),
        (
            "like_param",
            "SELECT * FROM customers WHERE name LIKE :name",
            "Customer",
            true,
        ),
        (
            "is_null_not_nullable",
            "SELECT * FROM customers WHERE name IS NULL",
            "Customer",
            true,
        ),
        (
            "unknown_response_field",
            "SELECT customer_id AS ident FROM customers",
            "IdName",
            true,
        ),
        (
            "projection_type_mismatch",
            "SELECT age AS name FROM customers",
            "IdName",
            true,
        ),
        (
            "star_as_not_repeated",
            "SELECT * AS name FROM customers",
            "IdName",
            false,
        ),
        (
            "star_as_streaming",
            "SELECT * AS customers FROM customers",
            "Customers",
            true,
        ),
        (
            "limit_param_not_int",
            "SELECT * FROM customers LIMIT :name",
            "Customer",
            true,
        ),
        (
            "order_by_unknown",
            "SELECT * FROM customers ORDER BY agee DESC",
            "Customer",
            true,
        ),
        (
            "next_page_token_without_token_offset",
            "SELECT * AS customers, next_page_token() AS next_page_token FROM customers LIMIT 10",
            "CustomersPage",
            false,
        ),
        (
            "has_more_streaming",
            "SELECT *, has_more() AS more FROM customers LIMIT 10",
            "Customer",
            true,
        ),
        (
            "missing_from",
            "SELECT * WHERE name = :name",
            "Customer",
            true,
        ),
        (
            "unterminated_string",
            "SELECT * FROM customers WHERE name = 'Bob",
            "Customer",
            true,
        ),
        (
            "enum_value_unknown",
            "SELECT * FROM customers WHERE status = 'ACTIV'",
            "Customer",
            true,
        ),
        (
            "ambiguous_join_column",
            "SELECT * FROM customers JOIN orders ON orders.customer_id = customers.customer_id WHERE customer_id = :customer_id",
            "CustomerOrder",
            true,
        ),
        (
            "message_compared",
            "SELECT * FROM customers WHERE address = :city",
            "Customer",
            true,
        ),
        (
            "or_without_column",
            "SELECT * FROM customers WHERE :name = :city",
            "Customer",
            true,
        ),
        (
            "response_field_not_in_table",
            "SELECT * FROM customers",
            "CustomerSummary",
            true,
        ),
        (
            "duplicate_field",
            "SELECT name, email AS name FROM customers",
            "IdName",
            true,
        ),
        (
            "right_join",
            "SELECT * FROM customers RIGHT JOIN orders ON orders.customer_id = customers.customer_id",
            "CustomerOrder",
            true,
        ),
        (
            "trailing_garbage",
            "SELECT * FROM customers WHERE name = :name name",
            "Customer",
            true,
        ),
        (
            "timestamp_vs_string",
            "SELECT * FROM customers WHERE since > '2024-01-01'",
            "Customer",
            true,
        ),
        (
            "several_errors",
            "SELECT * FROM customers WHERE nmae = :name AND age = :nope ORDER BY x",
            "Customer",
            true,
        ),
    ];
    for (name, sql, resp, streaming) in cases {
        check(name, sql, resp, *streaming);
    }
}
