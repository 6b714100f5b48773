//! The OpenAPI document (`GET /api/docs-json`) against the contract: every route of the HTTP
//! table of `docs/contract.md` is documented and served, or is in [`NOT_YET_SERVED`] and is
//! neither; the document names nothing else but `/health`; and its shape (OpenAPI 3.1, bearer
//! scheme, NestJS error bodies) holds. schemathesis checks the document against the running
//! server in the e2e package (`tests/tests/it/openapi.rs`).

use std::collections::BTreeSet;
use std::path::Path;

use actix_web::http::Method;
use actix_web::test::TestRequest;
use serde_json::Value;

use crate::helpers::{spawn_app, NO_SUCH_ID};

/// Routes of the contract this server does not serve yet, each with the issue that builds it.
/// The test fails when one of them is served (whether documented or not: remove it from here
/// and annotate its handler), so this list only shrinks.
const NOT_YET_SERVED: &[(&str, &str)] = &[];

/// Documented routes that are not the contract's: operational ones.
const OUTSIDE_THE_CONTRACT: &[(&str, &str)] = &[("GET", "/health")];

type Route = (String, String);

/// The `(method, path)` rows of the contract's HTTP table, paths in OpenAPI form
/// (`/api/chats/{chatId}`), query strings dropped.
fn contract_routes() -> BTreeSet<Route> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/contract.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut routes = BTreeSet::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // `| METHOD | `/api/...` | ...`: the first cell is empty (before the first bar).
        let [_, method, path, ..] = cells.as_slice() else { continue };
        if !matches!(*method, "GET" | "POST" | "PUT" | "PATCH" | "DELETE") {
            continue;
        }
        let Some(path) = path.strip_prefix('`').and_then(|p| p.split('`').next()) else { continue };
        if !path.starts_with("/api/") {
            continue;
        }
        let path = path.split('?').next().unwrap_or(path);
        let template = path
            .split('/')
            .map(|segment| match segment.strip_prefix(':') {
                Some(name) => format!("{{{name}}}"),
                None => segment.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("/");
        routes.insert(((*method).to_owned(), template));
    }
    routes
}

