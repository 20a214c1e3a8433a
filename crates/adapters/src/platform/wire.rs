//! The wire format of a request: RFC 3986 encoding, the v1 signature, the form body, and the
//! JSON the actions carry.

use super::*;

/// Percent-encodes `s` as RFC 3986 requires for signature v1 (space `%20`, `*` `%2A`, `~` kept).
pub fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, RFC3986).to_string()
}

/// Signature v1: sorts `params` (which must not contain `Signature`) by name, builds the canonical
/// query with RFC 3986 encoding, `StringToSign = METHOD & enc("/") & enc(canonical)`, and returns
/// `base64(HMAC-SHA1(secret + "&", StringToSign))`.
pub fn sign(method: &str, params: &[(String, String)], secret: &str) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let canonical = sorted
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let string_to_sign = format!(
        "{}&{}&{}",
        method,
        percent_encode("/"),
        percent_encode(&canonical)
    );
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()) else {
        // HMAC takes keys of any length; this branch cannot be reached.
        return String::new();
    };
    mac.update(string_to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Form-encodes `params` (`k=v&...`) with the RFC 3986 encoder.
pub(super) fn form_encode(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(super) fn strategy_json(strategy: &Strategy) -> String {
    json!({
        "workingTime": strategy
            .working_time
            .iter()
            .map(|w| json!({ "beginTime": w.begin, "endTime": w.end }))
            .collect::<Vec<_>>(),
        "maxAttemptsPerDay": strategy.max_attempts_per_day,
        "minAttemptInterval": strategy.min_attempt_interval_minutes,
    })
    .to_string()
}

pub(super) fn job_json(contact: &Contact) -> String {
    json!({
        "contacts": [{
            "phoneNumber": contact.phone,
            "name": contact.name,
            "honorific": contact.honorific.clone().unwrap_or_default(),
            "referenceId": contact.reference_id,
        }],
        "extras": contact
            .extras
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect::<Vec<_>>(),
    })
    .to_string()
}

pub(super) fn p(k: &str, v: impl Into<String>) -> (String, String) {
    (k.to_owned(), v.into())
}
