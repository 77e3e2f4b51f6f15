//! Who acts: roles, and the actor a command is issued by (identity, role, territory, department).
//!
//! Which role may issue which case command is decided in [`crate::case`]; this module names the
//! roles and answers territory questions ("is this grid inside the actor's division subtree?").

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::division::DivisionCode;

/// The roles of people and systems inside Jingzhi.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    CityOperator,
    DistrictOperator,
    StreetOperator,
    Dispatcher,
    Handler,
    Inspector,
    HotlineOperator,
    CommunityWorker,
    Volunteer,
    Citizen,
    Auditor,
    Admin,
    /// Jingzhi itself: the intake desk, the deadline scheduler.
    System,
}

impl Role {
    pub const ALL: [Role; 13] = [
        Role::CityOperator,
        Role::DistrictOperator,
        Role::StreetOperator,
        Role::Dispatcher,
        Role::Handler,
        Role::Inspector,
        Role::HotlineOperator,
        Role::CommunityWorker,
        Role::Volunteer,
        Role::Citizen,
        Role::Auditor,
        Role::Admin,
        Role::System,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::CityOperator => "city_operator",
            Role::DistrictOperator => "district_operator",
            Role::StreetOperator => "street_operator",
            Role::Dispatcher => "dispatcher",
            Role::Handler => "handler",
            Role::Inspector => "inspector",
            Role::HotlineOperator => "hotline_operator",
            Role::CommunityWorker => "community_worker",
            Role::Volunteer => "volunteer",
            Role::Citizen => "citizen",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
            Role::System => "system",
        }
    }

    /// The role with its article, for messages: "an inspector", "a handler".
    pub fn with_article(self) -> String {
        let name = self.as_str();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name}")
    }

    /// Operators of a territory: they register, close, cancel and approve.
    pub fn is_operator(self) -> bool {
        matches!(
            self,
            Role::CityOperator | Role::DistrictOperator | Role::StreetOperator
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                format!("unknown role `{s}`; roles are {}", names.join(", "))
            })
    }
}

/// The person or system issuing a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Stable identity, e.g. `user:0192…` or `system:deadlines`.
    pub id: String,
    pub role: Role,
    /// The division subtree the actor works in; `None` means the whole city.
    pub territory: Option<DivisionCode>,
    /// For handlers: the department they act for.
    pub department: Option<String>,
}

impl Actor {
    pub fn system(component: &str) -> Actor {
        Actor {
            id: format!("system:{component}"),
            role: Role::System,
            territory: None,
            department: None,
        }
    }

    /// Whether a place (by any of its division codes) lies inside the actor's territory.
    pub fn covers(&self, place: &DivisionCode) -> bool {
        self.territory.is_none_or(|t| place.is_within(&t))
    }
}
