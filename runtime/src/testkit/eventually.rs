//! Waiting for what becomes true later (a view catching up, a message
//! arriving) without sleeping for a guessed time.

use std::time::Duration;

use tokio::time::Instant;

/// How long `eventually` waits between tries.
const PAUSE: Duration = Duration::from_millis(20);

/// Try `check` until it returns `Ok`, for at most `within`; its value.
///
/// ```no_run
/// # async fn example(service: &plinth::testkit::TestService) {
/// use std::time::Duration;
/// let rows = plinth::testkit::eventually(Duration::from_secs(10), || async {
///     let (status, body) = service.http("GET", "/customers/by-name/Alice", None).await;
///     match body["customers"].as_array() {
///         Some(rows) if status == 200 && !rows.is_empty() => Ok(rows.len()),
///         _ => Err(format!("no rows yet: {status} {body}")),
///     }
/// })
/// .await;
/// # }
/// ```
///
/// # Panics
/// When `within` passes first, with the last error `check` gave.
pub async fn eventually<T, E, F, Fut>(within: Duration, mut check: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + within;
    loop {
        match check().await {
            Ok(value) => return value,
            Err(error) if Instant::now() >= deadline => {
                panic!("still not true after {within:?}: {error}")
            }
            Err(_) => tokio::time::sleep(PAUSE).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn it_returns_once_the_check_passes() {
        let mut tries = 0;
        let value = eventually(Duration::from_secs(5), || {
            tries += 1;
            let now = tries;
            async move { if now >= 3 { Ok(now) } else { Err("not yet") } }
        })
        .await;
        assert_eq!(value, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "still not true after")]
    async fn it_gives_up_at_the_deadline_with_the_last_error() {
        eventually(Duration::from_millis(50), || async {
            Err::<(), _>("never")
        })
        .await;
    }
}
