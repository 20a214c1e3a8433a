//! Phone numbers as people see them.

/// Mask a phone number for display: `13812345678` → `138****5678`.
///
/// Anything too short to mask safely is fully starred.
pub fn mask_phone(phone: &str) -> String {
    let n = phone.chars().count();
    if n < 8 {
        return "*".repeat(n);
    }
    let head: String = phone.chars().take(3).collect();
    let tail: String = phone.chars().skip(n - 4).collect();
    format!("{head}****{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_mainland_mobile() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("123"), "***");
    }
}
