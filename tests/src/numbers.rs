//! The request-stream fixture (`protos/numbers.proto`): sums of streamed numbers.

pub use crate::generated::numbers::*;

use futures::StreamExt;
use plinth::{ActionContext, ReplyStream, RequestStream, Status};

/// The adder.
#[derive(Debug, Clone, Copy, Default)]
pub struct Adder;

impl NumbersAction for Adder {
    async fn sum(
        &self,
        mut requests: RequestStream<Number>,
        _ctx: ActionContext,
    ) -> Result<Total, Status> {
        let mut total = Total::default();
        while let Some(number) = requests.next().await {
            let number = number?;
            if number.value < 0 {
                return Err(Status::invalid_argument(format!(
                    "{} is negative",
                    number.value
                )));
            }
            total.sum += number.value;
            total.count += 1;
        }
        Ok(total)
    }

    async fn running(
        &self,
        requests: RequestStream<Number>,
        _ctx: ActionContext,
    ) -> Result<ReplyStream<Total>, Status> {
        let totals = requests.scan(Total::default(), |total, number| {
            let next = number.map(|number| {
                total.sum += number.value;
                total.count += 1;
                *total
            });
            futures::future::ready(Some(next))
        });
        Ok(totals.boxed())
    }
}
