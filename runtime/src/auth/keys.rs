//! The keys bearer tokens are checked with: the `jwt_keys` configuration
//! entries (`plinth.yaml` or `PLINTH_JWT_KEYS`) and loading them from their
//! files at startup.

use std::path::{Path, PathBuf};

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

/// The shortest accepted HS256 secret, in bytes (256 bits, as RFC 7518 §3.2 asks).
const MIN_SECRET_BYTES: usize = 32;

/// A signing algorithm Plinth accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256; the key is an RSA public key.
    RS256,
    /// ECDSA on P-256 with SHA-256; the key is a P-256 public key.
    ES256,
    /// Ed25519 signatures; the key is an Ed25519 public key.
    EdDSA,
    /// HMAC with SHA-256; the key is a shared secret.
    HS256,
}

impl JwtAlgorithm {
    /// The `jsonwebtoken` algorithm.
    fn algorithm(self) -> Algorithm {
        match self {
            JwtAlgorithm::RS256 => Algorithm::RS256,
            JwtAlgorithm::ES256 => Algorithm::ES256,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
            JwtAlgorithm::HS256 => Algorithm::HS256,
        }
    }
}

/// One entry of `jwt_keys`: a key (or a JWKS file of keys) tied to an issuer.
/// Exactly one of `pem`, `secret_file` and `jwks` is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyConfig {
    /// The issuer (`iss`) whose tokens this key checks.
    pub issuer: String,
    /// The algorithm; required with `pem` and `secret_file`. With `jwks` it
    /// overrides each key's `alg`.
    #[serde(default)]
    pub algorithm: Option<JwtAlgorithm>,
    /// The key id (`kid`): when set, only tokens whose header names this kid
    /// are checked with the key (with `jwks`: only the key with this kid is used).
    #[serde(default)]
    pub kid: Option<String>,
    /// A PEM file holding the public key (RS256, ES256, EdDSA).
    #[serde(default)]
    pub pem: Option<PathBuf>,
    /// A file holding the shared secret (HS256), at least 32 bytes; one
    /// trailing newline is ignored.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// A JSON Web Key Set file (`{"keys": [...]}`).
    #[serde(default)]
    pub jwks: Option<PathBuf>,
    /// Accepted audiences: when given, tokens must carry an `aud` naming one.
    #[serde(default, deserialize_with = "one_or_many")]
    pub audience: Vec<String>,
}

/// A string or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

impl JwtKeyConfig {
    /// What is wrong with the entry's shape (before any file is read).
    pub(crate) fn problem(&self) -> Option<String> {
        let sources = [
            self.pem.is_some(),
            self.secret_file.is_some(),
            self.jwks.is_some(),
        ];
        if self.issuer.trim().is_empty() {
            return Some("`issuer` must name the token issuer".into());
        }
        if sources.iter().filter(|set| **set).count() != 1 {
            return Some("set exactly one of `pem`, `secret_file` and `jwks`".into());
        }
        match (self.algorithm, self.jwks.is_some()) {
            (None, false) => Some("`algorithm` (RS256, ES256, EdDSA or HS256) is required".into()),
            (Some(JwtAlgorithm::HS256), _) if self.pem.is_some() => {
                Some("HS256 takes a `secret_file`, not a `pem`".into())
            }
            (Some(algorithm), _)
                if algorithm != JwtAlgorithm::HS256 && self.secret_file.is_some() =>
            {
                Some(format!(
                    "{algorithm:?} takes a `pem` public key, not a `secret_file`"
                ))
            }
            _ => None,
        }
    }
}

