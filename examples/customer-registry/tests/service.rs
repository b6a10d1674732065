//! The customer registry end to end: the real service in this process, over
//! gRPC and HTTP/JSON, with its view followed without sleeping.

use std::time::Duration;

use customer_registry::customer::api::{
    Address, ChangeNameRequest, Customer, CustomerServiceClient, GetCustomerRequest,
};
use customer_registry::customer::view::{
    ByCityRequest, ByEmailRequest, ByNameRequest, CustomerByNameClient, CustomersByCityClient,
};
use plinth::Code;
use plinth::testkit::{TestService, eventually};

fn registry() -> plinth::Service {
    customer_registry::service()
}

fn alice() -> Customer {
    Customer {
        customer_id: "c1".into(),
        email: "alice@example.com".into(),
        name: "Alice".into(),
        address: Some(Address {
            street: "Main 1".into(),
            city: "Springfield".into(),
        }),
    }
}

#[tokio::test]
async fn a_customer_is_created_read_renamed_and_found_in_the_view() {
    let service = TestService::start(registry())
        .await
        .expect("the service starts");
    service
        .call(CustomerServiceClient::create(alice()))
        .await
        .expect("created");
    let read = service
        .call(CustomerServiceClient::get_customer(GetCustomerRequest {
            customer_id: "c1".into(),
        }))
        .await
        .expect("read");
    assert_eq!(read, alice());

    let again = service
        .call(CustomerServiceClient::create(alice()))
        .await
        .expect_err("a second create fails");
    assert_eq!(again.code(), Code::AlreadyExists);

    service
        .call(CustomerServiceClient::change_name(ChangeNameRequest {
            customer_id: "c1".into(),
            new_name: "Alicia".into(),
        }))
        .await
        .expect("renamed");
    let by_email = || {
        service.call(CustomerByNameClient::get_customer_by_email(
            ByEmailRequest {
                email: "alice@example.com".into(),
            },
        ))
    };
    let row = eventually(Duration::from_secs(10), || async {
        match by_email().await {
            Ok(row) if row.name == "Alicia" => Ok(row),
            other => Err(format!("the view has {other:?}")),
        }
    })
    .await;
    assert_eq!(row.email, "alice@example.com");

    let (status, body) = service.http("GET", "/customers/c1", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "Alicia");
    let (status, body) = service
        .http(
            "POST",
            "/customers/c2",
            Some(serde_json::json!({"name": "Bob"})),
        )
        .await;
    assert_eq!(
        status, 400,
        "a customer without an e-mail is refused: {body}"
    );
    service.shutdown().await;
}

#[tokio::test]
async fn streaming_queries_list_and_then_follow_the_view() {
    let service = TestService::start(registry())
        .await
        .expect("the service starts");
    service
        .call(CustomerServiceClient::create(alice()))
        .await
        .expect("created");
    // A streaming query without updates lists the matching rows and ends.
    let listed = eventually(Duration::from_secs(10), || async {
        let mut stream = service
            .stream(CustomerByNameClient::get_customers(ByNameRequest {
                name: "Alice".into(),
            }))
            .await
            .map_err(|status| format!("{status:?}"))?;
        let mut rows = Vec::new();
        while let Some(row) = stream.next().await {
            rows.push(row.map_err(|status| format!("{status:?}"))?);
        }
        if rows.is_empty() {
            Err("the view has no Alice yet".to_owned())
        } else {
            Ok(rows)
        }
    })
    .await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].customer_id, "c1");

    // With `stream_updates`, the stream stays open and brings every change.
    let mut watch = service
        .stream(CustomersByCityClient::watch_customers(ByCityRequest {
            city: "Springfield".into(),
        }))
        .await
        .expect("the watch starts");
    let first = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .expect("the current row comes")
        .expect("the stream is open")
        .expect("a row");
    assert_eq!(first.name, "Alice");
    service
        .call(CustomerServiceClient::change_name(ChangeNameRequest {
            customer_id: "c1".into(),
            new_name: "Alicia".into(),
        }))
        .await
        .expect("renamed");
    let renamed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let row = watch.next().await.expect("still open").expect("a row");
            // A row seen while the stream opened may come again.
            if row.name == "Alicia" {
                return row;
            }
        }
    })
    .await
    .expect("the change comes");
    assert_eq!(renamed.customer_id, "c1");

    service.shutdown().await;
}
