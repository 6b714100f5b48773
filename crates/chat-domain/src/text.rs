//! Validated text values: each `parse` returns a value that is valid by construction.
//!
//! `from_stored` constructors exist for storage adapters reading back what a `parse` produced
//! earlier; they do not validate again.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use crate::error::Error;

/// Most characters (Unicode scalar values) a message may hold as sent, before sanitizing.
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// Most characters a chat name may hold after trimming.
pub const MAX_CHAT_NAME_CHARS: usize = 100;
/// Most characters a client-chosen message id may hold.
pub const MAX_CLIENT_ID_CHARS: usize = 128;
/// Most characters a username may hold after trimming.
pub const MAX_USERNAME_CHARS: usize = 64;
/// Least characters a new password (one being registered) must hold. Accounts made under an
/// older, shorter rule still sign in: login checks only [`MAX_PASSWORD_CHARS`].
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Most characters a password may hold, new or presented at login; it bounds hashing work.
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Most characters an email address may hold.
pub const MAX_EMAIL_CHARS: usize = 254;
/// Most characters a user search may hold after trimming.
pub const MAX_SEARCH_CHARS: usize = 100;

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static SANITIZER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    SANITIZER.get_or_init(|| {
        // No tag survives; the contents of script and style go with their tags; what is left is
        // serialized as HTML text, which escapes `&`, `<` and `>`.
        let mut builder = ammonia::Builder::empty();
        builder.clean_content_tags(HashSet::from(["script", "style"]));
        builder
    })
}

/// The only characters that parsing and serializing change in text outside tags: markup and
/// references (`<`, `&`), what the serializer escapes (`>`, no-break space), what the parser
/// drops or rewrites (NUL, carriage return, a leading byte order mark).
fn changes_in_html(c: char) -> bool {
    matches!(c, '<' | '>' | '&' | '\0' | '\r' | '\u{a0}' | '\u{feff}')
}

/// Removes every HTML tag (and the contents of `script` and `style`), then HTML-escapes the rest.
/// Text without any character that HTML changes comes back as it is, without the parse (most
/// messages: the parse was a few percent of a send's CPU).
pub fn sanitize_html(input: &str) -> String {
    if !input.contains(changes_in_html) {
        return input.to_owned();
    }
    sanitizer().clean(input).to_string()
}

