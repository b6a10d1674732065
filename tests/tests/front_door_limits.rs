//! What a client can hold at the front door is bounded, against a real
//! service process over real sockets: idle connections at the open-file
//! limit, watches that would take every slot, slow request heads, idle
//! sockets, and open streams at SIGTERM.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use plinth_tests::customers::{create, watch_city};
use plinth_tests::process::ServiceProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CUSTOMERS: &str = env!("CARGO_BIN_EXE_plinth-customers");

/// Let this test process hold `n` sockets and then some.
fn allow_open_files(n: u64) {
    let soft = rlimit::increase_nofile_limit(n + 256).expect("the open-file limit can be read");
    assert!(
        soft >= n + 256,
        "this machine's hard open-file limit ({soft}) is too low for the test"
    );
}

/// Open `n` connections to `addr` that send nothing.
async fn idle_connections(addr: SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        all.push(TcpStream::connect(addr).await.expect("connect"));
    }
    all
}

/// How many of `sockets` the server has closed.
fn closed_by_server(sockets: &[TcpStream]) -> usize {
    let mut buf = [0u8; 64];
    sockets
        .iter()
        .filter(|socket| match socket.try_read(&mut buf) {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => error.kind() != std::io::ErrorKind::WouldBlock,
        })
        .count()
}

/// Ask for the live query of `city` over HTTP/1.1; returns the socket and the
/// response's status code once its head has arrived.
async fn http_watch(addr: SocketAddr, city: &str) -> (TcpStream, u16) {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET /customers/by-city/{city} HTTP/1.1\r\nhost: test\r\n\r\n");
    socket.write_all(request.as_bytes()).await.expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let read = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut byte))
            .await
            .expect("the response head arrives")
            .expect("read");
        assert_eq!(read, 1, "the connection closed before the head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let code = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    (socket, code)
}

