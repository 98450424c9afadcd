//! `p8sync auth`: log in (installed-app flow), import tokens, store a Basic or bearer
//! credential, show, revoke and delete credentials.

use super::{Cli, print_json_lines, print_table};
use crate::app::accounts::Revocation;
use crate::oauth::stored::{self, StaticCredential};
use crate::oauth::{Grant, OAuthApp, login};
use crate::secret::Secret;
use crate::store::ids::UserId;
use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

/// `p8sync auth ...`
#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Sign in to a provider in the browser and store the credential (encrypted).
    ///
    /// Opens nothing itself: it prints the URL to open, and listens on 127.0.0.1 for the
    /// provider's redirect. Example: p8sync auth login --provider google_drive
    Login(LoginArgs),
    /// Store tokens obtained elsewhere (for example Percolate's `SyncCredential`), from a JSON
    /// file, stdin (`-`), or the environment.
    Import(ImportArgs),
    /// Store a username and password (HTTP Basic) or a bearer token for a provider that
    /// declares that kind of sign-in, encrypted. The secret is read from stdin only.
    ///
    /// Example: printf '%s' "$PASS" | p8sync auth set webdav --username alice --password-stdin
    Set(SetArgs),
    /// Show stored credentials: account, expiry, whether they can be refreshed. Never tokens.
    Status(StatusArgs),
    /// Revoke a credential at the provider and delete it here (a stored Basic or bearer
    /// credential has nothing to revoke and is only deleted).
    Revoke(RevokeArgs),
    /// Delete a credential here without contacting the provider.
    Delete(DeleteArgs),
    /// Seal every stored credential and login under way under the current key
    /// (P8_ENCRYPTION_KEY), so the keys in P8_ENCRYPTION_PREVIOUS_KEYS can be dropped.
    ///
    /// Prints what it moved; exits with an error while anything is left under another key.
    Rekey(RekeyArgs),
}

/// Options of `auth rekey`.
#[derive(Debug, Args)]
pub struct RekeyArgs {
    /// Also seal rows that hold their tokens unencrypted (written by Percolate or by hand,
    /// not by p8sync). They are refused until then: only do this for rows you trust.
    #[arg(long)]
    adopt_unsealed: bool,
    /// Print the counts as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Options of `auth set`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("secret").required(true).args(["password_stdin", "token_stdin"])))]
pub struct SetArgs {
    /// The provider id (see `p8sync providers`).
    provider: String,
    /// The user (a uuid); defaults to P8_USER_ID, or the local user.
    #[arg(long)]
    user: Option<UserId>,
    /// The username, for a provider that signs in with HTTP Basic (with --password-stdin).
    #[arg(long, requires = "password_stdin")]
    username: Option<String>,
    /// Read the password from stdin (up to the end; a final line ending is dropped). Never
    /// give a secret as an argument: other users can see arguments in `ps`.
    #[arg(long, requires = "username", conflicts_with = "token_stdin")]
    password_stdin: bool,
    /// Read a bearer token from stdin, for a provider that signs in with one.
    #[arg(long)]
    token_stdin: bool,
    /// The account's label: replaces the secret of the account labelled so, or adds an account
    /// with it (default: the user name, or the provider).
    #[arg(long)]
    label: Option<String>,
    /// The server the account lives on, for a self-hosted service (WebDAV: the address of the
    /// files, e.g. https://cloud.example.com/remote.php/dav/files/alice/).
    #[arg(long)]
    server_url: Option<String>,
}

/// Options of `auth delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The provider id.
    provider: String,
    /// The user (a uuid); defaults to P8_USER_ID, or the local user.
    #[arg(long)]
    user: Option<UserId>,
    /// Which account, when the user has several of the provider (see `auth status`).
    #[arg(long)]
    label: Option<String>,
}

/// Who and which provider.
#[derive(Debug, Args)]
pub struct Target {
    /// The provider id (see `p8sync providers`).
    #[arg(long)]
    provider: String,
    /// The user (a uuid); defaults to P8_USER_ID, or the local user.
    #[arg(long)]
    user: Option<UserId>,
    /// The account's label: the account labelled so (to sign in to it again, or revoke it),
    /// or a new account with that label. Without it: a new account (or the one with the same
    /// identity), and for `revoke`, the user's only account of the provider.
    #[arg(long)]
    label: Option<String>,
}

