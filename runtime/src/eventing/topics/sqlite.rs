//! The embedded topic log: a table in an SQLite file (by default `topics.db`
//! beside the service's database; several processes may share one file,
//! which is how two services talk through a topic without a broker).
//!
//! One writer thread appends with group commit (everything queued goes in one
//! transaction, one sync); positions are assigned per topic inside the write
//! transaction, so writers in other processes sharing the file never collide.
//! Reads use their own connection. The table is created on open if missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot, watch};

use super::{StoredMessage, TopicError, TopicMessage, TopicResult, Topics, validate_topic_name};
use crate::eventing::codec;

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS topic_log (
        topic     TEXT    NOT NULL,
        position  INTEGER NOT NULL,
        subject   TEXT    NOT NULL,
        metadata  BLOB    NOT NULL,
        payload   BLOB    NOT NULL,
        PRIMARY KEY (topic, position)
    ) WITHOUT ROWID;
";

/// The most appends committed in one transaction.
const MAX_BATCH: usize = 1024;

type Append = (String, TopicMessage, oneshot::Sender<TopicResult<u64>>);

/// The embedded durable topic log.
#[derive(Debug)]
pub struct SqliteTopics {
    path: PathBuf,
    appends: mpsc::Sender<Append>,
    reader: Arc<Mutex<Connection>>,
    heads: Arc<Heads>,
}

/// The last position of each topic published through this handle, for
/// [`Topics::watch`].
#[derive(Debug, Default)]
struct Heads {
    senders: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl Heads {
    fn advance(&self, topic: &str, position: u64) {
        if let Ok(senders) = self.senders.lock()
            && let Some(sender) = senders.get(topic)
        {
            sender.send_if_modified(|head| {
                let moved = position > *head;
                *head = (*head).max(position);
                moved
            });
        }
    }
}

fn backend(error: rusqlite::Error) -> TopicError {
    TopicError::Backend(error.to_string())
}

fn open_connection(path: &Path) -> TopicResult<Connection> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            TopicError::Backend(format!("cannot create directory {}: {e}", parent.display()))
        })?;
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| TopicError::Backend(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(Duration::from_secs(10))
        .map_err(backend)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(backend)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(backend)?;
    Ok(conn)
}

impl SqliteTopics {
    /// Open the log in the SQLite file `path` (created when missing), creating
    /// its table if needed, and start its writer thread.
    pub fn open(path: impl AsRef<Path>) -> TopicResult<SqliteTopics> {
        let path = path.as_ref().to_path_buf();
        let writer = open_connection(&path)?;
        writer.execute_batch(SCHEMA).map_err(backend)?;
        let reader = open_connection(&path)?;
        let (appends, queue) = mpsc::channel(8192);
        let heads = Arc::new(Heads::default());
        let thread_heads = heads.clone();
        std::thread::Builder::new()
            .name("plinth-topic-writer".to_owned())
            .spawn(move || run_writer(writer, queue, &thread_heads))
            .map_err(|e| TopicError::Backend(format!("cannot start the topic writer: {e}")))?;
        Ok(SqliteTopics {
            path,
            appends,
            reader: Arc::new(Mutex::new(reader)),
            heads,
        })
    }

    /// The SQLite file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn with_reader<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> TopicResult<T> + Send + 'static,
    ) -> TopicResult<T> {
        let reader = self.reader.clone();
        tokio::task::spawn_blocking(move || {
            let conn = reader
                .lock()
                .map_err(|_| TopicError::Backend("the topic reader was poisoned".to_owned()))?;
            query(&conn)
        })
        .await
        .map_err(|e| TopicError::Backend(format!("topic read task failed: {e}")))?
    }
}