/// Wait until the server closes `socket`, reading and dropping what it sends;
/// returns how long it took and what was read.
async fn until_closed(socket: &mut TcpStream, limit: Duration) -> (Duration, Vec<u8>) {
    let started = Instant::now();
    let mut read = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, socket.read(&mut buf)).await {
            Err(_) => panic!("the server kept the connection open for {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return (started.elapsed(), read),
            Ok(Ok(n)) => read.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_open_file_limit_idle_connections_make_room_for_a_new_client() {
    allow_open_files(1_100);
    let data = tempfile::tempdir().unwrap();
    let process =
        ServiceProcess::start_with_file_limit(CUSTOMERS.as_ref(), data.path(), &[], 1_024).await;
    let idle = idle_connections(process.addr(), 1_100).await;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    create(&http, &process.url(), "newcomer", "New Comer", "Oslo").await;
    let reply = http
        .get(format!("{}/customers/newcomer", process.url()))
        .send()
        .await
        .expect("a new client is served");
    assert_eq!(reply.status(), 200);

    // 1,100 idle sockets do not fit under 1,024 descriptors: the server
    // closed the longest idle ones instead of stopping to accept.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut closed = closed_by_server(&idle);
    while closed < 200 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        closed = closed_by_server(&idle);
    }
    assert!(
        (200..1_100).contains(&closed),
        "{closed} of 1100 idle connections were closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_beyond_their_budget_are_refused_and_unary_calls_go_on() {
    allow_open_files(1_100);
    let data = tempfile::tempdir().unwrap();
    let process = ServiceProcess::start(CUSTOMERS.as_ref(), data.path()).await;
    let (addr, base) = (process.addr(), process.url());

    let mut watches = Vec::new();
    let (mut open, mut refused) = (0, 0);
    for i in 0..1_100 {
        let (socket, code) = http_watch(addr, &format!("city-{}", i % 7)).await;
        match code {
            200 => open += 1,
            503 => refused += 1,
            other => panic!("watch {i} answered {other}"),
        }
        watches.push(socket);
    }
    assert_eq!(open, 1_024, "the default stream budget");
    assert_eq!(refused, 76);

    let http = reqwest::Client::new();
    create(&http, &base, "unary", "Una Ry", "city-3").await;
    let reply = http
        .get(format!("{base}/customers/unary"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        200,
        "a unary call is served beside 1,024 watches"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_idle_sockets_are_closed_and_open_watches_are_not() {
    let data = tempfile::tempdir().unwrap();
    let env = [
        ("PLINTH_HEADER_READ_TIMEOUT_SECS", "1"),
        ("PLINTH_IDLE_TIMEOUT_SECS", "2"),
    ];
    let process = ServiceProcess::start_with(CUSTOMERS.as_ref(), data.path(), &env).await;
    let (addr, base) = (process.addr(), process.url());

    // A slowloris: a request head that never ends.
    let slow = TcpStream::connect(addr).await.unwrap();
    let slow_since = Instant::now();
    let (mut slow_read, mut slow_write) = slow.into_split();
    slow_write
        .write_all(b"GET /customers/x HTTP/1.1\r\n")
        .await
        .unwrap();
    let dripping = tokio::spawn(async move {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow_write.write_all(b"x-slow: 1\r\n").await.is_err() {
                return;
            }
        }
    });
    let slow_closed = tokio::spawn(async move {
        let mut answer = Vec::new();
        let _ =
            tokio::time::timeout(Duration::from_secs(8), slow_read.read_to_end(&mut answer)).await;
        (slow_since.elapsed(), answer)
    });
    // A socket that never says anything.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    // A watch that stays open longer than the idle timeout.
    let (mut watch, code) = http_watch(addr, "Bergen").await;
    assert_eq!(code, 200);

    let (elapsed, _) = until_closed(&mut silent, Duration::from_secs(8)).await;
    assert!(
        elapsed >= Duration::from_millis(1_500),
        "closed after {elapsed:?}, before the idle timeout"
    );
    let (slow_for, answer) = slow_closed.await.unwrap();
    dripping.abort();
    assert!(
        slow_for >= Duration::from_millis(900) && slow_for < Duration::from_millis(1_900),
        "the slow head was cut off after {slow_for:?}, not by the header timeout"
    );
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    // The watch outlived both timeouts and still delivers.
    let http = reqwest::Client::new();
    create(&http, &base, "late", "La Te", "Bergen").await;
    let mut body = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&body).contains("\"late\"") {
        let n = tokio::time::timeout(Duration::from_secs(10), watch.read(&mut buf))
            .await
            .expect("the watch delivers the new row")
            .unwrap();
        assert!(
            n > 0,
            "the watch was closed: {}",
            String::from_utf8_lossy(&body)
        );
        body.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_open_streams_within_one_grace_period() {
    let data = tempfile::tempdir().unwrap();
    let grace = Duration::from_secs(10);
    let env = [("PLINTH_SHUTDOWN_GRACE_SECS", "10")];
    let mut process = ServiceProcess::start_with(CUSTOMERS.as_ref(), data.path(), &env).await;
    let (addr, base) = (process.addr(), process.url());
    let http = reqwest::Client::new();
    create(&http, &base, "first", "Fi Rst", "Tromso").await;
    let mut grpc = watch_city(&base, "Tromso", "first").await;
    let (mut ndjson, code) = http_watch(addr, "Tromso").await;
    assert_eq!(code, 200);

    let signalled = Instant::now();
    let status = process
        .terminate(grace)
        .await
        .expect("the service exits within one grace period");
    assert!(status.success(), "a graceful stop exits with 0: {status}");
    assert!(signalled.elapsed() < grace);

    let ended = loop {
        match grpc.message().await {
            Ok(Some(_row)) => continue,
            Ok(None) => panic!("the gRPC stream ended without saying why"),
            Err(status) => break status,
        }
    };
    assert_eq!(ended.code(), tonic::Code::Unavailable, "{ended:?}");
    let (_, body) = until_closed(&mut ndjson, Duration::from_secs(5)).await;
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("\"first\""), "the row was streamed: {body}");
    assert!(
        body.contains("shutting down"),
        "the NDJSON stream ends with an error line: {body}"
    );
}
