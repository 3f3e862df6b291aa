//! The ACME protocol's requests (RFC 8555 §6): JWS-signed POSTs with an ES256 account key
//! (ring, already linked), nonces (`badNonce` retried, §6.5: pebble rejects 5 % of them on
//! purpose), and the directory.
//!
//! Why by hand, not instant-acme: measured on the static x86-64 musl binary, instant-acme
//! (default features off) with its serde types took ~135 KB, and the ACME client with it
//! 299 KB, more than the ~265 KB left under 10 MB; by hand it is 164 KB in all (numbers in
//! `docs/decisions.md`). The few requests homedrop makes need only serde_json's `Value`,
//! base64, ring and sha2, all linked already.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING as ES256};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::client::{Client, Response};

/// An account key (P-256) with its JWK and thumbprint (RFC 7638).
pub struct AccountKey {
    pair: EcdsaKeyPair,
    pub pkcs8: Vec<u8>,
    jwk: Value,
    thumbprint: String,
}

impl AccountKey {
    pub fn generate() -> Result<AccountKey, String> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ES256, &SystemRandom::new())
            .map_err(|_| "cannot generate an account key")?;
        AccountKey::from_pkcs8(pkcs8.as_ref())
    }

    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<AccountKey, String> {
        let pair = EcdsaKeyPair::from_pkcs8(&ES256, pkcs8, &SystemRandom::new())
            .map_err(|e| format!("the ACME account key is unusable: {e}"))?;
        // An uncompressed point: 0x04, x (32 bytes), y (32 bytes).
        let point = pair.public_key().as_ref();
        let (x, y) = (B64.encode(&point[1..33]), B64.encode(&point[33..65]));
        // RFC 7638 §3: the required members in lexicographic order, no spaces.
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        Ok(AccountKey {
            thumbprint: B64.encode(Sha256::digest(canonical.as_bytes())),
            jwk: json!({"crv": "P-256", "kty": "EC", "x": x, "y": y}),
            pkcs8: pkcs8.to_vec(),
            pair,
        })
    }

    /// A challenge's key authorization (RFC 8555 §8.1): `token.thumbprint`.
    pub fn key_authorization(&self, token: &str) -> String {
        format!("{token}.{}", self.thumbprint)
    }
}

/// A conversation with one ACME server under one account key.
pub struct Session {
    pub client: Client,
    pub key: AccountKey,
    /// The account URL (`kid`), once the account exists.
    pub kid: Option<String>,
    pub directory: Value,
    nonce: Option<String>,
}

/// A URL named by the directory.
pub fn dir_url<'a>(directory: &'a Value, name: &str) -> Result<&'a str, String> {
    directory[name]
        .as_str()
        .ok_or_else(|| format!("the ACME directory has no {name}"))
}

impl Session {
    /// Reads the directory at `url`.
    pub async fn open(client: Client, key: AccountKey, url: &str) -> Result<Session, String> {
        let directory = client
            .get_json(url)
            .await
            .map_err(|e| format!("cannot reach the ACME directory: {e}"))?;
        Ok(Session {
            client,
            key,
            kid: None,
            directory,
            nonce: None,
        })
    }

    async fn fresh_nonce(&mut self) -> Result<String, String> {
        if let Some(n) = self.nonce.take() {
            return Ok(n);
        }
        let url = dir_url(&self.directory, "newNonce")?.to_string();
        let rsp = self.client.request("HEAD", &url, None).await?;
        rsp.header("replay-nonce")
            .map(str::to_string)
            .ok_or_else(|| "the ACME server gave no nonce".into())
    }

    /// The JWS (flattened JSON, RFC 7515 §7.2.2) of `payload` (`None`: POST-as-GET).
    fn sign(&self, url: &str, nonce: &str, payload: Option<&Value>) -> Result<Vec<u8>, String> {
        let mut protected = json!({"alg": "ES256", "nonce": nonce, "url": url});
        match &self.kid {
            Some(kid) => protected["kid"] = kid.clone().into(),
            None => protected["jwk"] = self.key.jwk.clone(),
        }
        let protected = B64.encode(protected.to_string());
        let payload = payload.map_or(String::new(), |p| B64.encode(p.to_string()));
        let signing_input = format!("{protected}.{payload}");
        let signature = self
            .key
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .map_err(|_| "cannot sign")?;
        let jws = json!({"protected": protected, "payload": payload,
            "signature": B64.encode(signature.as_ref())});
        Ok(jws.to_string().into_bytes())
    }

    /// A signed POST to `url`; an error response becomes its problem's text (RFC 7807).
    pub async fn post(&mut self, url: &str, payload: Option<&Value>) -> Result<Response, String> {
        for _ in 0..4 {
            let nonce = self.fresh_nonce().await?;
            let body = self.sign(url, &nonce, payload)?;
            let rsp = self
                .client
                .request("POST", url, Some(("application/jose+json", body)))
                .await?;
            self.nonce = rsp.header("replay-nonce").map(str::to_string);
            if rsp.status < 400 {
                return Ok(rsp);
            }
            let problem: Value = serde_json::from_slice(&rsp.body).unwrap_or_default();
            let kind = problem["type"].as_str().unwrap_or("");
            if kind == "urn:ietf:params:acme:error:badNonce" {
                continue;
            }
            let detail = problem["detail"].as_str().unwrap_or("");
            return Err(format!("{} {kind}: {detail}", rsp.status));
        }
        Err("the ACME server refused every nonce (badNonce)".into())
    }

    /// A POST whose answer is JSON.
    pub async fn post_json(&mut self, url: &str, payload: Option<&Value>) -> Result<Value, String> {
        let rsp = self.post(url, payload).await?;
        serde_json::from_slice(&rsp.body).map_err(|e| format!("{url}: {e}"))
    }

    /// Creates (or finds, for the same key) the account (RFC 8555 §7.3); sets `kid`.
    pub async fn register(&mut self, contact: Option<&str>) -> Result<(), String> {
        let url = dir_url(&self.directory, "newAccount")?.to_string();
        let mut payload = json!({"termsOfServiceAgreed": true});
        if let Some(c) = contact {
            payload["contact"] = json!([format!("mailto:{c}")]);
        }
        let rsp = self.post(&url, Some(&payload)).await?;
        let kid = rsp
            .header("location")
            .ok_or("the ACME server gave no account URL")?;
        self.kid = Some(kid.to_string());
        Ok(())
    }
}