/// The writer loop: take everything queued, append it in one transaction,
/// reply, publish the new heads; stop when every sender is gone.
fn run_writer(mut conn: Connection, mut queue: mpsc::Receiver<Append>, heads: &Heads) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue
        .blocking_recv()
        .map(|first| batch.push(first))
        .is_some()
    {
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        match append_batch(&mut conn, &batch) {
            Ok(positions) => {
                for ((topic, _, reply), position) in batch.drain(..).zip(positions) {
                    heads.advance(&topic, position);
                    let _ = reply.send(Ok(position));
                }
            }
            Err(error) => {
                let message = error.to_string();
                for (_, _, reply) in batch.drain(..) {
                    let _ = reply.send(Err(TopicError::Backend(message.clone())));
                }
            }
        }
    }
}

fn append_batch(conn: &mut Connection, batch: &[Append]) -> rusqlite::Result<Vec<u64>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut next: HashMap<&str, i64> = HashMap::new();
    let mut positions = Vec::with_capacity(batch.len());
    {
        let mut last =
            tx.prepare_cached("SELECT COALESCE(MAX(position), 0) FROM topic_log WHERE topic = ?1")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO topic_log (topic, position, subject, metadata, payload)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for (topic, message, _) in batch {
            let position = match next.get(topic.as_str()) {
                Some(position) => *position,
                None => last.query_row([topic], |row| row.get::<_, i64>(0))? + 1,
            };
            insert.execute(params![
                topic,
                position,
                message.subject(),
                codec::encode_metadata(&message.metadata),
                message.payload.as_ref(),
            ])?;
            next.insert(topic, position + 1);
            positions.push(position as u64);
        }
    }
    tx.commit()?;
    Ok(positions)
}

fn last_position(conn: &Connection, topic: &str) -> TopicResult<u64> {
    let last: Option<i64> = conn
        .query_row(
            "SELECT MAX(position) FROM topic_log WHERE topic = ?1",
            [topic],
            |row| row.get(0),
        )
        .optional()
        .map_err(backend)?
        .flatten();
    Ok(last.unwrap_or(0) as u64)
}

impl Topics for SqliteTopics {
    fn publish<'a>(
        &'a self,
        topic: &'a str,
        message: TopicMessage,
    ) -> BoxFuture<'a, TopicResult<u64>> {
        Box::pin(async move {
            validate_topic_name(topic)?;
            let (reply, outcome) = oneshot::channel();
            self.appends
                .send((topic.to_owned(), message, reply))
                .await
                .map_err(|_| TopicError::Closed)?;
            outcome.await.map_err(|_| TopicError::Closed)?
        })
    }

    fn read<'a>(
        &'a self,
        topic: &'a str,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'a, TopicResult<Vec<StoredMessage>>> {
        let topic = topic.to_owned();
        Box::pin(self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT position, metadata, payload FROM topic_log
                     WHERE topic = ?1 AND position > ?2 ORDER BY position LIMIT ?3",
                )
                .map_err(backend)?;
            let after = i64::try_from(after).unwrap_or(i64::MAX);
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let rows = stmt
                .query_map(params![topic, after, limit], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, Vec<u8>>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                    ))
                })
                .map_err(backend)?;
            let mut messages = Vec::new();
            for row in rows {
                let (position, metadata, payload) = row.map_err(backend)?;
                let metadata = codec::decode_metadata(&metadata).map_err(|e| {
                    TopicError::Backend(format!(
                        "topic {topic} position {position}: bad metadata: {e}"
                    ))
                })?;
                messages.push(StoredMessage {
                    position: position as u64,
                    message: TopicMessage {
                        metadata,
                        payload: Bytes::from(payload),
                    },
                });
            }
            Ok(messages)
        }))
    }

    fn watch(&self, topic: &str) -> Option<watch::Receiver<u64>> {
        let mut senders = self.heads.senders.lock().ok()?;
        if let Some(sender) = senders.get(topic) {
            return Some(sender.subscribe());
        }
        // Start from the current last position, so readers know where the
        // topic stands before anything is published here.
        let conn = self.reader.lock().ok()?;
        let last = last_position(&conn, topic).ok()?;
        let (sender, receiver) = watch::channel(last);
        senders.insert(topic.to_owned(), sender);
        Some(receiver)
    }

    fn describe(&self) -> String {
        format!("sqlite:{}", self.path.display())
    }
}
