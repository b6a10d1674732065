//! The OpenAPI document of the HTTP/JSON routes the model declares
//! (`plinth generate --openapi FILE`), built by `plinth-openapi` — the same
//! builder the runtime serves at `/_plinth/openapi.json` from the routes it
//! actually registered.

use prost_reflect::DescriptorPool;
use serde_json::Value;

use crate::model::{BodySelector, HttpMethod, Model};

/// The document of every public route of `model`.
pub fn openapi(pool: &DescriptorPool, model: &Model, title: &str) -> Value {
    let mut operations = Vec::new();
    for component in model.packages.iter().flat_map(|p| &p.components) {
        for method in &component.methods {
            let (Some(input), Some(output)) = (
                pool.get_message_by_name(&method.input.full_name),
                pool.get_message_by_name(&method.output.full_name),
            ) else {
                continue;
            };
            let bindings = crate::routes::bindings(component, method);
            for (method_kind, template, body, response_body) in &bindings {
                let http_method = match method_kind {
                    HttpMethod::Get => "GET",
                    HttpMethod::Put => "PUT",
                    HttpMethod::Post => "POST",
                    HttpMethod::Delete => "DELETE",
                    HttpMethod::Patch => "PATCH",
                    HttpMethod::Custom(_) => continue,
                };
                operations.push(plinth_openapi::Operation {
                    http_method: http_method.to_owned(),
                    template: template.clone(),
                    grpc_path: format!("/{}/{}", component.service_full_name, method.name),
                    body: match body {
                        BodySelector::None => plinth_openapi::Body::None,
                        BodySelector::Whole => plinth_openapi::Body::Whole,
                        BodySelector::Field(field) => plinth_openapi::Body::Field(field.clone()),
                    },
                    response_body: response_body.clone(),
                    input: input.clone(),
                    output: output.clone(),
                    server_streaming: method.server_streaming,
                    client_streaming: method.client_streaming,
                    summary: (!method.comments.leading.is_empty())
                        .then(|| method.comments.leading.join(" ").trim().to_owned()),
                    service: component.service_full_name.clone(),
                });
            }
        }
    }
    plinth_openapi::document(title, &operations)
}
