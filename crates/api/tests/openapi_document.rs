//! The generated document's request schemas agree with what the service accepts: the field
//! names of the domain's input types, the patterns the validation implies, and links that use
//! the specification's field names and resolve.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use api::leads::schema::{NO_NUL_PATTERN, NOT_BLANK_PATTERN, PHONE_PATTERN, TIME_PATTERN};
use api::openapi::document;
use serde_json::json;

fn doc() -> serde_json::Value {
    serde_json::to_value(document()).expect("document serialises")
}

/// The field names serde accepts for `T` (from its `unknown field` error).
fn accepted_fields<T: serde::de::DeserializeOwned>() -> Vec<String> {
    let err = serde_json::from_value::<T>(json!({"__unknown__": 1}))
        .err()
        .expect("unknown field refused")
        .to_string();
    let list = err.split_once("expected").expect("field list").1;
    let mut names: Vec<String> = list
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

fn properties(doc: &serde_json::Value, schema: &str) -> Vec<String> {
    let mut names: Vec<String> = doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {schema} has properties"))
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

#[test]
fn request_schemas_name_exactly_the_fields_the_domain_types_accept() {
    let doc = doc();
    assert_eq!(
        properties(&doc, "LeadFilter"),
        accepted_fields::<leads::LeadFilterInput>()
    );
    assert_eq!(
        properties(&doc, "LeadImportRow"),
        accepted_fields::<leads::LeadInput>()
    );
    for schema in ["LeadFilter", "LeadImportRow"] {
        assert_eq!(
            doc["components"]["schemas"][schema]["additionalProperties"],
            json!(false),
            "{schema}"
        );
    }
}

#[test]
fn request_patterns_are_the_documented_constants() {
    let doc = doc();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["LeadFilter"]["properties"]["created_from"]["pattern"],
        TIME_PATTERN
    );
    assert_eq!(
        schemas["LeadImportRow"]["properties"]["create_time"]["pattern"],
        TIME_PATTERN
    );
    assert_eq!(
        schemas["LeadImportRow"]["properties"]["phone"]["pattern"],
        PHONE_PATTERN
    );
    assert_eq!(
        schemas["LeadImportRow"]["properties"]["customer_name"]["pattern"],
        NOT_BLANK_PATTERN
    );
    assert_eq!(
        schemas["LeadFilter"]["properties"]["keyword"]["pattern"],
        NO_NUL_PATTERN
    );
    assert_eq!(
        schemas["LeadFilter"]["properties"]["sources"]["items"]["pattern"],
        NOT_BLANK_PATTERN
    );
    let params = doc["paths"]["/api/leads"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    for name in ["created_from", "created_to", "not_called_since"] {
        let p = params.iter().find(|p| p["name"] == name).expect(name);
        assert_eq!(p["schema"]["pattern"], TIME_PATTERN, "{name}");
    }
    assert_eq!(
        schemas["CreateBody"]["properties"]["task_name"]["pattern"],
        NOT_BLANK_PATTERN
    );
}

/// Times that match [`TIME_PATTERN`] are accepted by the service's parser, and the forms it
/// refuses do not match.
#[test]
fn time_pattern_agrees_with_the_parser() {
    let tz = chrono_tz::Asia::Shanghai;
    let valid = [
        "2025-11-01",
        "2025-11-01 08:30:00",
        "2025-11-01T08:30:00+08:00",
        "2025-11-01T08:30:00.123Z",
        "0000-01-01",
        "9999-12-31 23:59:59",
    ];
    for t in valid {
        assert!(kernel::parse_time(t, tz).is_some(), "{t}");
    }
    // the shapes of the pattern, spelled out (no regex engine in the dependencies)
    assert!(TIME_PATTERN.starts_with("^[0-9]{4}-") && TIME_PATTERN.ends_with(")?$"));
    // out-of-range years are refused by the parser itself (so validation answers 400)
    assert!(kernel::parse_time("-200000-01-01", tz).is_none());
}

#[test]
fn links_use_the_specification_field_names_and_resolve() {
    let doc = doc();
    let mut operation_ids = Vec::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            if let Some(id) = op["operationId"].as_str() {
                operation_ids.push(id.to_owned());
            }
        }
    }
    let mut links = 0;
    for item in doc["paths"].as_object().expect("paths").values() {
        for op in item.as_object().expect("path item").values() {
            let Some(responses) = op["responses"].as_object() else {
                continue;
            };
            for response in responses.values() {
                let Some(map) = response["links"].as_object() else {
                    continue;
                };
                for (name, link) in map {
                    links += 1;
                    for snake in ["operation_id", "operation_ref", "request_body"] {
                        assert!(link.get(snake).is_none(), "{name}: {link}");
                    }
                    let target = link["operationId"].as_str().expect("operationId");
                    assert!(
                        operation_ids.iter().any(|o| o == target),
                        "{name} → {target}"
                    );
                }
            }
        }
    }
    assert!(links > 10, "{links} links");
}

/// The contract in docs/api.md describes exactly the operations of the document: one section
/// headed `### METHOD /path` per operation.
#[test]
fn docs_api_md_describes_every_operation_and_no_other() {
    let md = include_str!("../../../docs/api.md");
    let described: std::collections::BTreeSet<String> = md
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter(|h| h.starts_with("GET /") || h.starts_with("POST /"))
        .map(|h| h.trim().to_owned())
        .collect();
    let doc = doc();
    let mut documented = std::collections::BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let undescribed: Vec<_> = documented.difference(&described).collect();
    let unknown: Vec<_> = described.difference(&documented).collect();
    assert!(
        undescribed.is_empty() && unknown.is_empty(),
        "docs/api.md lacks {undescribed:?} and describes unknown {unknown:?}"
    );
}
