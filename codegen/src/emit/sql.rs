//! The SQL of every view, written out for review: per view and dialect one
//! `.sql` file with the tables' DDL, then each query's statements (as
//! compiled at build time; parameters are `?N` in SQLite and `$N` in
//! PostgreSQL, always bound, never interpolated).

use plinth_view_plan::{CompiledQuery, DialectSql, SchemaSql, TablePlan};

use crate::model::{Component, ComponentKind, Model, ViewRole};
use crate::{Error, GeneratedFile, Result};

/// The `.sql` files of every view of `model`: `views/<service>.sqlite.sql`
/// and `views/<service>.postgres.sql`.
pub fn files(model: &Model) -> Result<Vec<GeneratedFile>> {
    let mut out = Vec::new();
    for package in &model.packages {
        for component in &package.components {
            if !matches!(component.kind, ComponentKind::View { .. }) {
                continue;
            }
            for (dialect, schema, query) in [
                (
                    "sqlite",
                    sqlite_schema as fn(&TablePlan) -> &SchemaSql,
                    sqlite_query as fn(&CompiledQuery) -> &DialectSql,
                ),
                ("postgres", postgres_schema, postgres_query),
            ] {
                out.push(GeneratedFile {
                    name: format!("views/{}.{dialect}.sql", component.service_full_name),
                    contents: render(component, dialect, schema, query)?.into_bytes(),
                });
            }
        }
    }
    Ok(out)
}

fn sqlite_schema(t: &TablePlan) -> &SchemaSql {
    &t.sqlite
}
fn postgres_schema(t: &TablePlan) -> &SchemaSql {
    &t.postgres
}
fn sqlite_query(q: &CompiledQuery) -> &DialectSql {
    &q.sqlite
}
fn postgres_query(q: &CompiledQuery) -> &DialectSql {
    &q.postgres
}

fn decode<T: serde::de::DeserializeOwned>(json: &str, what: &str) -> Result<T> {
    serde_json::from_str(json)
        .map_err(|e| Error::generate(format!("the compiled plan of {what} does not decode: {e}")))
}

/// One view's SQL in one dialect.
pub fn render(
    component: &Component,
    dialect: &str,
    schema: fn(&TablePlan) -> &SchemaSql,
    query: fn(&CompiledQuery) -> &DialectSql,
) -> Result<String> {
    let mut text = format!(
        "-- The tables and queries of view {} ({dialect}), as compiled from its protos.\n",
        component.service_full_name
    );
    let mut seen = Vec::new();
    for method in &component.methods {
        let (Some(role), Some(plan)) = (&method.view, &method.view_plan) else {
            continue;
        };
        match role {
            ViewRole::Update { table, .. } if !seen.contains(table) => {
                seen.push(table.clone());
                let plan: TablePlan = decode(plan, &method.name)?;
                let sql = schema(&plan);
                text.push_str(&format!(
                    "\n-- table `{table}`: rows of {}\n",
                    plan.row_type
                ));
                text.push_str(&format!("{};\n", sql.create_table));
                for index in &sql.create_indexes {
                    text.push_str(&format!("{index};\n"));
                }
                text.push_str(&format!("-- upsert\n{};\n", sql.upsert));
                text.push_str(&format!("-- delete\n{};\n", sql.delete));
            }
            ViewRole::Query { sql: source, .. } => {
                let plan: CompiledQuery = decode(plan, &method.name)?;
                let sql = query(&plan);
                text.push_str(&format!(
                    "\n-- rpc {}: {}\n",
                    method.name,
                    source.replace('\n', " ")
                ));
                for (what, statement) in [
                    ("rows", &sql.rows),
                    ("count", &sql.count),
                    ("live", &sql.live),
                ] {
                    if let Some(statement) = statement {
                        text.push_str(&format!("-- {what}\n{statement};\n"));
                    }
                }
            }
            ViewRole::Update { .. } => {}
        }
    }
    Ok(text)
}
