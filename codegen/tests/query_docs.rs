//! Every query of `docs/query-language.md` compiles (or, marked `error`,
//! is refused) against the fixture messages, so the reference cannot drift
//! from the compiler.

mod query_support;

use query_support::{Fixture, render_errors};

/// One example: its header (`-- request: R, response: S[, stream][, error]`)
/// and its query.
struct Example {
    line: usize,
    request: String,
    response: String,
    stream: bool,
    error: bool,
    sql: String,
}

fn examples(doc: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut lines = doc.lines().enumerate();
    while let Some((_, line)) = lines.next() {
        if line.trim() != "```sql" {
            continue;
        }
        let (number, header) = lines.next().expect("a header line");
        let header = header.strip_prefix("-- request: ").unwrap_or_else(|| {
            panic!(
                "line {}: an example starts with `-- request: ...`",
                number + 1
            )
        });
        let parts: Vec<&str> = header.split(", ").collect();
        let response = parts[1]
            .strip_prefix("response: ")
            .unwrap_or_else(|| panic!("line {}: `response: ...` comes second", number + 1));
        let mut sql = Vec::new();
        for (_, line) in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            sql.push(line);
        }
        out.push(Example {
            line: number + 1,
            request: parts[0].to_owned(),
            response: response.to_owned(),
            stream: parts.contains(&"stream"),
            error: parts.contains(&"error"),
            sql: sql.join(" "),
        });
    }
    out
}

#[test]
fn every_example_of_the_reference_compiles_as_it_says() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/query-language.md");
    let doc = std::fs::read_to_string(path).expect("the reference");
    let examples = examples(&doc);
    assert!(
        examples.len() >= 25,
        "only {} examples found",
        examples.len()
    );
    let fixture = Fixture::new();
    for example in &examples {
        let compiled = fixture.compile(
            &example.sql,
            &example.request,
            &example.response,
            example.stream,
        );
        match (compiled, example.error) {
            (Ok(_), false) | (Err(_), true) => {}
            (Ok(_), true) => panic!(
                "line {}: `{}` should be refused but compiles",
                example.line, example.sql
            ),
            (Err(errors), false) => panic!(
                "line {}: `{}` does not compile:\n{}",
                example.line,
                example.sql,
                render_errors(&example.sql, &errors)
            ),
        }
    }
}
