//! The embedded files as a browser gets them: the page at `/`, the Socket.IO bundle and the
//! modules under `/static/`, caching headers, and nothing but the embedded names.

use actix_web::http::{header, StatusCode};
use actix_web::{test, App};

async fn get(path: &str, headers: &[(header::HeaderName, &str)]) -> (StatusCode, header::HeaderMap, String) {
    let app = test::init_service(App::new().configure(web_client::configure)).await;
    let mut request = test::TestRequest::get().uri(path);
    for (name, value) in headers {
        request = request.insert_header((name.clone(), *value));
    }
    let response = test::call_service(&app, request.to_request()).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = test::read_body(response).await;
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

fn header_of(headers: &header::HeaderMap, name: header::HeaderName) -> &str {
    headers.get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

#[actix_web::test]
async fn the_page_is_served_at_the_root_with_its_scripts() {
    let (status, headers, body) = get("/", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header_of(&headers, header::CACHE_CONTROL), "no-cache");
    assert!(header_of(&headers, header::CONTENT_SECURITY_POLICY).contains("default-src 'self'"));
    assert!(body.contains(r#"<script type="module" src="/static/app.js"></script>"#), "{body}");
    assert!(body.contains(r#"<script src="/static/socket.io.min.js"></script>"#), "{body}");
}

#[actix_web::test]
async fn every_embedded_file_is_served_with_its_media_type() {
    let (status, headers, body) = get("/static/socket.io.min.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "text/javascript; charset=utf-8");
    assert_eq!(header_of(&headers, header::X_CONTENT_TYPE_OPTIONS), "nosniff");
    assert!(body.starts_with("/*!\n * Socket.IO v4.8."), "not the official bundle");
    for file in web_client::FILES {
        let (status, headers, body) = get(&format!("/static/{}", file.name), &[]).await;
        assert_eq!(status, StatusCode::OK, "{}", file.name);
        assert_eq!(header_of(&headers, header::CONTENT_TYPE), file.content_type, "{}", file.name);
        assert_eq!(body.len(), file.body.len(), "{}", file.name);
    }
    let (_, headers, _) = get("/static/style.css", &[]).await;
    assert_eq!(header_of(&headers, header::CONTENT_TYPE), "text/css; charset=utf-8");
}

#[actix_web::test]
async fn an_unchanged_file_is_not_sent_again() {
    let (_, headers, _) = get("/static/app.js", &[]).await;
    let etag = header_of(&headers, header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag:?}");
    let (status, _, body) = get("/static/app.js", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    let (status, _, _) = get("/static/app.js", &[(header::IF_NONE_MATCH, "\"other\"")]).await;
    assert_eq!(status, StatusCode::OK);
}

#[actix_web::test]
async fn only_the_embedded_names_match() {
    for path in [
        "/static/../Cargo.toml",
        "/static/%2e%2e/Cargo.toml",
        "/static/",
        "/static/nope.js",
        "/static/app.js/",
        "/Cargo.toml",
        "/src/lib.rs",
        "/static/socket.io.min.js.map",
    ] {
        let (status, _, _) = get(path, &[]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}

#[actix_web::test]
async fn other_methods_are_refused() {
    let app = test::init_service(App::new().configure(web_client::configure)).await;
    let response = test::call_service(&app, test::TestRequest::post().uri("/").to_request()).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}
