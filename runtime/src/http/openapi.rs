//! `GET /_plinth/openapi.json`: the OpenAPI 3.1 document of the routes this
//! front door serves (every binding and default route of the registered
//! components, internal methods left out), built once at start by
//! `plinth-openapi`, the builder `plinth generate --openapi` uses too.

use std::sync::Arc;

use axum::Json;
use axum::routing::get;

use super::routes::{Body, RouteTable};
use crate::component::info::HttpMethod;

/// The path of the document.
pub const OPENAPI_PATH: &str = "/_plinth/openapi.json";

/// The document of the routes of `table`.
pub(crate) fn of_table(table: &RouteTable) -> serde_json::Value {
    let operations: Vec<plinth_openapi::Operation> = table
        .routes()
        .iter()
        .filter_map(|route| {
            let http_method = match route.http_method {
                HttpMethod::Get => "GET",
                HttpMethod::Put => "PUT",
                HttpMethod::Post => "POST",
                HttpMethod::Delete => "DELETE",
                HttpMethod::Patch => "PATCH",
                HttpMethod::Custom(_) => return None,
            };
            let service = route
                .method
                .path
                .trim_start_matches('/')
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            Some(plinth_openapi::Operation {
                http_method: http_method.to_owned(),
                template: route.pattern.source.to_owned(),
                grpc_path: route.method.path.to_owned(),
                body: match &route.body {
                    Body::None => plinth_openapi::Body::None,
                    Body::Whole => plinth_openapi::Body::Whole,
                    Body::Field(field) => plinth_openapi::Body::Field(field.name().to_owned()),
                },
                response_body: route.response_body.as_ref().map(|f| f.name().to_owned()),
                input: route.input.clone(),
                output: route.output.clone(),
                server_streaming: route.method.server_streaming,
                client_streaming: route.method.client_streaming,
                summary: None,
                service,
            })
        })
        .collect();
    plinth_openapi::document("Plinth service", &operations)
}

/// The route serving `document`.
pub(crate) fn router(document: serde_json::Value) -> axum::Router {
    let document = Arc::new(document);
    axum::Router::new().route(
        OPENAPI_PATH,
        get(move || {
            let document = document.clone();
            async move { Json((*document).clone()) }
        }),
    )
}
