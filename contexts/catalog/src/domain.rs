//! Catalog value types with their invariants, and the category tree.

use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {0} characters")]
    TooLong(usize),
    #[error("use 2–64 letters, digits, '-', '_' or '.'")]
    Sku,
    #[error("use lower-case letters, digits and single dashes")]
    Slug,
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must be zero or more")]
    Negative,
}

impl kernel::http::FieldCode for DomainError {
    fn code(&self) -> &'static str {
        match self {
            DomainError::Empty => "required",
            DomainError::TooLong(_) => "too_long",
            DomainError::Sku => "invalid_sku",
            DomainError::Slug => "invalid_slug",
            DomainError::ControlCharacters => "control_characters",
            DomainError::Negative => "range",
        }
    }
}

/// A stock-keeping unit: upper-cased, `[A-Z0-9._-]{2,64}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let sku = raw.trim().to_ascii_uppercase();
        let ok = (2..=64).contains(&sku.len()) && sku.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if ok { Ok(Self(sku)) } else { Err(DomainError::Sku) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A URL path segment naming a category: `audio`, `over-ear-headphones`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let slug = raw.trim();
        let ok = (1..=64).contains(&slug.len())
            && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !slug.starts_with('-')
            && !slug.ends_with('-')
            && !slug.contains("--");
        if ok { Ok(Self(slug.to_owned())) } else { Err(DomainError::Slug) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Trimmed text without control characters (newlines allowed where `multiline`).
pub fn clean_text(raw: &str, max_chars: usize, required: bool, multiline: bool) -> Result<String, DomainError> {
    let text = raw.trim();
    if required && text.is_empty() {
        return Err(DomainError::Empty);
    }
    if text.chars().count() > max_chars {
        return Err(DomainError::TooLong(max_chars));
    }
    if text.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t'))) {
        return Err(DomainError::ControlCharacters);
    }
    Ok(text.to_owned())
}

/// Available units at or below this count are "low stock".
pub const LOW_STOCK_THRESHOLD: i64 = 5;

/// The category tree as parent links, for descendant and cycle queries.
#[derive(Debug, Default, Clone)]
pub struct CategoryTree {
    children: BTreeMap<String, BTreeSet<String>>,
    parent: BTreeMap<String, Option<String>>,
}

impl CategoryTree {
    pub fn new(links: impl IntoIterator<Item = (String, Option<String>)>) -> Self {
        let mut tree = Self::default();
        for (id, parent) in links {
            if let Some(parent) = &parent {
                tree.children.entry(parent.clone()).or_default().insert(id.clone());
            }
            tree.parent.insert(id, parent);
        }
        tree
    }

    pub fn contains(&self, id: &str) -> bool {
        self.parent.contains_key(id)
    }

    /// `id` and everything below it.
    pub fn with_descendants(&self, id: &str) -> Vec<String> {
        let mut found = vec![id.to_owned()];
        let mut index = 0;
        while index < found.len() {
            if let Some(children) = self.children.get(&found[index]) {
                found.extend(children.iter().cloned());
            }
            index += 1;
        }
        found
    }

    /// Whether making `new_parent` the parent of `id` would close a loop.
    pub fn would_cycle(&self, id: &str, new_parent: &str) -> bool {
        self.with_descendants(id).iter().any(|descendant| descendant == new_parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_are_normalised_and_checked() {
        assert_eq!(Sku::parse(" wh-1000xm4 ").map(|s| s.0), Ok("WH-1000XM4".into()));
        for bad in ["", "a", "has space", "ñandú", &"x".repeat(65), "semi;colon"] {
            assert_eq!(Sku::parse(bad), Err(DomainError::Sku), "{bad}");
        }
    }

    #[test]
    fn slugs_are_lower_case_and_dashed() {
        assert!(Slug::parse("over-ear-headphones").is_ok());
        for bad in ["", "Audio", "-audio", "audio-", "a--b", "a b", "café"] {
            assert!(Slug::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn descendants_and_cycles() {
        let tree = CategoryTree::new([
            ("audio".to_owned(), None),
            ("headphones".to_owned(), Some("audio".to_owned())),
            ("in-ear".to_owned(), Some("headphones".to_owned())),
            ("tv".to_owned(), None),
        ]);
        let mut below = tree.with_descendants("audio");
        below.sort();
        assert_eq!(below, vec!["audio", "headphones", "in-ear"]);
        assert!(tree.would_cycle("audio", "in-ear"));
        assert!(tree.would_cycle("audio", "audio"));
        assert!(!tree.would_cycle("in-ear", "tv"));
    }

    #[test]
    fn text_cleaning() {
        assert_eq!(clean_text("  Hi  ", 10, true, false), Ok("Hi".into()));
        assert_eq!(clean_text("a\nb", 10, true, true), Ok("a\nb".into()));
        assert_eq!(clean_text("a\nb", 10, true, false), Err(DomainError::ControlCharacters));
        assert_eq!(clean_text(" ", 10, true, false), Err(DomainError::Empty));
    }
}
