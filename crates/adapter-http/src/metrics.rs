//! Request metrics for every HTTP route of the app, as an actix-web middleware: a latency
//! histogram `http_request_duration_seconds` by method, route template and status (its
//! `_count` is the number of requests). The route is the matched TEMPLATE
//! (`/api/chats/{chatId}/messages`), never the path: ids and unknown paths must not become
//! label values (`unmatched` stands for every path no route serves).

use std::borrow::Cow;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;

/// Name of the request latency histogram, for the exporter's bucket configuration.
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";

/// Records one observation of [`REQUEST_DURATION`] per request. Wrap it around the whole app
/// (`App::new().wrap(actix_web::middleware::from_fn(adapter_http::record_request))`) to
/// measure the Socket.IO and static routes too. A long-polling `GET /socket.io/` lasts until
/// the server has something to send: its latency is the poll's length, not a slow response.
pub async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let response = next.call(req).await;
    let (route, status) = match &response {
        Ok(response) => (response.request().match_pattern(), response.status().as_u16()),
        Err(error) => (None, error.as_response_error().status_code().as_u16()),
    };
    let route = route.map_or(Cow::Borrowed("unmatched"), Cow::Owned);
    metrics::histogram!(REQUEST_DURATION, "method" => method, "route" => route, "status" => status_label(status))
        .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a static label; methods no route serves share `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::HEAD => "HEAD",
        _ => "other",
    }
}

/// The status code as a label, without formatting the statuses the API answers.
fn status_label(status: u16) -> Cow<'static, str> {
    Cow::Borrowed(match status {
        101 => "101",
        200 => "200",
        201 => "201",
        204 => "204",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        413 => "413",
        415 => "415",
        429 => "429",
        500 => "500",
        503 => "503",
        other => return Cow::Owned(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_code_and_method_names() {
        assert_eq!(status_label(429), "429");
        assert_eq!(status_label(418), "418");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(method_label(&Method::TRACE), "other");
    }
}
