//! The view kit: feeds a view's update methods and keeps its rows by
//! subject (the source entity's id, the row key), as the projection does —
//! an upsert stores the row, a delete removes it, an ignore or an error
//! leaves it as it was.

use std::collections::BTreeMap;

use bytes::Bytes;

use super::env::KitEnv;
use crate::codegen::encode;
use crate::component::adapter::ViewAdapter;
use crate::context::UpdateContext;
use crate::effect::RowUpdate;
use crate::status::Status;

/// A view's rows. Generated kits (`<Name>ViewTestKit`) wrap one and
/// dereference to it.
#[derive(Debug, Default)]
pub struct ViewKit {
    env: KitEnv,
    rows: BTreeMap<String, Bytes>,
}

impl ViewKit {
    /// A view with no rows.
    pub fn new() -> ViewKit {
        ViewKit::default()
    }

    /// The row of `subject`, decoded as `R`.
    ///
    /// # Panics
    /// When the stored row is not an `R`.
    pub fn row<R: prost::Message + Default>(&self, subject: &str) -> Option<R> {
        self.rows.get(subject).map(|row| {
            R::decode(row.as_ref()).unwrap_or_else(|error| {
                panic!(
                    "the row of {subject} is not a {}: {error}",
                    std::any::type_name::<R>()
                )
            })
        })
    }

    /// The subjects that have a row, in order.
    pub fn subjects(&self) -> Vec<&str> {
        self.rows.keys().map(String::as_str).collect()
    }

    /// Start with `row` stored for `subject`.
    pub fn set_row<R: prost::Message>(&mut self, subject: &str, row: &R) {
        self.rows.insert(subject.to_owned(), encode(row));
    }

    /// Run update method `method` of `adapter` for `subject` with `input`
    /// (the generated kit's methods call this).
    pub fn update<A, Q, R>(
        &mut self,
        adapter: &A,
        method: usize,
        subject: &str,
        input: &Q,
    ) -> ViewResult<R>
    where
        A: ViewAdapter,
        Q: prost::Message,
        R: prost::Message + Default,
    {
        let mut metadata = self.env.metadata();
        if metadata.get("ce-subject").is_none() {
            metadata.insert("ce-subject", subject);
        }
        let ctx = UpdateContext::new(subject, metadata);
        let row = self.rows.get(subject).cloned();
        let update = adapter.update(method, row.as_deref(), &encode(input), &ctx);
        let change = match update {
            Ok(RowUpdate::Upsert(row)) => {
                self.rows.insert(subject.to_owned(), row);
                Change::Upserted
            }
            Ok(RowUpdate::Delete) => {
                self.rows.remove(subject);
                Change::Deleted
            }
            Ok(RowUpdate::Ignore) => Change::Ignored,
            Err(status) => Change::Failed(status),
        };
        ViewResult {
            row: self.row(subject),
            change,
        }
    }
}

impl std::ops::Deref for ViewKit {
    type Target = KitEnv;
    fn deref(&self) -> &KitEnv {
        &self.env
    }
}

impl std::ops::DerefMut for ViewKit {
    fn deref_mut(&mut self) -> &mut KitEnv {
        &mut self.env
    }
}

#[derive(Debug)]
enum Change {
    Upserted,
    Deleted,
    Ignored,
    Failed(Status),
}

/// What one update did to its row.
#[derive(Debug)]
pub struct ViewResult<R> {
    row: Option<R>,
    change: Change,
}

impl<R> ViewResult<R> {
    /// The row after the update (`None` when there is none).
    pub fn row(&self) -> Option<&R> {
        self.row.as_ref()
    }

    /// Whether the update stored a row.
    pub fn is_upsert(&self) -> bool {
        matches!(self.change, Change::Upserted)
    }

    /// Whether the update deleted the row.
    pub fn is_delete(&self) -> bool {
        matches!(self.change, Change::Deleted)
    }

    /// Whether the update left the row alone.
    pub fn is_ignore(&self) -> bool {
        matches!(self.change, Change::Ignored)
    }

    /// Whether the handler failed (the projection retries the update).
    pub fn is_error(&self) -> bool {
        matches!(self.change, Change::Failed(_))
    }

    /// The handler's error.
    ///
    /// # Panics
    /// When it did not fail.
    pub fn error(&self) -> &Status {
        match &self.change {
            Change::Failed(status) => status,
            other => panic!("expected the update to fail, but it was {other:?}"),
        }
    }
}
