//! Shared fixtures of the view query tests.
#![allow(dead_code)]

use plinth_codegen::query::{CompiledQuery, QueryError, ViewTables, compile_query};
use prost_reflect::{DescriptorPool, MessageDescriptor};

/// The compiled fixture protos and the tables of the test view.
pub struct Fixture {
    pub pool: DescriptorPool,
    pub tables: ViewTables,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/query");
        let mut compiler = protox::Compiler::new([dir]).expect("compiler");
        compiler.include_imports(true);
        compiler
            .open_file("views.proto")
            .expect("fixture protos compile");
        let pool = compiler.descriptor_pool();
        let mut f = Fixture {
            pool,
            tables: ViewTables::new(),
        };
        let tables = [
            ("customers", "Customer"),
            ("customers_by_email", "Customer"),
            ("customers_by_name", "Customer"),
            ("all_customers", "Customer"),
            ("carts", "Cart"),
            ("orders", "Order"),
            ("products", "Product"),
            ("users", "User"),
            ("view_model", "User"),
            ("user_email_count", "EmailCount"),
            ("counter_view_topic_sub", "Counter"),
            ("users_by_country", "User"),
            ("users_by_email_and_name", "User"),
            ("customers_by_creation_time", "User"),
            ("time-tracker-view", "User"),
            ("products_by_product_id", "User"),
        ];
        for (name, row) in tables {
            let row = f.msg(row);
            f.tables.insert(name, row);
        }
        f
    }

    pub fn msg(&self, name: &str) -> MessageDescriptor {
        self.pool
            .get_message_by_name(&format!("fixture.{name}"))
            .unwrap_or_else(|| panic!("no message {name}"))
    }

    pub fn compile(
        &self,
        sql: &str,
        req: &str,
        resp: &str,
        streaming: bool,
    ) -> Result<CompiledQuery, Vec<QueryError>> {
        compile_query(
            sql,
            &self.tables,
            &self.msg(req),
            &self.msg(resp),
            streaming,
        )
    }

    pub fn ok(&self, sql: &str, req: &str, resp: &str, streaming: bool) -> CompiledQuery {
        self.compile(sql, req, resp, streaming)
            .unwrap_or_else(|e| panic!("`{sql}` should compile, got:\n{}", render_errors(sql, &e)))
    }
}

/// Errors with the offending text, for readable snapshots.
pub fn render_errors(sql: &str, errors: &[QueryError]) -> String {
    let mut out = format!("query: {sql}\n");
    for e in errors {
        out += &format!(
            "error at {}..{} `{}`: {}\n",
            e.span.start,
            e.span.end,
            &sql[e.span.clone()],
            e.message
        );
        if let Some(h) = &e.help {
            out += &format!("  help: {h}\n");
        }
    }
    out
}
