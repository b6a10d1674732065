//! {{crate}} end to end: the real service in this process, called over gRPC
//! and HTTP/JSON, its view and its action followed without sleeping.

use std::time::Duration;

use plinth::testkit::{TestService, eventually};
use {{lib}}::{{lib}}::{
    ByOwnerRequest, CreateTask, OwnerId, ScoreServiceClient, TaskId, TaskServiceClient,
    TasksByOwnerClient,
};

#[tokio::test]
async fn a_finished_task_shows_in_the_view_and_scores_a_point() {
    let service = TestService::start({{lib}}::service())
        .await
        .expect("the service starts");
    for id in ["t1", "t2"] {
        service
            .call(TaskServiceClient::create(CreateTask {
                task_id: id.into(),
                owner: "ada".into(),
                title: format!("task {id}"),
            }))
            .await
            .expect("created");
    }
    service
        .call(TaskServiceClient::finish(TaskId {
            task_id: "t1".into(),
        }))
        .await
        .expect("finished");

    let tasks = eventually(Duration::from_secs(10), || async {
        let found = service
            .call(TasksByOwnerClient::get_tasks(ByOwnerRequest {
                owner: "ada".into(),
            }))
            .await
            .map_err(|status| status.to_string())?;
        match found.tasks.as_slice() {
            [first, _] if first.done => Ok(found.tasks),
            _ => Err(format!("the view has {found:?}")),
        }
    })
    .await;
    assert_eq!(tasks[1].task_id, "t2");
    assert!(!tasks[1].done);

    let score = eventually(Duration::from_secs(10), || async {
        let score = service
            .call(ScoreServiceClient::get(OwnerId {
                owner: "ada".into(),
            }))
            .await
            .map_err(|status| status.to_string())?;
        if score.points == 1 {
            Ok(score)
        } else {
            Err(format!("the score is {score:?}"))
        }
    })
    .await;
    assert_eq!(score.points, 1);

    let (status, body) = service.http("GET", "/tasks/t1", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["done"], true);
    let (status, body) = service.http("GET", "/tasks/none", None).await;
    assert_eq!(status, 404, "{body}");
    service.shutdown().await;
}
