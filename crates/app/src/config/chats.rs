//! The settings that keep chats from being used to spam people: how many participants a chat
//! may have, and how many new chats a user may create per minute.

use chat_domain::model::MAX_PARTICIPANTS;

use super::{invalid, ConfigError};

/// The bounds of chat creation; 0 turns each off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatConfig {
    /// `MAX_GROUP_SIZE`: participants of a chat, the creator included. 0 leaves only the
    /// storage model's hard bound of [`MAX_PARTICIPANTS`].
    pub max_group_size: usize,
    /// `CHAT_CREATE_LIMIT_PER_MINUTE`: new chats one user creates per minute (a 1:1 chat
    /// returned again does not count).
    pub create_per_minute: u32,
}

/// The variables read here, for the UTF-8 check of `Config::from_env`.
pub(super) const VARIABLES: [&str; 2] = ["MAX_GROUP_SIZE", "CHAT_CREATE_LIMIT_PER_MINUTE"];

impl ChatConfig {
    pub(super) fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let max_group_size = match lookup("MAX_GROUP_SIZE") {
            None => 100,
            Some(raw) => match raw.trim().parse::<usize>() {
                // A chat has at least two participants, so 1 would forbid every chat.
                Ok(n) if n == 0 || (2..=MAX_PARTICIPANTS).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "MAX_GROUP_SIZE",
                        format!(
                            "must be a number of participants from 2 to {MAX_PARTICIPANTS} (0 turns the limit off)"
                        ),
                    ))
                }
            },
        };
        let create_per_minute = match lookup("CHAT_CREATE_LIMIT_PER_MINUTE") {
            None => 10,
            Some(raw) => raw.trim().parse::<u32>().map_err(|_| {
                invalid(
                    "CHAT_CREATE_LIMIT_PER_MINUTE",
                    "must be a whole number of chats per minute (0 turns the limit off)",
                )
            })?,
        };
        Ok(Self { max_group_size, create_per_minute })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn chats(vars: &[(&str, &str)]) -> Result<ChatConfig, ConfigError> {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        ChatConfig::from_lookup(&|name: &str| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_contract_and_zero_turns_each_off() {
        assert_eq!(chats(&[]).unwrap(), ChatConfig { max_group_size: 100, create_per_minute: 10 });
        let off = chats(&[("MAX_GROUP_SIZE", "0"), ("CHAT_CREATE_LIMIT_PER_MINUTE", " 0 ")]).unwrap();
        assert_eq!(off, ChatConfig { max_group_size: 0, create_per_minute: 0 });
        let set = chats(&[("MAX_GROUP_SIZE", "2"), ("CHAT_CREATE_LIMIT_PER_MINUTE", "500")]).unwrap();
        assert_eq!(set, ChatConfig { max_group_size: 2, create_per_minute: 500 });
    }

    #[test]
    fn unusable_values_name_their_variable() {
        for (name, value) in [
            ("MAX_GROUP_SIZE", "1"),
            ("MAX_GROUP_SIZE", "257"),
            ("MAX_GROUP_SIZE", "many"),
            ("CHAT_CREATE_LIMIT_PER_MINUTE", "-1"),
            ("CHAT_CREATE_LIMIT_PER_MINUTE", "ten"),
        ] {
            let error = chats(&[(name, value)]).unwrap_err();
            assert_eq!(error.variable, name, "{name}={value}");
        }
    }
}
