//! The in-process server: the real domain services over the in-memory store, a fake token port
//! and password hasher, and the gateway wired as `app` wires it (`SocketIo`, `SocketNotifier`,
//! `ChatGateway`), served by actix-web on a free port of 127.0.0.1.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};
use adapter_ws::gateway::{ChatGateway, GatewayConfig, SocketNotifier};
use async_trait::async_trait;
use chat_domain::error::StoreError;
use chat_domain::fakes::InMemoryStore;
use chat_domain::ports::{
    ChatRepository, MessageRepository, PasswordHasher, TokenClaims, TokenService, Unlimited, UserRepository,
};
use chat_domain::{
    Chat, ChatId, ChatInserted, ChatView, Clock, Password, PasswordHash, ServicePorts, Services, ServicesConfig,
    SystemClock, Timestamp, UserId,
};
use socketio::SocketIo;
use tokio::sync::oneshot;

use crate::client::Client;

/// How long a test waits for something that should happen promptly before it fails.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Waits until `condition` holds, checking it every millisecond; fails the test after
/// [`PATIENCE`]. For server state that no frame announces (a socket's cleanup).
pub async fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// The domain clock of these tests: the system's, plus an offset a test may move forward to
/// age every token at once.
#[derive(Default)]
pub struct TestClock {
    offset: Mutex<chrono::TimeDelta>,
}

impl TestClock {
    pub fn advance(&self, by: chrono::TimeDelta) {
        *self.offset.lock().unwrap() += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        SystemClock.now() + *self.offset.lock().unwrap()
    }
}

/// The token port of these tests: a token is valid when this service issued it, and says who
/// it was issued to and when. Like the real port it reads no clock when decoding: judging a
/// token's times is the domain's and the gateway's business, which is what the tests check.
pub struct FakeTokens {
    clock: Arc<dyn Clock>,
    lifetime: chrono::TimeDelta,
    issued: Mutex<HashMap<String, TokenClaims>>,
}

impl FakeTokens {
    fn new(clock: Arc<dyn Clock>, lifetime: chrono::TimeDelta) -> Self {
        Self { clock, lifetime, issued: Mutex::default() }
    }

    /// A token for `user` that expires `lifetime` from now (negative: already expired).
    pub fn mint(&self, user: UserId, lifetime: chrono::TimeDelta) -> String {
        let now = self.clock.now();
        // An expired token was issued before it expired.
        let issued_at = now.min(now + lifetime - chrono::TimeDelta::seconds(1));
        self.store(TokenClaims {
            user,
            issued_at: Some(issued_at),
            expires_at: now + lifetime,
            not_before: None,
            version: 0,
        })
    }

    /// A token with exactly these claims (times in the future, versions, users that do not
    /// exist), as a signing node could have issued it.
    pub fn mint_claims(&self, claims: TokenClaims) -> String {
        self.store(claims)
    }

    fn store(&self, claims: TokenClaims) -> String {
        let mut issued = self.issued.lock().unwrap();
        let token = format!("fake-token-{}-{}-{}", issued.len(), claims.user, claims.expires_at.timestamp_millis());
        issued.insert(token.clone(), claims);
        token
    }
}

impl TokenService for FakeTokens {
    fn issue(&self, user: UserId, version: u64, issued_at: Timestamp) -> Result<String, StoreError> {
        let expires_at = issued_at + self.lifetime;
        Ok(self.store(TokenClaims { user, issued_at: Some(issued_at), expires_at, not_before: None, version }))
    }

    fn decode(&self, token: &str) -> Option<TokenClaims> {
        self.issued.lock().unwrap().get(token).copied()
    }
}

/// A pause planted in the store's chat reads: the `skip + 1`-th [`ChatRepository::chat_alone`]
/// from now on waits until the test releases it, after telling the test it is there. Lets a
/// test commit events at an exact point of a use case (inside a catch-up, after the gateway
/// has joined the room and before the domain reads the chat's last seq).
struct Gate {
    skip: usize,
    entered: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// The test's end of a [`Gate`].
pub struct GateHandle {
    entered: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl GateHandle {
    /// Waits until the gated read has begun (and is waiting).
    pub async fn entered(&mut self) {
        tokio::time::timeout(PATIENCE, &mut self.entered)
            .await
            .expect("the gated chat read did not happen in time")
            .expect("the gate was dropped");
    }

    /// Lets the gated read go on.
    pub fn release(self) {
        self.release.send(()).expect("the gated read is gone");
    }
}

/// The in-memory store's chats, with a [`Gate`] that can be planted.
struct GatedChats {
    store: Arc<InMemoryStore>,
    gate: Mutex<Option<Gate>>,
}

#[async_trait]
impl ChatRepository for GatedChats {
    async fn insert_chat(&self, chat: &Chat) -> Result<ChatInserted, StoreError> {
        self.store.insert_chat(chat).await
    }

    async fn chat_by_id(&self, id: ChatId) -> Result<Option<ChatView>, StoreError> {
        self.store.chat_by_id(id).await
    }

    async fn chat_alone(&self, id: ChatId) -> Result<Option<Chat>, StoreError> {
        let gate = {
            let mut slot = self.gate.lock().unwrap();
            match slot.as_mut() {
                Some(gate) if gate.skip > 0 => {
                    gate.skip -= 1;
                    None
                }
                Some(_) => slot.take(),
                None => None,
            }
        };
        if let Some(gate) = gate {
            let _ = gate.entered.send(());
            let _ = gate.release.await;
        }
        self.store.chat_alone(id).await
    }

