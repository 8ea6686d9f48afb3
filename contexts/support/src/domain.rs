//! Ticket kinds, statuses and the transitions between them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Inquiry,
    Return,
    Complaint,
    Feedback,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Inquiry, Kind::Return, Kind::Complaint, Kind::Feedback];

    pub fn as_str(&self) -> &'static str {
        match self {
            Kind::Inquiry => "inquiry",
            Kind::Return => "return",
            Kind::Complaint => "complaint",
            Kind::Feedback => "feedback",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Pending,
    Resolved,
    Closed,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Open, Status::Pending, Status::Resolved, Status::Closed];

    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Pending => "pending",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// open ⇄ pending, either → resolved → closed; resolved → open (a reply);
    /// closed is final. Staying put is allowed.
    pub fn can_become(&self, to: Status) -> bool {
        use Status::*;
        *self == to
            || matches!(
                (self, to),
                (Open, Pending)
                    | (Pending, Open)
                    | (Open, Resolved)
                    | (Pending, Resolved)
                    | (Resolved, Closed)
                    | (Resolved, Open)
            )
    }
}

pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transition_table() {
        use Status::*;
        let allowed: Vec<(Status, Status)> = Status::ALL
            .iter()
            .flat_map(|from| Status::ALL.iter().map(move |to| (*from, *to)))
            .filter(|(from, to)| from != to && from.can_become(*to))
            .collect();
        assert_eq!(
            allowed,
            vec![
                (Open, Pending),
                (Open, Resolved),
                (Pending, Open),
                (Pending, Resolved),
                (Resolved, Open),
                (Resolved, Closed)
            ]
        );
        assert!(!Closed.can_become(Open), "closed is final");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("refund"), None);
    }
}