/// Options of `auth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    target: Target,
    /// How long to wait for the browser.
    #[arg(long, default_value = "300")]
    timeout_seconds: u64,
}

/// Options of `auth import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    target: Target,
    /// A JSON file with `access_token`, `refresh_token`, and `expires_at`/`token_expiry`
    /// (RFC 3339) or `expires_in` (seconds); `-` reads stdin. Without it, the tokens come from
    /// P8_IMPORT_ACCESS_TOKEN, P8_IMPORT_REFRESH_TOKEN and P8_IMPORT_EXPIRES_AT.
    #[arg(long)]
    file: Option<PathBuf>,
    /// The account the tokens belong to (for example an email address).
    #[arg(long)]
    account: Option<String>,
}

/// Options of `auth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only this user's credentials.
    #[arg(long)]
    user: Option<UserId>,
    /// Print JSON lines.
    #[arg(long)]
    json: bool,
}

/// Options of `auth revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    target: Target,
    /// Delete it here even when the provider cannot be reached.
    #[arg(long)]
    force: bool,
}

impl Target {
    fn user(&self) -> Result<UserId> {
        match self.user {
            Some(u) => Ok(u),
            None => super::sync::default_user(),
        }
    }
}

async fn app_for(cli: &Cli, provider: &str) -> Result<OAuthApp> {
    Ok(cli.app().await?.oauth_app(provider)?)
}

/// Run an `auth` command.
pub(super) async fn run(cli: &Cli, command: &AuthCommand) -> Result<()> {
    match command {
        AuthCommand::Login(args) => login_cmd(cli, args).await,
        AuthCommand::Import(args) => import(cli, args).await,
        AuthCommand::Set(args) => set(cli, args).await,
        AuthCommand::Status(args) => status(cli, args).await,
        AuthCommand::Revoke(args) => revoke(cli, args).await,
        AuthCommand::Delete(args) => delete(cli, args).await,
        AuthCommand::Rekey(args) => rekey(cli, args).await,
    }
}

async fn login_cmd(cli: &Cli, args: &LoginArgs) -> Result<()> {
    let user = args.target.user()?;
    let app = app_for(cli, &args.target.provider).await?;
    let store = cli.store().await?;
    let tokens = cli.tokens(store).await?;
    let pending = login::start(&app).await?;
    // The URL goes to stdout on its own line so scripts (and tests) can pick it up.
    eprintln!(
        "Open this URL in a browser to sign in to {}:",
        app.provider()
    );
    println!("{}", pending.url());
    let grant = pending
        .finish(Duration::from_secs(args.timeout_seconds))
        .await?;
    let account = app.account(&grant.access_token).await;
    let choice = tokens
        .choice_for_label(user, app.provider(), args.target.label.as_deref())
        .await?;
    let saved = tokens
        .save_grant(user, app.provider(), &grant, account.clone(), &choice)
        .await?;
    eprintln!(
        "Signed in to {}{} for user {user} (account `{}`); the credential is stored encrypted.",
        app.provider(),
        account.map(|a| format!(" as {a}")).unwrap_or_default(),
        saved.label
    );
    if grant.refresh_token.is_none() {
        eprintln!(
            "warning: the provider sent no refresh token, so this login stops working when the access token expires. Revoke the app's access in your account settings and log in again (the consent screen must be shown)."
        );
    }
    Ok(())
}

/// Tokens to import, in the shapes Percolate and OAuth libraries write them.
#[derive(Debug, serde::Deserialize)]
struct Imported {
    access_token: String,
    refresh_token: Option<String>,
    #[serde(alias = "token_expiry", alias = "expiry")]
    expires_at: Option<DateTime<Utc>>,
    expires_in: Option<i64>,
    #[serde(alias = "scope")]
    scopes: Option<serde_json::Value>,
}

