//! Checking JSON against an OpenAPI 3.1 document: the subset of JSON Schema the service's
//! document uses (types, nullable types, `$ref`, `allOf`, enums, required and unknown
//! properties, items, `additionalProperties`). Used by the drift tests of the API and the
//! end-to-end tests to hold every answer against the document.

/// The JSON schema of the `application/json` body of the `status` response of `method path`
/// (`method` lowercase, `path` as in the document, e.g. `/api/task_list`), with a response
/// `$ref` resolved. `None` when the document has no such response.
pub fn response_schema(
    doc: &serde_json::Value,
    method: &str,
    path: &str,
    status: u16,
) -> Option<serde_json::Value> {
    let mut response = doc
        .get("paths")?
        .get(path)?
        .get(method)?
        .get("responses")?
        .get(status.to_string())?;
    if let Some(r) = response.get("$ref").and_then(|r| r.as_str()) {
        response = resolve(doc, r)?;
    }
    response
        .get("content")?
        .get("application/json")?
        .get("schema")
        .cloned()
}

fn resolve<'d>(doc: &'d serde_json::Value, reference: &str) -> Option<&'d serde_json::Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

/// Check `value` against `schema` of `doc`: the subset of JSON Schema the document uses (`$ref`,
/// `allOf`, `oneOf`, `anyOf`, `type`, `enum`, `const`, `required`, `properties`,
/// `additionalProperties`, `items`, `minimum`, `maximum`, `minLength`, `maxLength`). Objects are
/// closed: a property the schema does not name is an error unless `additionalProperties` allows
/// it, so a field a handler adds without documenting it is caught. Returns the problems found,
/// each with its JSON path.
pub fn validate(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
) -> Vec<String> {
    let mut errors = Vec::new();
    check(doc, schema, value, "$", true, &mut errors);
    errors
}

fn known_properties(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    out: &mut Vec<String>,
    open: &mut bool,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    if let Some(target) = schema
        .get("$ref")
        .and_then(|r| r.as_str())
        .and_then(|r| resolve(doc, r))
    {
        known_properties(doc, target, out, open, depth + 1);
    }
    if let Some(props) = schema.get("properties").and_then(|p| p.as_object()) {
        out.extend(props.keys().cloned());
    }
    match schema.get("additionalProperties") {
        None | Some(serde_json::Value::Bool(false)) => {}
        Some(_) => *open = true,
    }
    for branch in schema
        .get("allOf")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
    {
        known_properties(doc, branch, out, open, depth + 1);
    }
}

fn type_matches(name: &str, value: &serde_json::Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

fn check(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
    closed: bool,
    errors: &mut Vec<String>,
) {
    if let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
        match resolve(doc, r) {
            Some(target) => check(doc, target, value, at, closed, errors),
            None => errors.push(format!("{at}: unresolved $ref {r}")),
        }
    }
    if let Some(branches) = schema.get("allOf").and_then(|a| a.as_array()) {
        for b in branches {
            check(doc, b, value, at, false, errors);
        }
    }
    for (key, exactly_one) in [("oneOf", true), ("anyOf", false)] {
        if let Some(branches) = schema.get(key).and_then(|a| a.as_array()) {
            let passing = branches
                .iter()
                .filter(|b| {
                    let mut e = Vec::new();
                    check(doc, b, value, at, closed, &mut e);
                    e.is_empty()
                })
                .count();
            if passing == 0 || (exactly_one && passing > 1) {
                errors.push(format!(
                    "{at}: {value} matches {passing} of the {key} branches"
                ));
            }
        }
    }
    match schema.get("type") {
        Some(serde_json::Value::String(t)) if !type_matches(t, value) => {
            errors.push(format!("{at}: expected {t}, got {value}"));
            return;
        }
        Some(serde_json::Value::Array(ts))
            if !ts
                .iter()
                .filter_map(|t| t.as_str())
                .any(|t| type_matches(t, value)) =>
        {
            errors.push(format!(
                "{at}: expected one of {}, got {value}",
                serde_json::Value::Array(ts.clone())
            ));
            return;
        }
        _ => {}
    }
    if let Some(allowed) = schema.get("enum").and_then(|e| e.as_array())
        && !allowed.contains(value)
    {
        errors.push(format!(
            "{at}: {value} is not one of {}",
            serde_json::Value::Array(allowed.clone())
        ));
    }
    if let Some(c) = schema.get("const")
        && c != value
    {
        errors.push(format!("{at}: {value} is not {c}"));
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = schema.get("minimum").and_then(|m| m.as_f64())
            && n < min
        {
            errors.push(format!("{at}: {n} is below the minimum {min}"));
        }
        if let Some(max) = schema.get("maximum").and_then(|m| m.as_f64())
            && n > max
        {
            errors.push(format!("{at}: {n} is above the maximum {max}"));
        }
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count() as u64;
        if schema
            .get("minLength")
            .and_then(|m| m.as_u64())
            .is_some_and(|m| len < m)
        {
            errors.push(format!("{at}: {value} is too short"));
        }
        if schema
            .get("maxLength")
            .and_then(|m| m.as_u64())
            .is_some_and(|m| len > m)
        {
            errors.push(format!("{at}: {value} is too long"));
        }
    }
    if let (Some(items), Some(values)) = (schema.get("items"), value.as_array()) {
        for (i, v) in values.iter().enumerate() {
            check(doc, items, v, &format!("{at}[{i}]"), true, errors);
        }
    }
    let Some(object) = value.as_object() else {
        return;
    };
    if let Some(required) = schema.get("required").and_then(|r| r.as_array()) {
        for name in required.iter().filter_map(|r| r.as_str()) {
            if !object.contains_key(name) {
                errors.push(format!("{at}: missing required property `{name}`"));
            }
        }
    }
    let props = schema.get("properties").and_then(|p| p.as_object());
    for (name, v) in object {
        match props.and_then(|p| p.get(name)) {
            Some(s) => check(doc, s, v, &format!("{at}.{name}"), true, errors),
            None => {
                if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
                    check(doc, extra, v, &format!("{at}.{name}"), true, errors);
                }
            }
        }
    }
    // closedness is judged once, on the whole schema (its `$ref` and `allOf` parts together)
    if closed && (schema.get("properties").is_some() || schema.get("allOf").is_some()) {
        let mut known = Vec::new();
        let mut open = false;
        known_properties(doc, schema, &mut known, &mut open, 0);
        if !open {
            for name in object.keys().filter(|k| !known.contains(k)) {
                errors.push(format!("{at}: property `{name}` is not in the schema"));
            }
        }
    }
}
