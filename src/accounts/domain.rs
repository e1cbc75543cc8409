//! Validated account input: parse at the edge, trust inside. Each type has a private field and
//! a `parse` that is the only way to build one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A syntactically valid email address, lower-cased so that lookups and the unique key agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` shapes: one `@`, a non-empty local part of at most 64
    /// printable characters, and a domain of dot-separated labels (letters, digits, hyphens,
    /// no leading or trailing hyphen) with at least two labels; 254 characters at most.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.trim().to_lowercase();
        let invalid = || format!("{:?} is not a valid email address", raw.trim());
        if email.is_empty() || email.len() > 254 {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Self(email))
        } else {
            Err(invalid())
        }
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A password that meets the policy; never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Shortest accepted password, in characters.
    pub const MIN_CHARS: usize = 10;
    /// Longest accepted password: hashing cost must stay bounded whatever a client sends.
    pub const MAX_CHARS: usize = 1024;

    /// Checks the length policy.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < Self::MIN_CHARS {
            return Err(format!(
                "password must be at least {} characters",
                Self::MIN_CHARS
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(format!(
                "password must be at most {} characters",
                Self::MAX_CHARS
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The password's bytes, for hashing.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// The name shown to other users: trimmed, 1–64 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Longest accepted display name, in characters.
    pub const MAX_CHARS: usize = 64;

    /// Trims and checks length and characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        let n = name.chars().count();
        if n == 0 {
            return Err("display_name must not be empty".into());
        }
        if n > Self::MAX_CHARS {
            return Err(format!(
                "display_name must be at most {} characters",
                Self::MAX_CHARS
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("display_name must not contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// What a user may do. Instructors also act as experts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Buys courses, joins classes, books experts.
    Learner,
    /// Creates courses, runs live sessions, offers consultations.
    Instructor,
    /// Reviews courses, refunds, manages users.
    Admin,
}

impl Role {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Learner => "learner",
            Self::Instructor => "instructor",
            Self::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "learner" => Ok(Self::Learner),
            "instructor" => Ok(Self::Instructor),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "{other:?} is not a role (learner, instructor, admin)"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse("  Ada@Example.ORG ").unwrap().as_ref(),
            "ada@example.org"
        );
        assert!(Email::parse("first.last+tag@sub.example.co.uk").is_ok());
    }

    #[test]
    fn malformed_emails_are_rejected() {
        for bad in [
            "",
            "plain",
            "@example.org",
            "a@",
            "a@b",
            "a@@b.org",
            "a b@c.org",
            "a@-b.org",
            "a@b-.org",
            "a@b..org",
            ".a@b.org",
            "a..b@c.org",
            "a\n@b.org",
            "<script>@x.org",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long_local = format!("{}@x.org", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
    }

    #[test]
    fn password_policy() {
        assert!(Password::parse("123456789").is_err());
        assert!(Password::parse("1234567890").is_ok());
        assert!(
            Password::parse("ééééééééééé").is_ok(),
            "counts characters, not bytes"
        );
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("1234567890").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn display_names() {
        assert_eq!(DisplayName::parse("  Ada ").unwrap().as_ref(), "Ada");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(64)).is_ok());
        assert!(DisplayName::parse(&"x".repeat(65)).is_err());
        assert!(DisplayName::parse("bell\u{7}").is_err());
    }

    #[test]
    fn roles_round_trip() {
        for role in [Role::Learner, Role::Instructor, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!("root".parse::<Role>().is_err());
    }
}
