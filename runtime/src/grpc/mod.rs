//! The gRPC front door: the generic gateway to the dispatcher, server
//! reflection (v1 and v1alpha) describing the registered services, and the
//! standard health service reporting every service `SERVING`.

mod codec;
mod gateway;

pub use codec::{BytesCodec, BytesDecoder, BytesEncoder};

use crate::dispatch::SharedDispatch;

/// Why the gRPC front door could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// A component's embedded descriptor set is not valid.
    #[error("invalid descriptor set for reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The gRPC router: reflection and health by their standard paths, every other
/// path through the dispatcher.
pub(crate) async fn router(
    dispatch: SharedDispatch,
    max_message_bytes: usize,
    auth: std::sync::Arc<crate::auth::Authenticator>,
) -> Result<axum::Router, GrpcError> {
    let components = dispatch.components();
    let health_service_name = "grpc.health.v1.Health";
    let mut reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(health_service_name)
        .with_service_name("grpc.reflection.v1.ServerReflection");
    for component in components {
        reflection = reflection
            .register_encoded_file_descriptor_set(component.file_descriptor_set)
            .with_service_name(component.service);
    }
    let reflection_v1alpha = {
        let mut builder = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(health_service_name)
            .with_service_name("grpc.reflection.v1alpha.ServerReflection");
        for component in components {
            builder = builder
                .register_encoded_file_descriptor_set(component.file_descriptor_set)
                .with_service_name(component.service);
        }
        builder.build_v1alpha()?
    };
    let reflection_v1 = reflection.build_v1()?;

    let (health, health_service) = tonic_health::server::health_reporter();
    for component in components {
        health
            .set_service_status(component.service, tonic_health::ServingStatus::Serving)
            .await;
    }

    let gateway = gateway::Gateway::new(dispatch, max_message_bytes, auth);
    Ok(tonic::service::Routes::new(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .into_axum_router()
        .fallback_service(gateway))
}
