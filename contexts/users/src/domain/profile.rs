use kernel::Currency;
use serde::{Deserialize, Serialize};

/// What the customer is called in the shop. Kept verbatim (any script, emoji,
/// right-to-left text), only trimmed; control characters are refused because
/// they corrupt logs, mails and invoices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("not a valid phone number (use international form, e.g. +34 600 123 456)")]
    Phone,
    #[error("not a valid ISO 3166-1 alpha-2 country code")]
    Country,
    #[error("not a supported language tag (e.g. en, es, de-CH)")]
    Language,
    #[error("not a supported currency")]
    Currency,
    #[error("at most {0} addresses")]
    TooManyAddresses(usize),
}

impl kernel::http::FieldCode for ProfileError {
    fn code(&self) -> &'static str {
        match self {
            ProfileError::Empty => "required",
            ProfileError::TooLong(_) => "too_long",
            ProfileError::ControlCharacters => "control_characters",
            ProfileError::Phone => "invalid_phone",
            ProfileError::Country => "invalid_country",
            ProfileError::Language => "invalid_language",
            ProfileError::Currency => "invalid_currency",
            ProfileError::TooManyAddresses(_) => "too_many",
        }
    }
}

fn has_control_characters(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// Trims and checks a free-text field.
pub fn clean_text(raw: &str, max_chars: usize, required: bool) -> Result<String, ProfileError> {
    let trimmed = raw.trim();
    if required && trimmed.is_empty() {
        return Err(ProfileError::Empty);
    }
    if trimmed.chars().count() > max_chars {
        return Err(ProfileError::TooLong(max_chars));
    }
    if has_control_characters(trimmed) {
        return Err(ProfileError::ControlCharacters);
    }
    Ok(trimmed.to_owned())
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        clean_text(raw, MAX_DISPLAY_NAME_CHARS, true).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_trusted(stored: String) -> Self {
        Self(stored)
    }
}

/// A phone number in E.164 form: `+` and 8 to 15 digits. Spaces, dashes, dots
/// and parentheses typed by people are dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        let compact: String = raw.chars().filter(|c| !" -.()".contains(*c)).collect();
        let digits = compact.strip_prefix('+').ok_or(ProfileError::Phone)?;
        if (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) && !digits.starts_with('0') {
            Ok(Self(compact))
        } else {
            Err(ProfileError::Phone)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A postal address as stored in the profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Address {
    /// The customer's own name for it: "Home", "Office".
    pub label: Option<String>,
    pub recipient: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub postal_code: String,
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

pub const MAX_ADDRESSES: usize = 10;

impl Address {
    /// Checks and normalises every field; the errors name the field.
    pub fn parse(raw: &Address) -> Result<Address, Vec<(&'static str, ProfileError)>> {
        let mut errors = Vec::new();
        let mut required = |field: &'static str, value: &str, max: usize| match clean_text(value, max, true) {
            Ok(text) => text,
            Err(error) => {
                errors.push((field, error));
                String::new()
            }
        };
        let recipient = required("recipient", &raw.recipient, 100);
        let line1 = required("line1", &raw.line1, 200);
        let city = required("city", &raw.city, 100);
        let postal_code = required("postal_code", &raw.postal_code, 20);
        let mut optional = |field: &'static str, value: &Option<String>, max: usize| match value {
            None => None,
            Some(text) => match clean_text(text, max, false) {
                Ok(text) if text.is_empty() => None,
                Ok(text) => Some(text),
                Err(error) => {
                    errors.push((field, error));
                    None
                }
            },
        };
        let label = optional("label", &raw.label, 50);
        let line2 = optional("line2", &raw.line2, 200);
        let region = optional("region", &raw.region, 100);
        let country = raw.country.trim().to_ascii_uppercase();
        if country.len() != 2 || !country.chars().all(|c| c.is_ascii_uppercase()) {
            errors.push(("country", ProfileError::Country));
        }
        if errors.is_empty() {
            Ok(Address { label, recipient, line1, line2, city, postal_code, region, country })
        } else {
            Err(errors)
        }
    }
}

/// A BCP 47 language tag of the simple kind the shop localises to:
/// a two- or three-letter language, optionally a region (`es`, `de-CH`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Language(String);

impl Language {
    pub fn parse(raw: &str) -> Result<Self, ProfileError> {
        let raw = raw.trim();
        let (language, region) = match raw.split_once(['-', '_']) {
            Some((language, region)) => (language, Some(region)),
            None => (raw, None),
        };
        let language_ok = (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_alphabetic());
        let region_ok = region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_alphabetic()));
        if !language_ok || !region_ok {
            return Err(ProfileError::Language);
        }
        Ok(Self(match region {
            Some(region) => format!("{}-{}", language.to_ascii_lowercase(), region.to_ascii_uppercase()),
            None => language.to_ascii_lowercase(),
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub language: Language,
    pub currency: Currency,
    pub marketing_opt_in: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_keep_any_script_but_refuse_control_characters() {
        for name in ["Ana García", "山田太郎", "محمد", "Zoë 🚀", "O'Brien; DROP TABLE accounts;--"] {
            assert_eq!(DisplayName::parse(name).map(|n| n.0), Ok(name.to_owned()));
        }
        assert_eq!(DisplayName::parse("  Ana  ").map(|n| n.0), Ok("Ana".into()));
        assert_eq!(DisplayName::parse("   "), Err(ProfileError::Empty));
        assert_eq!(DisplayName::parse("Ana\u{0007}"), Err(ProfileError::ControlCharacters));
        assert_eq!(DisplayName::parse("line\nbreak"), Err(ProfileError::ControlCharacters));
        assert_eq!(DisplayName::parse(&"é".repeat(101)), Err(ProfileError::TooLong(100)));
    }

    #[test]
    fn phones_are_normalised_to_e164() {
        assert_eq!(Phone::parse("+34 600-123.456").map(|p| p.0), Ok("+34600123456".into()));
        for bad in ["600123456", "+0123456789", "+12", "+34 600 ABC 456", "+1234567890123456"] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn languages_are_canonicalised() {
        assert_eq!(Language::parse("de_ch").map(|l| l.0), Ok("de-CH".into()));
        assert_eq!(Language::parse("ES").map(|l| l.0), Ok("es".into()));
        assert!(Language::parse("english").is_err());
        assert!(Language::parse("e1").is_err());
    }

    #[test]
    fn addresses_report_every_bad_field() {
        let raw = Address {
            label: Some(" Home ".into()),
            recipient: "Ana".into(),
            line1: "".into(),
            line2: Some("  ".into()),
            city: "Madrid".into(),
            postal_code: "28001".into(),
            region: None,
            country: "spain".into(),
        };
        let errors = Address::parse(&raw).expect_err("invalid");
        let fields: Vec<_> = errors.iter().map(|(field, _)| *field).collect();
        assert_eq!(fields, vec!["line1", "country"]);
        let fixed = Address { line1: "Gran Vía 1".into(), country: "es".into(), ..raw };
        let parsed = Address::parse(&fixed).expect("valid");
        assert_eq!(parsed.country, "ES");
        assert_eq!(parsed.label.as_deref(), Some("Home"));
        assert_eq!(parsed.line2, None);
    }
}
