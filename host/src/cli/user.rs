//! `p8sync user create|list|revoke`: API keys for `p8sync serve`.

use super::{Cli, print_table};
use crate::store::ids::UserId;
use anyhow::Result;
use clap::Subcommand;

/// `p8sync user ...`
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an API key (for a new user, or another key for an existing one) and print it.
    /// Only its hash is stored: the key is shown this once.
    ///
    /// Example: p8sync user create --name alice
    Create {
        /// A label for the key (who or what uses it).
        #[arg(long)]
        name: String,
        /// The user the key acts as (a uuid, for example Percolate's user id); default: a
        /// new user.
        #[arg(long)]
        user: Option<UserId>,
        /// The key sees and changes every user's data.
        #[arg(long)]
        admin: bool,
    },
    /// List API keys (never the keys themselves).
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<UserId>,
    },
    /// Delete an API key by its id (from `user list`); requests with it fail at once.
    Revoke {
        /// The key's id.
        id: uuid::Uuid,
    },
}

/// Run a `user` command.
pub(super) async fn run(cli: &Cli, command: &UserCommand) -> Result<()> {
    let app = cli.app().await?;
    match command {
        UserCommand::Create { name, user, admin } => {
            let (key, info) = app.create_key(name, *user, *admin).await?;
            eprintln!(
                "Created {}API key {} for user {}. Store it now: it is not shown again.",
                if *admin { "an admin " } else { "an " },
                info.id,
                info.userid
            );
            // The key alone on stdout, so scripts can capture it.
            println!("{}", key.expose());
            Ok(())
        }
        UserCommand::List { user } => {
            let keys = app.keys(*user).await?;
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|k| {
                    vec![
                        k.id.to_string(),
                        k.userid.to_string(),
                        if k.is_admin { "admin" } else { "user" }.into(),
                        k.created_at.format("%Y-%m-%d %H:%M").to_string(),
                        k.name.clone(),
                    ]
                })
                .collect();
            print_table(&["KEY ID", "USER", "ROLE", "CREATED (UTC)", "NAME"], &rows);
            Ok(())
        }
        UserCommand::Revoke { id } => {
            app.revoke_key(*id)
                .await
                .map_err(|e| anyhow::anyhow!("{e} (see `p8sync user list`)"))?;
            eprintln!("deleted API key {id}");
            Ok(())
        }
    }
}
