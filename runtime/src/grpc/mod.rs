//! The gRPC front door: the generic gateway to the dispatcher, server
//! reflection (v1 and v1alpha) describing the registered services, and the
//! standard health service reporting every service `SERVING`.

pub(crate) mod codec;
pub(crate) mod gateway;

pub use codec::{BytesCodec, BytesDecoder, BytesEncoder};

use crate::component::info::ComponentInfo;
use crate::dispatch::SharedDispatch;

/// Why the gRPC front door could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    /// A component's embedded descriptor set is not valid.
    #[error("invalid descriptor set for reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The gRPC router of the service port: health, reflection when the admin
/// surface is served here, and every other path through the dispatcher;
/// also that gateway to the dispatcher, which serves the components'
/// methods without the router.
pub(crate) async fn router(
    dispatch: SharedDispatch,
    max_message_bytes: usize,
    with_reflection: bool,
    auth: std::sync::Arc<crate::auth::Authenticator>,
) -> Result<(axum::Router, gateway::Gateway), GrpcError> {
    let components = dispatch.components();
    let mut routes = health(components).await;
    if with_reflection {
        routes = add_reflection(routes, components)?;
    }
    let gateway = gateway::Gateway::new(dispatch, max_message_bytes, auth);
    let router = routes.into_axum_router().fallback_service(gateway.clone());
    Ok((router, gateway))
}

/// The gRPC router of a separate admin address: health and reflection only.
pub(crate) async fn admin_router(dispatch: &SharedDispatch) -> Result<axum::Router, GrpcError> {
    let components = dispatch.components();
    Ok(add_reflection(health(components).await, components)?.into_axum_router())
}

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The standard health service, reporting every component `SERVING`.
async fn health(components: &[&'static ComponentInfo]) -> tonic::service::Routes {
    let (health, health_service) = tonic_health::server::health_reporter();
    for component in components {
        health
            .set_service_status(component.service, tonic_health::ServingStatus::Serving)
            .await;
    }
    tonic::service::Routes::new(health_service)
}

/// Reflection v1 and v1alpha, describing the health service and every
/// component.
fn add_reflection(
    routes: tonic::service::Routes,
    components: &[&'static ComponentInfo],
) -> Result<tonic::service::Routes, GrpcError> {
    let mut v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(HEALTH_SERVICE)
        .with_service_name("grpc.reflection.v1.ServerReflection");
    let mut v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(HEALTH_SERVICE)
        .with_service_name("grpc.reflection.v1alpha.ServerReflection");
    for component in components {
        v1 = v1
            .register_encoded_file_descriptor_set(component.file_descriptor_set)
            .with_service_name(component.service);
        v1alpha = v1alpha
            .register_encoded_file_descriptor_set(component.file_descriptor_set)
            .with_service_name(component.service);
    }
    Ok(routes
        .add_service(v1.build_v1()?)
        .add_service(v1alpha.build_v1alpha()?))
}