/// Why the configured keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// A key file could not be read.
    #[error("jwt_keys[{index}]: cannot read {path}: {source}")]
    Read {
        /// The entry.
        index: usize,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A key file's contents are not a usable key.
    #[error("jwt_keys[{index}]: {path} is not a usable key: {reason}")]
    Invalid {
        /// The entry.
        index: usize,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// One key ready for checking tokens.
pub(crate) struct Key {
    pub(crate) issuer: String,
    pub(crate) kid: Option<String>,
    pub(crate) algorithm: Algorithm,
    pub(crate) decoding: DecodingKey,
    pub(crate) audience: Vec<String>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// Load every configured key from its file.
pub(crate) fn load(entries: &[JwtKeyConfig]) -> Result<Vec<Key>, KeyError> {
    let mut keys = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| KeyError::Read {
                index,
                path: path.to_path_buf(),
                source,
            })
        };
        let invalid = |path: &Path, reason: String| KeyError::Invalid {
            index,
            path: path.to_path_buf(),
            reason,
        };
        let key = |algorithm: Algorithm, decoding: DecodingKey, kid: Option<String>| Key {
            issuer: entry.issuer.clone(),
            kid,
            algorithm,
            decoding,
            audience: entry.audience.clone(),
        };
        if let (Some(path), Some(algorithm)) = (&entry.pem, entry.algorithm) {
            let bytes = read(path)?;
            let decoding = match algorithm {
                JwtAlgorithm::RS256 => DecodingKey::from_rsa_pem(&bytes),
                JwtAlgorithm::ES256 => DecodingKey::from_ec_pem(&bytes),
                JwtAlgorithm::EdDSA => DecodingKey::from_ed_pem(&bytes),
                JwtAlgorithm::HS256 => {
                    return Err(invalid(path, "HS256 keys are secrets, not PEM".into()));
                }
            }
            .map_err(|error| invalid(path, format!("not a {algorithm:?} public key ({error})")))?;
            keys.push(key(algorithm.algorithm(), decoding, entry.kid.clone()));
        } else if let Some(path) = &entry.secret_file {
            let mut secret = read(path)?;
            if secret.last() == Some(&b'\n') {
                secret.pop();
                if secret.last() == Some(&b'\r') {
                    secret.pop();
                }
            }
            if secret.len() < MIN_SECRET_BYTES {
                return Err(invalid(
                    path,
                    format!("an HS256 secret needs at least {MIN_SECRET_BYTES} bytes"),
                ));
            }
            let decoding = DecodingKey::from_secret(&secret)
                .map_err(|error| invalid(path, error.to_string()))?;
            keys.push(key(Algorithm::HS256, decoding, entry.kid.clone()));
        } else if let Some(path) = &entry.jwks {
            let set: JwkSet = serde_json::from_slice(&read(path)?)
                .map_err(|error| invalid(path, format!("not a JWKS document ({error})")))?;
            let before = keys.len();
            for jwk in &set.keys {
                let kid = jwk.common.key_id.clone();
                if entry.kid.is_some() && kid != entry.kid {
                    continue;
                }
                // Encryption keys and algorithms Plinth does not accept are
                // skipped: a provider's set may hold them beside its signing keys.
                if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                    continue;
                }
                let Some(algorithm) = entry
                    .algorithm
                    .map(JwtAlgorithm::algorithm)
                    .or_else(|| jwk_algorithm(jwk))
                else {
                    tracing::warn!(
                        index,
                        kid = kid.as_deref().unwrap_or("(none)"),
                        "jwt_keys: skipping a JWKS key of an algorithm other than RS256, ES256, EdDSA or HS256"
                    );
                    continue;
                };
                let decoding = DecodingKey::from_jwk(jwk)
                    .map_err(|error| invalid(path, format!("key {kid:?}: {error}")))?;
                keys.push(key(algorithm, decoding, kid));
            }
            if keys.len() == before {
                return Err(invalid(
                    path,
                    "the set holds no signing key of RS256, ES256, EdDSA or HS256 (matching `kid`)"
                        .into(),
                ));
            }
        }
    }
    Ok(keys)
}

/// The algorithm of a JWK: its `alg`, else what its key type implies.
fn jwk_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    match jwk.common.key_algorithm {
        Some(KeyAlgorithm::RS256) => return Some(Algorithm::RS256),
        Some(KeyAlgorithm::ES256) => return Some(Algorithm::ES256),
        Some(KeyAlgorithm::EdDSA) => return Some(Algorithm::EdDSA),
        Some(KeyAlgorithm::HS256) => return Some(Algorithm::HS256),
        Some(_) => return None,
        None => {}
    }
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::OctetKey(_) => Some(Algorithm::HS256),
        _ => None,
    }
}