async fn import(cli: &Cli, args: &ImportArgs) -> Result<()> {
    let user = args.target.user()?;
    let imported: Imported = match &args.file {
        Some(path) => {
            let mut text = String::new();
            if path.as_os_str() == "-" {
                std::io::stdin().read_to_string(&mut text)?;
            } else {
                text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
            }
            // serde's messages can quote values (tokens): report only where it went wrong.
            serde_json::from_str(&text).map_err(|e| {
                anyhow::anyhow!(
                    "the token file is not the expected JSON ({:?} error at line {}, column {}); it needs at least `access_token`",
                    e.classify(),
                    e.line(),
                    e.column()
                )
            })?
        }
        None => {
            let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
            Imported {
                access_token: var("P8_IMPORT_ACCESS_TOKEN").context(
                    "give --file, or set P8_IMPORT_ACCESS_TOKEN (and P8_IMPORT_REFRESH_TOKEN)",
                )?,
                refresh_token: var("P8_IMPORT_REFRESH_TOKEN"),
                expires_at: var("P8_IMPORT_EXPIRES_AT")
                    .map(|t| t.parse())
                    .transpose()
                    .context("P8_IMPORT_EXPIRES_AT is not an RFC 3339 time")?,
                expires_in: None,
                scopes: None,
            }
        }
    };
    let runtime = cli.runtime()?;
    let registry = cli.registry(&runtime).await?;
    let provider = registry.get(&args.target.provider)?;
    let grant = Grant {
        access_token: Secret::new(imported.access_token),
        refresh_token: imported.refresh_token.map(Secret::new),
        expires_at: imported.expires_at.or_else(|| {
            imported
                .expires_in
                // Capped, so a huge number cannot overflow the date (a panic).
                .map(|s| {
                    crate::oauth::app::expiry_after(std::time::Duration::from_secs(
                        s.max(0).unsigned_abs(),
                    ))
                })
        }),
        scopes: imported.scopes.map(|s| match s {
            serde_json::Value::String(s) => s,
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            other => other.to_string(),
        }),
    };
    let store = cli.store().await?;
    let tokens = cli.tokens(store).await?;
    let choice = tokens
        .choice_for_label(user, provider.id(), args.target.label.as_deref())
        .await?;
    tokens
        .save_grant(user, provider.id(), &grant, args.account.clone(), &choice)
        .await?;
    eprintln!(
        "Imported the {} credential for user {user}; it is stored encrypted.",
        provider.id()
    );
    if grant.refresh_token.is_none() {
        eprintln!(
            "warning: no refresh token was imported, so the credential stops working when the access token expires"
        );
    }
    Ok(())
}

async fn set(cli: &Cli, args: &SetArgs) -> Result<()> {
    let user = match args.user {
        Some(u) => u,
        None => super::sync::default_user()?,
    };
    let app = cli.app_with_credentials().await?;
    let read_secret = |what: &str| -> Result<Secret> {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .with_context(|| format!("reading the {what} from stdin"))?;
        Ok(stored::secret_from_text(text))
    };
    // Checked before reading stdin, so a wrong command fails at once instead of waiting.
    let probe = match &args.username {
        Some(username) => StaticCredential::Basic {
            username: username.clone(),
            password: Secret::new(""),
        },
        None => StaticCredential::Bearer {
            token: Secret::new(""),
        },
    };
    app.check_user_secret(&args.provider, &probe)?;
    let credential = match probe {
        StaticCredential::Basic { username, .. } => StaticCredential::Basic {
            username,
            password: read_secret("password")?,
        },
        StaticCredential::Bearer { .. } => StaticCredential::Bearer {
            token: read_secret("token")?,
        },
    };
    let choice = app
        .tokens()?
        .choice_for_label(user, &args.provider, args.label.as_deref())
        .await?;
    let saved = app
        .save_user_secret(
            user,
            &args.provider,
            &credential,
            args.server_url.as_deref(),
            &choice,
        )
        .await?;
    let kind = match credential {
        StaticCredential::Basic { username, .. } => {
            format!("the username and password of {username}")
        }
        StaticCredential::Bearer { .. } => "the token".to_string(),
    };
    eprintln!(
        "Stored {kind} for {} (user {user}, account `{}`); it is stored encrypted.",
        saved.provider, saved.label
    );
    Ok(())
}

