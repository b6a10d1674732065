//! The customer registry example, as its tests drive it: creating customers
//! over HTTP/JSON and watching a city's live query over gRPC.

use std::time::Duration;

use customer_registry::customer::domain::CustomerState;
use customer_registry::customer::view::ByCityRequest;
use http::uri::PathAndQuery;
use tonic_prost::ProstCodec;

use crate::views::eventually;

/// Create the customer `id` (e-mail `<id>@example.com`) living in `city`,
/// through `base`; the call must succeed.
pub async fn create(http: &reqwest::Client, base: &str, id: &str, name: &str, city: &str) {
    let reply = http
        .post(format!("{base}/customers/{id}"))
        .json(&serde_json::json!({
            "email": format!("{id}@example.com"),
            "name": name,
            "address": {"street": "Main 1", "city": city}
        }))
        .send()
        .await
        .expect("the create call is answered");
    let status = reply.status();
    assert!(
        status.is_success(),
        "{status}: {}",
        reply.text().await.unwrap_or_default()
    );
}

/// The live query of the customers in `city` through `base`, once its first
/// row is `first` (the view may still be catching up: opened again until it
/// is, bounded).
pub async fn watch_city(base: &str, city: &str, first: &str) -> tonic::Streaming<CustomerState> {
    let client = tonic::client::Grpc::new(crate::grpc::connect(base).await);
    eventually("the live stream to start with its first row", || {
        let mut client = client.clone();
        async move {
            client.ready().await.ok()?;
            let mut stream = client
                .server_streaming(
                    tonic::Request::new(ByCityRequest { city: city.into() }),
                    PathAndQuery::from_static("/customer.view.CustomersByCity/WatchCustomers"),
                    ProstCodec::<ByCityRequest, CustomerState>::default(),
                )
                .await
                .ok()?
                .into_inner();
            let row = tokio::time::timeout(Duration::from_millis(500), stream.message())
                .await
                .ok()?
                .ok()??;
            (row.customer_id == first).then_some(stream)
        }
    })
    .await
}
