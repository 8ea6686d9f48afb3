//! Typed identifiers.
//!
//! Every entity id is a UUID v7 (time-ordered, so ids sort by creation and make
//! stable cursors) wrapped in its own type, so an order id can never be passed
//! where a product id is expected. In SQL an id is stored as its hyphenated text
//! form, the one representation both backends share.

/// Defines a typed id: `define_id!(UserId);`.
#[macro_export]
macro_rules! define_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(::uuid::Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(::uuid::Uuid::now_v7())
            }

            pub const fn from_uuid(uuid: ::uuid::Uuid) -> Self {
                Self(uuid)
            }

            pub const fn as_uuid(&self) -> ::uuid::Uuid {
                self.0
            }

            /// Parses the text form stored in the database or sent by a client.
            pub fn parse(text: &str) -> Result<Self, $crate::id::InvalidId> {
                ::uuid::Uuid::parse_str(text)
                    .map(Self)
                    .map_err(|_| $crate::id::InvalidId)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }

        impl $crate::__utoipa::PartialSchema for $name {
            fn schema() -> $crate::__utoipa::openapi::RefOr<$crate::__utoipa::openapi::schema::Schema> {
                use $crate::__utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into()
            }
        }

        impl $crate::__utoipa::ToSchema for $name {}

        impl ::std::str::FromStr for $name {
            type Err = $crate::id::InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }
    };
}

/// A string that is not a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

define_id!(
    /// Identifies a user account. Owned by the users context, referenced by every other.
    UserId
);
define_id!(
    /// Identifies one signed-in session (a refresh-token family).
    SessionId
);

define_id!(
    /// Identifies a product. Owned by the catalog; orders keep it with a snapshot.
    ProductId
);
define_id!(
    /// Identifies an order. Owned by the orders context; catalog reservations are keyed by it.
    OrderId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_time_ordered() {
        let first = UserId::new();
        let second = UserId::new();
        assert!(first < second);
        assert!(first.to_string() < second.to_string());
    }

    #[test]
    fn text_form_round_trips() {
        let id = UserId::new();
        assert_eq!(UserId::parse(&id.to_string()), Ok(id));
        assert_eq!(UserId::parse("not-a-uuid"), Err(InvalidId));
    }
}
