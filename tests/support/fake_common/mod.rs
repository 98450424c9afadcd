//! What the fake providers share: serving an app on a free port, injecting faults, building
//! replies and issuing OAuth tokens. Each fake keeps its own routes, state and error bodies.

pub mod client_auth;
pub mod faults;
pub mod ids;
pub mod params;
pub mod reply;
pub mod server;
pub mod tokens;