/// Message text as stored: at most [`MAX_MESSAGE_CHARS`] characters as sent, sanitized, not blank.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        if raw.chars().count() > MAX_MESSAGE_CHARS {
            return Err(Error::invalid(format!("text must be at most {MAX_MESSAGE_CHARS} characters")));
        }
        let clean = sanitize_html(raw);
        if clean.trim().is_empty() {
            return Err(Error::invalid("text must not be empty"));
        }
        Ok(Self(clean))
    }

    pub fn from_stored(text: String) -> Self {
        Self(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A chat's display name: trimmed, sanitized like message text, 1 to [`MAX_CHAT_NAME_CHARS`]
/// characters.
#[derive(Clone, PartialEq, Eq)]
pub struct ChatName(String);

impl ChatName {
    /// Returns `None` for a name that is blank after trimming (an unnamed chat).
    pub fn parse(raw: &str) -> Result<Option<Self>, Error> {
        let trimmed = raw.trim();
        if trimmed.chars().count() > MAX_CHAT_NAME_CHARS {
            return Err(Error::invalid(format!("name must be at most {MAX_CHAT_NAME_CHARS} characters")));
        }
        let clean = sanitize_html(trimmed);
        let clean = clean.trim();
        if clean.is_empty() {
            return Ok(None);
        }
        Ok(Some(Self(clean.to_owned())))
    }

    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client-chosen id that makes retries of one send idempotent (unique per sender).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let count = raw.chars().count();
        if count == 0 || count > MAX_CLIENT_ID_CHARS {
            return Err(Error::invalid(format!("clientId must be 1 to {MAX_CLIENT_ID_CHARS} characters")));
        }
        if raw.chars().any(char::is_control) {
            return Err(Error::invalid("clientId must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, trimmed and lowercased; unique among users.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let email = raw.trim().to_lowercase();
        let invalid = || Error::invalid("email must be an email");
        if email.chars().count() > MAX_EMAIL_CHARS {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..");
        let chars_ok = !email.chars().any(|c| c.is_whitespace() || c.is_control() || "<>(),;:\\\"[]".contains(c));
        if local.is_empty() || !domain_ok || !chars_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn from_stored(email: String) -> Self {
        Self(email)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A display name: trimmed, 1 to [`MAX_USERNAME_CHARS`] characters, no control characters, no
/// markup.
#[derive(Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let name = raw.trim();
        let count = name.chars().count();
        if count == 0 || count > MAX_USERNAME_CHARS {
            return Err(Error::invalid(format!("username must be 1 to {MAX_USERNAME_CHARS} characters")));
        }
        if name.chars().any(|c| c.is_control() || c == '<' || c == '>' || c == '&') {
            return Err(Error::invalid("username must not contain control characters or markup"));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text password on its way to the hasher; never stored, never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// A new password, as registration takes it: [`MIN_PASSWORD_CHARS`] to
    /// [`MAX_PASSWORD_CHARS`] characters.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let count = raw.chars().count();
        if count < MIN_PASSWORD_CHARS {
            return Err(Error::invalid(format!("password must be at least {MIN_PASSWORD_CHARS} characters")));
        }
        if count > MAX_PASSWORD_CHARS {
            return Err(Error::invalid(format!("password must be at most {MAX_PASSWORD_CHARS} characters")));
        }
        Ok(Self(raw.to_owned()))
    }

    /// A password presented at login: anything non-empty up to [`MAX_PASSWORD_CHARS`], so that
    /// accounts registered under an older, shorter minimum keep signing in.
    pub fn presented(raw: &str) -> Result<Self, Error> {
        let count = raw.chars().count();
        if count == 0 {
            return Err(Error::invalid("password must not be empty"));
        }
        if count > MAX_PASSWORD_CHARS {
            return Err(Error::invalid(format!("password must be at most {MAX_PASSWORD_CHARS} characters")));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

macro_rules! debug_display {
    ($($t:ty),*) => {$(
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { fmt::Debug::fmt(&self.0, f) }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(&self.0) }
        }
    )*};
}
debug_display!(MessageText, ChatName, ClientId, Email, Username);

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn text_that_html_leaves_alone_skips_the_parse_with_the_same_result() {
        // Everything but the characters HTML changes, including what looks close to them.
        let alphabet: Vec<char> = "aZ09 \t\n\x0b\x0c\"'=/;#!?`~\\{}[]()|*%$@^_-+.,:é漢👍\u{200b}\u{2028}\u{fffd}\u{fffe}\u{1}\u{7f}\u{85}\u{300}"
            .chars()
            .collect();
        let mut rng = rand::thread_rng();
        for round in 0..2000 {
            let len = rng.gen_range(0..40);
            let text: String = (0..len).map(|_| alphabet[rng.gen_range(0..alphabet.len())]).collect();
            assert_eq!(sanitize_html(&text), sanitizer().clean(&text).to_string(), "round {round}: {text:?}");
        }
        // Each character that HTML changes, alone and inside text, still goes through ammonia.
        for special in ['<', '>', '&', '\0', '\r', '\u{a0}', '\u{feff}'] {
            for text in [special.to_string(), format!("{special}a b"), format!("a{special}b{special}")] {
                assert_eq!(sanitize_html(&text), sanitizer().clean(&text).to_string(), "{text:?}");
            }
        }
    }

    #[test]
    fn strips_tags_and_escapes_the_rest() {
        let t = MessageText::parse("<b>hi</b> & <i>you</i>").unwrap();
        assert_eq!(t.as_str(), "hi &amp; you");
        let t = MessageText::parse("a < b > c").unwrap();
        assert_eq!(t.as_str(), "a &lt; b &gt; c");
    }

    #[test]
    fn removes_script_and_style_with_their_contents() {
        let t = MessageText::parse("x<script>alert(1)</script><style>p{}</style>y").unwrap();
        assert_eq!(t.as_str(), "xy");
        let t = MessageText::parse("<img src=x onerror=alert(1)>ok").unwrap();
        assert_eq!(t.as_str(), "ok");
    }

    #[test]
    fn rejects_text_that_is_blank_after_sanitizing() {
        for raw in ["", "   ", "<b></b>", "<script>x</script>", "\n\t<br/>"] {
            assert!(MessageText::parse(raw).is_err(), "{raw:?}");
        }
    }

    #[test]
    fn counts_characters_not_bytes() {
        let max = "é".repeat(MAX_MESSAGE_CHARS);
        assert!(MessageText::parse(&max).is_ok());
        let over = "a".repeat(MAX_MESSAGE_CHARS + 1);
        assert!(MessageText::parse(&over).is_err());
    }

    #[test]
    fn email_is_normalized_and_checked() {
        assert_eq!(Email::parse("  Alice@Example.COM ").unwrap().as_str(), "alice@example.com");
        for bad in ["", "alice", "a@", "@b.c", "a@b", "a b@c.d", "a@b..c", "a@@b.c"] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn username_and_password_bounds() {
        assert!(Username::parse("  alice ").is_ok());
        assert!(Username::parse("   ").is_err());
        assert!(Username::parse("<b>x</b>").is_err());
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::presented("123456").is_ok(), "older accounts keep signing in");
        assert!(Password::presented("").is_err());
        assert!(Password::presented(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }

    #[test]
    fn chat_name_blank_means_unnamed() {
        assert_eq!(ChatName::parse("  ").unwrap(), None);
        assert_eq!(ChatName::parse(" <b>Team</b> ").unwrap().unwrap().as_str(), "Team");
        assert!(ChatName::parse(&"x".repeat(101)).is_err());
    }

    #[test]
    fn limit_messages_name_their_constant() {
        let too_long = MessageText::parse(&"a".repeat(MAX_MESSAGE_CHARS + 1)).unwrap_err();
        assert_eq!(too_long, Error::invalid("text must be at most 10000 characters"));
        let too_short = Password::parse("1234567").unwrap_err();
        assert_eq!(too_short, Error::invalid("password must be at least 8 characters"));
    }

    #[test]
    fn client_id_bounds() {
        assert!(ClientId::parse("abc-123").is_ok());
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"x".repeat(129)).is_err());
    }
}
