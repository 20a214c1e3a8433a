//! argon2id password hashing and HS256 JWT access tokens.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use async_trait::async_trait;
use auth::{Claims, PasswordHasher, TokenCodec, TokenError};
use jsonwebtoken::{
    Algorithm as JwtAlg, DecodingKey, EncodingKey, Header, Validation, decode, encode,
};
use serde::{Deserialize, Serialize};

/// argon2id with OWASP's recommended parameters (m = 19 MiB, t = 2, p = 1).
#[derive(Clone)]
pub struct Argon2Hasher {
    argon: Argon2<'static>,
    dummy_hash: String,
}

impl Argon2Hasher {
    /// A hasher with OWASP parameters.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_params(19 * 1024, 2, 1)
    }

    /// A hasher with explicit parameters (memory KiB, iterations, parallelism).
    pub fn with_params(m_cost: u32, t_cost: u32, p_cost: u32) -> anyhow::Result<Self> {
        let params = Params::new(m_cost, t_cost, p_cost, None)
            .map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let dummy_hash = argon
            .hash_password(b"dummy password for unknown users", &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        Ok(Self { argon, dummy_hash })
    }

    /// Hash synchronously (for the CLI and tests).
    pub fn hash_blocking(&self, password: &str) -> anyhow::Result<String> {
        let salt = SaltString::generate(&mut OsRng);
        Ok(self
            .argon
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string())
    }

    fn verify_blocking(&self, password: &str, hash: Option<&str>) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash);
        let ok = match PasswordHash::new(hash) {
            Ok(parsed) => self
                .argon
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => {
                // unreadable stored hash: still spend the same work, then refuse
                if let Ok(parsed) = PasswordHash::new(&self.dummy_hash) {
                    let _ = self.argon.verify_password(password.as_bytes(), &parsed);
                }
                false
            }
        };
        ok && known
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let this = self.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || this.hash_blocking(&password)).await?
    }

    async fn verify(&self, password: &str, hash: Option<String>) -> bool {
        let this = self.clone();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || this.verify_blocking(&password, hash.as_deref()))
            .await
            .unwrap_or(false)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct JwtClaims {
    jti: String,
    ver: i32,
    sub: String,
    org: i64,
    iat: i64,
    exp: i64,
}

/// HS256 JWTs keyed by the bytes of `JWT_SECRET`; every other algorithm (and `none`) is refused.
pub struct JwtCodec {
    enc: EncodingKey,
    dec: DecodingKey,
}

impl JwtCodec {
    /// A codec over this secret.
    pub fn new(secret: &[u8]) -> Self {
        Self {
            enc: EncodingKey::from_secret(secret),
            dec: DecodingKey::from_secret(secret),
        }
    }
}

impl TokenCodec for JwtCodec {
    fn issue(&self, c: &Claims) -> anyhow::Result<String> {
        let claims = JwtClaims {
            jti: c.token_id.clone(),
            ver: c.version,
            sub: c.user_id.to_string(),
            org: c.org_id.0,
            iat: c.issued_at,
            exp: c.expires_at,
        };
        Ok(encode(&Header::new(JwtAlg::HS256), &claims, &self.enc)?)
    }

    fn decode(&self, token: &str, now: i64) -> Result<Claims, TokenError> {
        let mut v = Validation::new(JwtAlg::HS256);
        v.algorithms = vec![JwtAlg::HS256];
        v.leeway = 0;
        v.validate_exp = false; // checked below against the domain clock
        v.set_required_spec_claims(&["exp", "sub", "iat"]);
        let data = decode::<JwtClaims>(token, &self.dec, &v).map_err(|_| TokenError::Invalid)?;
        let c = data.claims;
        if c.exp <= now {
            return Err(TokenError::Invalid);
        }
        let user_id = c
            .sub
            .parse()
            .map(kernel::UserId)
            .map_err(|_| TokenError::Invalid)?;
        Ok(Claims {
            token_id: c.jti,
            version: c.ver,
            user_id,
            org_id: kernel::OrgId(c.org),
            issued_at: c.iat,
            expires_at: c.exp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn claims(exp: i64) -> Claims {
        Claims {
            token_id: "abc".into(),
            version: 3,
            user_id: kernel::UserId(5),
            org_id: kernel::OrgId(2),
            issued_at: 1000,
            expires_at: exp,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn round_trip_and_expiry() {
        let codec = JwtCodec::new(SECRET);
        let t = codec.issue(&claims(2000)).unwrap();
        assert_eq!(codec.decode(&t, 1500).unwrap(), claims(2000));
        assert_eq!(codec.decode(&t, 2000), Err(TokenError::Invalid));
    }

    #[test]
    fn refuses_wrong_key_alg_none_other_alg_and_changed_payload() {
        let codec = JwtCodec::new(SECRET);
        let other = JwtCodec::new(b"another secret of enough length!!");
        let t = other.issue(&claims(i64::MAX / 2)).unwrap();
        assert!(codec.decode(&t, 0).is_err(), "wrong key");

        let payload = serde_json::json!({"jti":"abc","ver":3,"sub":"5","org":2,"iat":1000,"exp":i64::MAX / 2});
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg":"none","typ":"JWT"})),
            b64(&payload)
        );
        assert!(codec.decode(&none, 0).is_err(), "alg none");

        let hs512 = encode(
            &Header::new(JwtAlg::HS512),
            &payload,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(codec.decode(&hs512, 0).is_err(), "other algorithm");

        let good = codec.issue(&claims(i64::MAX / 2)).unwrap();
        let parts: Vec<&str> = good.split('.').collect();
        let changed = serde_json::json!({"jti":"abc","ver":3,"sub":"6","org":2,"iat":1000,"exp":i64::MAX / 2});
        let forged = format!("{}.{}.{}", parts[0], b64(&changed), parts[2]);
        assert!(codec.decode(&forged, 0).is_err(), "changed payload");
    }

    #[tokio::test]
    async fn argon2_verifies_and_unknown_user_fails() {
        let h = Argon2Hasher::with_params(1024, 1, 1).unwrap();
        let hash = h.hash("s3cret-pass").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(h.verify("s3cret-pass", Some(hash.clone())).await);
        assert!(!h.verify("wrong", Some(hash)).await);
        assert!(!h.verify("dummy password for unknown users", None).await);
    }
}
