//! The raw-body fixture (`protos/web.proto`): an action serving files as
//! `google.api.HttpBody` and describing what is posted to it.

pub use crate::generated::web::*;

use plinth::{ActionContext, HttpBody, ReplyStream, Status};

/// The files.
#[derive(Debug, Clone, Copy, Default)]
pub struct Site;

fn described(body: &HttpBody) -> UploadReply {
    UploadReply {
        content_type: body.content_type.clone(),
        size: body.data.len() as i64,
        text: String::from_utf8_lossy(&body.data).into_owned(),
    }
}

impl StaticFilesAction for Site {
    async fn index_html(&self, (): (), _ctx: ActionContext) -> Result<HttpBody, Status> {
        Ok(HttpBody::new("text/html; charset=utf-8", "<h1>Hello</h1>"))
    }

    async fn file(&self, request: FileRequest, _ctx: ActionContext) -> Result<HttpBody, Status> {
        match request.file.as_str() {
            "css/site.css" => Ok(HttpBody::new("text/css", "h1 { color: red }")),
            "data.bin" => Ok(HttpBody::new("", vec![0u8, 159, 146, 150])),
            other => Err(Status::not_found(format!("no file {other}"))),
        }
    }

    async fn chunks(
        &self,
        request: FileRequest,
        _ctx: ActionContext,
    ) -> Result<ReplyStream<HttpBody>, Status> {
        let parts = ["one,", "two,", "three"].map(|part| Ok(HttpBody::new("text/plain", part)));
        let _ = request;
        Ok(Box::pin(futures::stream::iter(parts)))
    }

    async fn upload(&self, request: HttpBody, _ctx: ActionContext) -> Result<UploadReply, Status> {
        Ok(described(&request))
    }

    async fn attach(&self, request: Note, _ctx: ActionContext) -> Result<UploadReply, Status> {
        let attachment = request.attachment.unwrap_or_default();
        let mut reply = described(&attachment);
        reply.text = format!("{}: {}", request.title, reply.text);
        Ok(reply)
    }
}