    async fn chats_of_user(
        &self,
        user: UserId,
        limit: u32,
        before: Option<ChatId>,
    ) -> Result<Option<Vec<ChatView>>, StoreError> {
        self.store.chats_of_user(user, limit, before).await
    }

    async fn direct_chat(&self, key: &str) -> Result<Option<ChatView>, StoreError> {
        self.store.direct_chat(key).await
    }

    async fn change_chat(&self, update: chat_domain::ChatUpdate) -> Result<chat_domain::ChatChanged, StoreError> {
        self.store.change_chat(update).await
    }

    async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        self.store.contacts_of(user).await
    }
}

/// Stores passwords as `plain:<password>`; hashing is another adapter's business.
struct FakeHasher;

#[async_trait]
impl PasswordHasher for FakeHasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, StoreError> {
        Ok(PasswordHash(format!("plain:{}", password.expose())))
    }

    async fn verify(&self, password: &Password, hash: &PasswordHash) -> bool {
        hash.0 == format!("plain:{}", password.expose())
    }
}

/// A registered user and a token of theirs valid for an hour.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: UserId,
    pub token: String,
}

/// One gateway served in-process until dropped.
pub struct Harness {
    pub services: Services,
    pub tokens: Arc<FakeTokens>,
    pub clock: Arc<TestClock>,
    pub io: SocketIo,
    pub gateway: ChatGateway,
    chats: Arc<GatedChats>,
    port: u16,
    server: ServerHandle,
}

impl Harness {
    /// A server with the production gateway settings.
    pub fn start() -> Self {
        Self::with_config(GatewayConfig::default())
    }

    /// A server with these gateway settings. Call from inside a Tokio runtime: the gateway's
    /// sweeper and the HTTP server are spawned onto it.
    pub fn with_config(config: GatewayConfig) -> Self {
        let store = Arc::new(InMemoryStore::new());
        let clock = Arc::new(TestClock::default());
        let tokens = Arc::new(FakeTokens::new(clock.clone(), chrono::TimeDelta::hours(1)));
        // As in `app`: the Socket.IO server exists first, so the notifier can reach its rooms.
        let io = SocketIo::new(adapter_ws::gateway::engine_config());
        let users: Arc<dyn UserRepository> = store.clone();
        let gated = Arc::new(GatedChats { store: store.clone(), gate: Mutex::new(None) });
        let chats: Arc<dyn ChatRepository> = gated.clone();
        let messages: Arc<dyn MessageRepository> = store.clone();
        let ports = ServicePorts {
            users,
            chats,
            messages,
            receipts: store,
            notifier: Arc::new(SocketNotifier::new(io.clone())),
            limiter: Arc::new(Unlimited),
            hasher: Arc::new(FakeHasher),
            tokens: tokens.clone(),
            clock: clock.clone(),
        };
        let services = Services::new(ports, ServicesConfig::default());
        let gateway = ChatGateway::new(services.clone(), config);
        gateway.clone().mount(&io);

        // Bound before serving: clients may connect as soon as this returns.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let io_app = io.clone();
        let server = HttpServer::new(move || App::new().configure(socketio::configure(io_app.clone())))
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { services, tokens, clock, io, gateway, chats: gated, port, server: handle }
    }

    /// The WebSocket URL of the Engine.IO endpoint, with `extra` appended to the query.
    pub fn ws_url(&self, extra: &str) -> String {
        format!("ws://127.0.0.1:{}/socket.io/?EIO=4&transport=websocket{extra}", self.port)
    }

    /// Plants a [`Gate`] in the chat reads: the `skip + 1`-th `chat_alone` from now on waits
    /// for the returned handle's release.
    pub fn gate_chat_read(&self, skip: usize) -> GateHandle {
        let (entered_tx, entered_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel();
        let gate = Gate { skip, entered: entered_tx, release: release_rx };
        assert!(self.chats.gate.lock().unwrap().replace(gate).is_none(), "one gate at a time");
        GateHandle { entered: entered_rx, release: release_tx }
    }

    /// Registers `name` (`<name>@example.com`) through the domain's auth service.
    pub async fn user(&self, name: &str) -> TestUser {
        let session = self.services.auth.register(&format!("{name}@example.com"), name, "password-1").await.unwrap();
        TestUser { id: session.user.id, token: session.access_token }
    }

    /// Creates a chat of `owner` and `others` (as `POST /api/chats` would) and returns its id.
    pub async fn chat(&self, owner: &TestUser, others: &[&TestUser]) -> ChatId {
        let ids: Vec<UserId> = others.iter().map(|u| u.id).collect();
        let (view, _) = self.services.chats.create(owner.id, &ids, None).await.unwrap();
        view.chat.id
    }

    /// A socket of `user` connected to `/` with its token in the CONNECT payload.
    pub async fn connect(&self, user: &TestUser) -> Client {
        self.connect_with_token(&user.token).await
    }

    /// A socket connected to `/` with `token` in the CONNECT payload; panics if refused.
    pub async fn connect_with_token(&self, token: &str) -> Client {
        let mut client = Client::open(&self.ws_url("")).await;
        match client.connect(Some(&serde_json::json!({ "token": token }))).await {
            Ok(_) => client,
            Err(refusal) => panic!("CONNECT refused: {refusal}"),
        }
    }

    /// A socket of `user` that has joined `chat` (and checked the ack).
    pub async fn joined(&self, user: &TestUser, chat: ChatId) -> Client {
        let mut client = self.connect(user).await;
        let ack = client.join(chat).await;
        assert_eq!(ack["success"], true, "join refused: {ack}");
        client
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.io.shutdown();
        // Sends the stop command now; the returned future only reports completion.
        drop(self.server.stop(false));
    }
}