/// The `(method, path)` pairs the document describes.
fn documented_routes(document: &Value) -> BTreeSet<Route> {
    let paths = document["paths"].as_object().unwrap_or_else(|| panic!("no paths in {document}"));
    let mut routes = BTreeSet::new();
    for (path, item) in paths {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

fn owned(routes: &[(&str, &str)]) -> BTreeSet<Route> {
    routes.iter().map(|(m, p)| ((*m).to_owned(), (*p).to_owned())).collect()
}

#[actix_web::test]
async fn every_route_of_the_contract_is_documented_and_served_or_listed_as_not_yet() {
    let app = spawn_app().await;
    let reply = app.get("/api/docs-json", None).await;
    let document = reply.assert_status(200).clone();
    let documented = documented_routes(&document);
    let contract = contract_routes();
    // The table has 20 rows today; a parse that finds few means the table changed shape.
    assert!(contract.len() >= 20, "read only {contract:?} from docs/contract.md");
    assert!(contract.contains(&("GET".to_owned(), "/api/chats/{chatId}/messages".to_owned())), "{contract:?}");
    let not_yet = owned(NOT_YET_SERVED);

    // A route is served when a request to it, without a token, is answered by something other
    // than the fallback's 404 `Cannot METHOD path` or the 405 of a known path.
    let mut problems = Vec::new();
    for (method, template) in contract.iter().chain(documented.iter()).collect::<BTreeSet<_>>() {
        let concrete =
            template.replace("{chatId}", NO_SUCH_ID).replace("{id}", NO_SUCH_ID).replace("{userId}", NO_SUCH_ID);
        let request = TestRequest::default().method(Method::from_bytes(method.as_bytes()).unwrap()).uri(&concrete);
        let probe = app.call(request).await;
        let fallback = probe.status == 405
            || (probe.status == 404 && probe.body["message"] == format!("Cannot {method} {concrete}"));
        let served = !fallback;
        let route = (method.clone(), template.clone());
        let in_contract = contract.contains(&route);
        let is_documented = documented.contains(&route);
        let listed = not_yet.contains(&route);
        match (served, is_documented, listed) {
            (true, false, _) => problems.push(format!("{method} {template} is served but not documented")),
            (false, true, _) => problems.push(format!("{method} {template} is documented but not served")),
            (true, true, true) => {
                problems.push(format!("{method} {template} is served and documented: remove it from NOT_YET_SERVED"))
            }
            (false, false, false) => problems.push(format!(
                "{method} {template} (contract) is neither served nor documented, nor in NOT_YET_SERVED"
            )),
            _ => {}
        }
        if !in_contract && !OUTSIDE_THE_CONTRACT.contains(&(method.as_str(), template.as_str())) {
            problems.push(format!("{method} {template} is documented but is no route of docs/contract.md"));
        }
    }
    for route in not_yet.difference(&contract) {
        problems.push(format!("NOT_YET_SERVED lists {route:?}, which is no route of docs/contract.md"));
    }
    assert!(problems.is_empty(), "the OpenAPI document and the contract disagree:\n{}", problems.join("\n"));
}

#[test]
fn reads_the_routes_of_the_contract_table() {
    let contract = contract_routes();
    for (method, path) in [
        ("POST", "/api/auth/register"),
        ("GET", "/api/users"),
        ("GET", "/api/presence"),
        ("DELETE", "/api/chats/{chatId}/participants/{userId}"),
        ("PATCH", "/api/messages/{id}/status"),
    ] {
        assert!(contract.contains(&(method.to_owned(), path.to_owned())), "{method} {path} not in {contract:?}");
    }
    assert!(contract.iter().all(|(_, path)| !path.contains(['?', ':', '`'])), "{contract:?}");
}

#[actix_web::test]
async fn the_document_is_openapi_3_1_with_bearer_auth_and_nestjs_errors() {
    let app = spawn_app().await;
    let reply = app.get("/api/docs-json", None).await;
    assert_eq!(reply.headers.get("content-type").unwrap(), "application/json");
    let document = reply.assert_status(200);
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1."), "{}", document["openapi"]);
    let scheme = &document["components"]["securitySchemes"]["bearer"];
    assert_eq!((scheme["type"].as_str(), scheme["scheme"].as_str()), (Some("http"), Some("bearer")), "{scheme}");
    assert_eq!(scheme["bearerFormat"], "JWT");
    let error = &document["components"]["schemas"]["ErrorBody"];
    let required: BTreeSet<&str> = error["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(required, BTreeSet::from(["statusCode", "error", "message"]), "{error}");

    let public = owned(&[("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("GET", "/health")]);
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let route = (method.to_uppercase(), path.clone());
            let responses = operation["responses"].as_object().unwrap();
            if public.contains(&route) {
                assert!(operation.get("security").is_none(), "{route:?} needs no token");
            } else {
                assert_eq!(operation["security"], serde_json::json!([{"bearer": []}]), "{route:?}");
                assert!(responses.contains_key("401"), "{route:?} must list 401");
            }
            // Every error status names a response component whose body is the NestJS shape.
            for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('4') || s.starts_with('5')) {
                if path == "/health" {
                    continue;
                }
                let reference = response["$ref"].as_str().unwrap_or_else(|| panic!("{route:?} {status}: {response}"));
                let name = reference.strip_prefix("#/components/responses/").unwrap();
                let component = &document["components"]["responses"][name];
                let schema = &component["content"]["application/json"]["schema"]["$ref"];
                assert_eq!(schema, "#/components/schemas/ErrorBody", "{route:?} {status}");
            }
        }
    }
    let too_many = &document["components"]["responses"]["TooManyRequests"];
    assert!(too_many["headers"].get("Retry-After").is_some(), "{too_many}");
}

#[actix_web::test]
async fn swagger_ui_is_served_from_the_binary_and_reads_the_document() {
    let app = spawn_app().await;
    let redirect = app.get_page("/api/docs").await;
    assert_eq!(redirect.status, 302);
    assert_eq!(redirect.headers.get("location").unwrap(), "/api/docs/");
    let page = app.get_page("/api/docs/").await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    // The page's own files are embedded, not fetched from elsewhere.
    assert!(!page.text.contains("https://"), "{}", page.text);
    let initializer = app.get_page("/api/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status, 200);
    assert!(initializer.text.contains("/api/docs-json"), "{}", initializer.text);
    let bundle = app.get_page("/api/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status, 200);
    assert!(bundle.text.len() > 100_000, "the bundle is {} bytes", bundle.text.len());
}

#[actix_web::test]
async fn chats_carry_their_receipts_and_messages_their_edit_time() {
    let app = spawn_app().await;
    let reply = app.get("/api/docs-json", None).await;
    let schemas = &reply.assert_status(200)["components"]["schemas"];
    let required = |name: &str| -> BTreeSet<String> {
        let list = schemas[name]["required"].as_array().unwrap_or_else(|| panic!("{name}: {}", schemas[name]));
        list.iter().filter_map(Value::as_str).map(str::to_owned).collect()
    };
    let chat = &schemas["Chat"]["properties"];
    for field in ["lastSeq", "unreadCount", "receipts"] {
        assert!(required("Chat").contains(field), "Chat.{field} must be required: {}", schemas["Chat"]);
    }
    assert_eq!(chat["lastSeq"]["type"], "integer", "{chat}");
    assert_eq!(chat["unreadCount"]["type"], "integer", "{chat}");
    assert_eq!(chat["receipts"]["items"]["$ref"], "#/components/schemas/ReceiptEntry", "{chat}");
    assert_eq!(required("ReceiptEntry"), BTreeSet::from(["userId", "deliveredSeq", "readSeq"].map(String::from)));

    // `editedAt` is always there, `null` until the first edit.
    assert!(required("Message").contains("editedAt"), "{}", schemas["Message"]);
    let edited_at = serde_json::to_string(&schemas["Message"]["properties"]["editedAt"]).unwrap();
    assert!(edited_at.contains("null") && edited_at.contains("Timestamp"), "{edited_at}");

    // The receipt routes' bodies: a status is one of two markers, a seq any unsigned 64-bit.
    assert_eq!(schemas["StatusBody"]["properties"]["status"]["$ref"], "#/components/schemas/ReceiptStatus");
    assert_eq!(schemas["ReceiptStatus"]["enum"], serde_json::json!(["delivered", "read"]), "{schemas}");
    assert_eq!(schemas["SeqBody"]["properties"]["seq"]["format"], "uint64", "{}", schemas["SeqBody"]);

    for (name, fields) in
        [("ReadReply", &["chatId", "readSeq", "unreadCount"][..]), ("DeliveredReply", &["chatId", "deliveredSeq"])]
    {
        assert_eq!(required(name), fields.iter().map(|f| (*f).to_owned()).collect(), "{}", schemas[name]);
    }
}
