//! Signed links and per-page tokens (pure).
//!
//! A link is `<id>.<expires>.<signature>`: `id` names the approval (an
//! HMAC of its task token, so a redelivered request gets the same id and
//! nobody without the key can make one), `expires` is when the approval
//! times out (epoch seconds), and `signature` an HMAC-SHA256 of both. It is
//! unguessable, cannot be altered or extended, and grants only the one
//! approval it names. The page's form carries a second HMAC of the id (the
//! per-page token), so a decision is a POST only that page can make.
//!
//! The three HMAC keys are derived from the one secret (HKDF-SHA256, RFC
//! 5869) given by `CPSF_APPROVAL_KEY`; never from the deploy input.

use aws_lc_rs::{constant_time, hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The secret must carry at least 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

pub struct Keys {
    id: hmac::Key,
    link: hmac::Key,
    page: hmac::Key,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(..)")
    }
}

/// Why a link opens nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a link this worker signed, or altered since.
    Tampered,
    /// Signed, but its approval timed out at `at` (epoch seconds).
    Expired { at: u64 },
}

/// What a sound link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: String,
    pub expires_at: u64,
}

struct Len;

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        32
    }
}

impl Keys {
    /// The keys from the secret's bytes, or why they cannot be.
    pub fn from_secret(secret: &[u8]) -> Result<Keys, String> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(format!(
                "the approval key is {} bytes; it must be at least {MIN_SECRET_BYTES} random \
                 bytes (e.g. `openssl rand -base64 48`)",
                secret.len()
            ));
        }
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"cpsf approval v1").extract(secret);
        let derive = |info: &[u8]| -> Result<hmac::Key, String> {
            let mut bytes = [0u8; 32];
            prk.expand(&[info], Len)
                .and_then(|okm| okm.fill(&mut bytes))
                .map_err(|_| "could not derive the approval keys".to_string())?;
            Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
        };
        Ok(Keys {
            id: derive(b"id")?,
            link: derive(b"link")?,
            page: derive(b"page")?,
        })
    }

    /// The approval id of a task token: the same token, the same id.
    pub fn id_of(&self, task_token: &str) -> String {
        let tag = hmac::sign(&self.id, task_token.as_bytes());
        URL_SAFE_NO_PAD.encode(&tag.as_ref()[..18])
    }

    /// The link path segment for approval `id`, valid until `expires_at`.
    pub fn link(&self, id: &str, expires_at: u64) -> String {
        let signed = format!("{id}.{expires_at}");
        let tag = hmac::sign(&self.link, signed.as_bytes());
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// What `link` names, if this worker signed it and it has not expired
    /// at `now`.
    pub fn open(&self, link: &str, now: u64) -> Result<Opened, Refused> {
        let mut parts = link.rsplitn(2, '.');
        let (Some(signature), Some(signed)) = (parts.next(), parts.next()) else {
            return Err(Refused::Tampered);
        };
        let tag = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| Refused::Tampered)?;
        hmac::verify(&self.link, signed.as_bytes(), &tag).map_err(|_| Refused::Tampered)?;
        let (id, expires) = signed.split_once('.').ok_or(Refused::Tampered)?;
        let expires_at: u64 = expires.parse().map_err(|_| Refused::Tampered)?;
        if now >= expires_at {
            return Err(Refused::Expired { at: expires_at });
        }
        Ok(Opened {
            id: id.to_string(),
            expires_at,
        })
    }

    /// The per-page token the form of approval `id` carries.
    pub fn page_token(&self, id: &str) -> String {
        let tag = hmac::sign(&self.page, format!("page|{id}").as_bytes());
        URL_SAFE_NO_PAD.encode(tag.as_ref())
    }

    /// Whether `token` is approval `id`'s page token (in constant time).
    pub fn page_token_is(&self, id: &str, token: &str) -> bool {
        constant_time::verify_slices_are_equal(self.page_token(id).as_bytes(), token.as_bytes())
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::from_secret(&[7u8; 32]).unwrap()
    }

    #[test]
    fn a_link_opens_its_approval_until_it_expires() {
        let keys = keys();
        let id = keys.id_of("token-1");
        assert_eq!(id, keys.id_of("token-1"), "the same token, the same id");
        assert_ne!(id, keys.id_of("token-2"));
        assert!(!id.contains("token"), "the id shows nothing of the token");
        let link = keys.link(&id, 1000);
        assert_eq!(
            keys.open(&link, 999),
            Ok(Opened {
                id: id.clone(),
                expires_at: 1000
            })
        );
        assert_eq!(keys.open(&link, 1000), Err(Refused::Expired { at: 1000 }));
    }

    #[test]
    fn an_altered_or_foreign_link_is_tampered() {
        let keys = keys();
        let id = keys.id_of("token-1");
        let link = keys.link(&id, 1000);
        let other = keys.link(&keys.id_of("token-2"), 1000);
        let signature = link.rsplit('.').next().unwrap();
        for forged in [
            link.replace(".1000.", ".9999."),
            format!("{}.1000.{signature}", keys.id_of("token-2")),
            format!("{link}x"),
            "nonsense".to_string(),
            String::new(),
            format!("{id}.1000"),
        ] {
            assert_eq!(keys.open(&forged, 10), Err(Refused::Tampered), "{forged}");
        }
        assert!(keys.open(&other, 10).is_ok());
        let stranger = Keys::from_secret(&[8u8; 32]).unwrap();
        assert_eq!(stranger.open(&link, 10), Err(Refused::Tampered));
    }

    #[test]
    fn a_page_token_belongs_to_its_approval() {
        let keys = keys();
        let token = keys.page_token("a");
        assert!(keys.page_token_is("a", &token));
        assert!(!keys.page_token_is("b", &token));
        assert!(!keys.page_token_is("a", ""));
        assert!(
            Keys::from_secret(b"short")
                .unwrap_err()
                .contains("at least 32")
        );
    }
}
