"""Slack for many workspaces: the OAuth install flow (slack-bolt's `AsyncOAuthFlow`) with the
installations and OAuth states kept in the bot's own database.

The stores are slack-sdk's SQLAlchemy ones (`AsyncSQLAlchemyInstallationStore`,
`AsyncSQLAlchemyOAuthStateStore`) run on the store's engine; their tables are migrated with the
rest of the schema (storage/models.py, migration 0010), so every process of a deployment sees
every installation. Each workspace that installs the app gets its own bot token; alerts to a
workspace are posted with that workspace's token, and everything stored already carries the
workspace (Slack team id).
"""

from __future__ import annotations

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.sqlalchemy import AsyncSQLAlchemyOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings

BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "im:write",
    "files:write",
    "channels:history",
    "groups:history",
    "im:history",
)
"""What the bot needs: the /flows command, posting (also in public channels it was not invited
to), DMs for personal alerts, chart uploads, and reading back its own recent messages after a
crash (an alert in flight is found by its metadata, not posted twice). The same list as
slack_manifest.yaml."""
STATE_EXPIRATION_SECONDS = 600


def oauth_settings(settings: Settings, engine: AsyncEngine) -> AsyncOAuthSettings:
    """Bolt's OAuth settings for SLACK_CLIENT_ID / SLACK_CLIENT_SECRET, stores in our database."""
    assert settings.slack_client_id and settings.slack_client_secret
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret,
        scopes=list(BOT_SCOPES),
        installation_store=AsyncSQLAlchemyInstallationStore(
            client_id=settings.slack_client_id, engine=engine
        ),
        state_store=AsyncSQLAlchemyOAuthStateStore(
            expiration_seconds=STATE_EXPIRATION_SECONDS, engine=engine
        ),
        authorization_url=settings.slack_authorize_url,
        redirect_uri=settings.slack_redirect_uri,
        install_page_rendering_enabled=False,
    )
