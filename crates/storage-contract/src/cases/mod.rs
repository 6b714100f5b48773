//! The contract cases, one `pub async fn(Stores)` each, grouped by what they exercise.

mod chats;
mod freshness;
mod groups;
mod history;
mod lifecycle;
mod membership;
mod messages;
mod presence;
mod receipts;
mod users;

pub use chats::*;
pub use freshness::*;
pub use groups::*;
pub use history::*;
pub use lifecycle::*;
pub use membership::*;
pub use messages::*;
pub use presence::*;
pub use receipts::*;
pub use users::*;