/// The `jwt_keys` setting: `PLINTH_JWT_KEYS` (a YAML or JSON list of
/// entries) when set, else the file's `jwt_keys`; each entry checked for
/// its shape, a bad one named by its key and index.
pub(crate) fn from_config(
    file: Option<Vec<JwtKeyConfig>>,
    env: Option<String>,
) -> crate::config::ConfigResult<Vec<JwtKeyConfig>> {
    let invalid = |key: String, value: String, reason: String| {
        crate::config::ConfigError::Invalid { key, value, reason }
    };
    let (key, entries) = match env {
        Some(text) => {
            let entries = yaml_serde::from_str::<Vec<JwtKeyConfig>>(&text).map_err(|error| {
                invalid(
                    "PLINTH_JWT_KEYS".into(),
                    text.clone(),
                    format!(
                        "a list of key entries such as \
                         [{{issuer: https://auth.example.com, algorithm: RS256, pem: /keys/rs256.pem}}] ({error})"
                    ),
                )
            })?;
            ("PLINTH_JWT_KEYS", entries)
        }
        None => ("jwt_keys", file.unwrap_or_default()),
    };
    for (index, entry) in entries.iter().enumerate() {
        if let Some(reason) = entry.problem() {
            return Err(invalid(
                format!("{key}[{index}]"),
                format!("{entry:?}"),
                reason,
            ));
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    #[test]
    fn keys_come_from_the_file_or_the_environment() {
        let file = "jwt_keys:\n  - issuer: https://auth.example.com\n    algorithm: RS256\n    kid: k1\n    pem: /keys/rs.pem\n    audience: api\n";
        let config =
            Config::from_sources(Some((Path::new("plinth.yaml"), file)), |_| None).expect("valid");
        assert_eq!(config.jwt_keys.len(), 1);
        assert_eq!(config.jwt_keys[0].kid.as_deref(), Some("k1"));
        assert_eq!(config.jwt_keys[0].audience, vec!["api".to_string()]);

        let env = "[{issuer: internal, algorithm: HS256, secret_file: /run/secret}, \
                   {\"issuer\": \"idp\", \"jwks\": \"/keys/jwks.json\", \"audience\": [\"a\", \"b\"]}]";
        let config = Config::from_sources(Some((Path::new("plinth.yaml"), file)), |key| {
            (key == "PLINTH_JWT_KEYS").then(|| env.to_string())
        })
        .expect("valid");
        assert_eq!(
            config.jwt_keys.len(),
            2,
            "the environment replaces the file"
        );
        assert_eq!(config.jwt_keys[1].audience.len(), 2);
    }

    fn jwks_entry(path: &Path) -> super::JwtKeyConfig {
        super::JwtKeyConfig {
            issuer: "idp".into(),
            algorithm: None,
            kid: None,
            pem: None,
            secret_file: None,
            jwks: Some(path.to_path_buf()),
            audience: Vec::new(),
        }
    }

    #[test]
    fn jwks_files_keep_their_signing_keys_of_accepted_algorithms() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        let k = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
        let set = serde_json::json!({"keys": [
            {"kty": "oct", "k": k, "alg": "HS256", "kid": "h1"},
            {"kty": "oct", "k": k, "alg": "HS384", "kid": "h2"},
            {"kty": "oct", "k": k, "alg": "HS256", "kid": "h3", "use": "enc"},
        ]});
        std::fs::write(&path, set.to_string()).unwrap();
        let keys = super::load(&[jwks_entry(&path)]).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid.as_deref(), Some("h1"));
        assert_eq!(keys[0].algorithm, jsonwebtoken::Algorithm::HS256);

        std::fs::write(
            &path,
            r#"{"keys": [{"kty": "oct", "k": "AA", "alg": "HS512"}]}"#,
        )
        .unwrap();
        let error = super::load(&[jwks_entry(&path)]).unwrap_err();
        assert!(error.to_string().contains("jwt_keys[0]"), "{error}");
        std::fs::write(&path, "not json").unwrap();
        assert!(super::load(&[jwks_entry(&path)]).is_err());
        let missing = jwks_entry(&dir.path().join("missing.json"));
        let error = super::load(&[missing.clone(), missing]).unwrap_err();
        assert!(error.to_string().contains("cannot read"), "{error}");
    }

    #[test]
    fn short_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "too short\n").unwrap();
        let entry = super::JwtKeyConfig {
            algorithm: Some(super::JwtAlgorithm::HS256),
            secret_file: Some(path),
            jwks: None,
            ..jwks_entry(dir.path())
        };
        let error = super::load(&[entry]).unwrap_err();
        assert!(error.to_string().contains("at least 32 bytes"), "{error}");
    }

    #[test]
    fn bad_entries_name_their_key_and_index() {
        let cases = [
            ("[{issuer: a, algorithm: RS256}]", "PLINTH_JWT_KEYS[0]"),
            ("[{issuer: a, pem: /k.pem}]", "PLINTH_JWT_KEYS[0]"),
            (
                "[{issuer: a, algorithm: HS256, pem: /k.pem}]",
                "PLINTH_JWT_KEYS[0]",
            ),
            (
                "[{issuer: a, algorithm: ES256, secret_file: /s}]",
                "PLINTH_JWT_KEYS[0]",
            ),
            (
                "[{issuer: a, algorithm: RS256, pem: /a, jwks: /b}]",
                "PLINTH_JWT_KEYS[0]",
            ),
            (
                "[{issuer: a, jwks: /b}, {issuer: '', jwks: /b}]",
                "PLINTH_JWT_KEYS[1]",
            ),
            ("[{issuer: a, algorithm: none, pem: /a}]", "PLINTH_JWT_KEYS"),
            (
                "[{issuer: a, algorithm: RS256, pem: /a, colour: red}]",
                "PLINTH_JWT_KEYS",
            ),
            ("issuer=a", "PLINTH_JWT_KEYS"),
        ];
        for (value, key) in cases {
            let error = Config::from_sources(None, |k| {
                (k == "PLINTH_JWT_KEYS").then(|| value.to_string())
            })
            .expect_err(value);
            assert!(error.to_string().contains(key), "{value}: {error}");
        }
        let error = Config::from_sources(
            Some((Path::new("plinth.yaml"), "jwt_keys:\n  - issuer: a\n")),
            |_| None,
        )
        .expect_err("no key source");
        assert!(error.to_string().contains("jwt_keys[0]"), "{error}");
    }
}