async fn delete(cli: &Cli, args: &DeleteArgs) -> Result<()> {
    let user = match args.user {
        Some(u) => u,
        None => super::sync::default_user()?,
    };
    let store = cli.store().await?;
    let tokens = cli.tokens(store).await?;
    let chosen = match &args.label {
        Some(label) => Some(
            tokens
                .labelled(user, &args.provider, label)
                .await?
                .with_context(|| format!("user {user} has no {} account `{label}`", args.provider))?
                .id,
        ),
        None => None,
    };
    let account = tokens.account(user, &args.provider, chosen).await?;
    tokens.delete(account.id).await?;
    eprintln!(
        "deleted the {} account `{}` of user {user}",
        args.provider, account.label
    );
    Ok(())
}

async fn rekey(cli: &Cli, args: &RekeyArgs) -> Result<()> {
    let store = cli.store().await?;
    let tokens = cli.tokens(store).await?;
    let report = tokens.rekey(args.adopt_unsealed).await?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "key {}: {} credentials re-sealed, {} already under it, {} unencrypted rows sealed; {} logins under way re-sealed",
            report.key_id, report.resealed, report.current, report.adopted, report.logins_resealed
        );
        for u in report.unsealed.iter().chain(&report.unreadable) {
            println!("  {} of user {}: {}", u.provider, u.user, u.reason);
        }
    }
    if !report.complete() {
        bail!(
            "{} credentials and {} logins under way could not be opened and keep their old key: keep P8_ENCRYPTION_PREVIOUS_KEYS until they are fixed (log in again, or delete them)",
            report.unreadable.len(),
            report.logins_unreadable
        );
    }
    eprintln!(
        "nothing is left under another key: P8_ENCRYPTION_PREVIOUS_KEYS can be emptied{}",
        if report.unsealed.is_empty() {
            ""
        } else {
            " (the unencrypted rows above stay refused)"
        }
    );
    Ok(())
}

async fn status(cli: &Cli, args: &StatusArgs) -> Result<()> {
    let store = cli.store().await?;
    let tokens = cli.tokens(store).await?;
    let list = tokens.status(args.user).await?;
    if args.json {
        return print_json_lines(&list);
    }
    if list.is_empty() {
        println!("no credentials; sign in with `p8sync auth login --provider ID`");
        return Ok(());
    }
    let now = Utc::now();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|c| {
            let state = if c.needs_reauth {
                format!(
                    "needs login: {}",
                    c.reauth_reason.as_deref().unwrap_or("refused")
                )
            } else if !c.has_refresh_token && c.expires_at.is_some_and(|e| e <= now) {
                "expired, no refresh token: log in again".into()
            } else if c.expires_at.is_some_and(|e| e <= now) {
                "ok (refreshes on next use)".into()
            } else {
                "ok".into()
            };
            vec![
                c.provider.clone(),
                c.label.clone(),
                c.kind.clone(),
                c.userid.to_string(),
                c.account.clone().unwrap_or_else(|| "-".into()),
                c.expires_at
                    .map(|e| e.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_else(|| "-".into()),
                if c.has_refresh_token { "yes" } else { "no" }.into(),
                state,
            ]
        })
        .collect();
    print_table(
        &[
            "PROVIDER",
            "LABEL",
            "KIND",
            "USER",
            "ACCOUNT",
            "EXPIRES (UTC)",
            "REFRESH",
            "STATE",
        ],
        &rows,
    );
    Ok(())
}

async fn revoke(cli: &Cli, args: &RevokeArgs) -> Result<()> {
    let user = args.target.user()?;
    let provider = &args.target.provider;
    let app = cli.app_with_credentials().await?;
    let chosen = match &args.target.label {
        Some(label) => Some(
            app.tokens()?
                .labelled(user, provider, label)
                .await?
                .with_context(|| format!("user {user} has no {provider} account `{label}`"))?
                .id,
        ),
        None => None,
    };
    let done = app.disconnect(user, provider, chosen, args.force).await?;
    match done.revocation {
        Revocation::Revoked => eprintln!("revoked at {provider}"),
        Revocation::NoEndpoint => eprintln!(
            "{provider} has no revocation endpoint; remove the app's access in your account settings"
        ),
        Revocation::UserSecret => eprintln!(
            "a stored password or token cannot be revoked from here; change it at the service if it leaked"
        ),
        Revocation::FailedButForced(e) => {
            eprintln!("warning: {e}; deleted here anyway (--force)")
        }
    }
    eprintln!("deleted the {provider} credential of user {user}");
    Ok(())
}
