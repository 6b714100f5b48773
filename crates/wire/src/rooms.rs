//! The Socket.IO rooms of the contract: their names, and the chat or user a name stands for.

/// The personal room every socket of a user joins on connect.
pub fn user_room(user: chat_domain::UserId) -> String {
    format!("user-{user}")
}

/// The personal room of the user whose id is `user` as the wire writes it (a
/// `Delivery`'s `members`).
pub fn user_room_of(user: &str) -> String {
    format!("user-{user}")
}

/// The room of a chat's live events.
pub fn chat_room(chat: chat_domain::ChatId) -> String {
    format!("chat-{chat}")
}

/// The chat whose room `room` is, if it is a chat's room.
pub fn chat_of_room(room: &str) -> Option<chat_domain::ChatId> {
    chat_domain::ChatId::parse(room.strip_prefix("chat-")?).ok()
}

/// The user whose personal room `room` is, if it is one.
pub fn user_of_room(room: &str) -> Option<chat_domain::UserId> {
    chat_domain::UserId::parse(room.strip_prefix("user-")?).ok()
}

#[cfg(test)]
mod tests {
    use chat_domain::{ChatId, UserId};

    use super::*;

    #[test]
    fn a_rooms_name_gives_back_its_chat_or_user_and_nothing_else() {
        let (chat, user) = (ChatId::generate(1), UserId::generate(1));
        assert_eq!(chat_of_room(&chat_room(chat)), Some(chat));
        assert_eq!(user_of_room(&user_room(user)), Some(user));
        assert_eq!(user_room_of(&user.to_string()), user_room(user));
        assert_eq!(chat_of_room(&user_room(user)), None);
        assert_eq!(user_of_room(&chat_room(chat)), None);
        assert_eq!(chat_of_room("chat-nope"), None);
    }
}
