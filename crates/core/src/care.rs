//! The vocabulary of care: roles, case and session states. Plain enums with their storage names,
//! shared by the store (which persists the names) and the server (which shows and checks them).

macro_rules! named_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The name used in storage, URLs and the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            /// Reads a stored name; `None` for anything else.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
/// Reused by the other vocabularies of the core (e.g. `goals.rs`).
pub(crate) use named_enum;

named_enum!(
    /// A user's role in a clinic. Clients have no account; they answer through links.
    Role { Clinician = "clinician", Supervisor = "supervisor", Admin = "admin" }
);
named_enum!(
    /// Where a case stands.
    CaseStatus { Active = "active", Closed = "closed", DroppedOut = "dropped_out" }
);
named_enum!(
    /// How a session was held.
    Modality { InPerson = "in_person", Video = "video", Phone = "phone" }
);
named_enum!(
    /// Whether a session took place.
    SessionStatus { Planned = "planned", Attended = "attended", Missed = "missed", Cancelled = "cancelled" }
);
named_enum!(
    /// A clinician's part in a case.
    CaseRole { Lead = "lead", Co = "co", Shared = "shared" }
);
named_enum!(
    /// Where a stored response came from.
    ResponseSource { Link = "link", Clinician = "clinician", Import = "import", Demo = "demo" }
);
named_enum!(
    /// The state of an administration (a request for one instrument to be filled).
    AdministrationStatus { Pending = "pending", Completed = "completed", Cancelled = "cancelled" }
);
