"""The portal's own settings (pydantic-settings, `CONNECT_*` variables).

The portal is a client of Connect's public HTTP API, so it reads only what a portal team
elsewhere would be given: where it is served, where the API answers, and its OpenID Connect
client registration at the membership identity provider.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECT_", extra="ignore")

    portal_url: str = Field("http://127.0.0.1:8000", description="The portal's public base URL (no trailing /).")
    api_url: str | None = Field(None, description="Where Connect's API answers; unset when the API runs "
                                                  "in the same process (`connect serve`).")
    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer URL; its discovery document is "
                                                      "<issuer>/.well-known/openid-configuration. Unset: the "
                                                      "development provider at <API>/dev-oidc.")
    oidc_client_id: str = "connect-portal"
    oidc_client_secret: SecretStr | None = Field(None, description="Only for a confidential client; PKCE is "
                                                                   "always used.")
    oidc_scopes: str = "openid profile email"
    portal_session_secret: SecretStr | None = Field(None, description="Signs and encrypts the session cookie; "
                                                                      "the same in every portal process.")
    portal_session_hours: float = Field(8.0, gt=0, le=24 * 7)
    portal_society_url: str = Field("https://www.cii.co.uk/", description="Where members change their name, "
                                                                          "email and password.")
    portal_cpd_scheme_url: str = "https://www.cii.co.uk/learning/cpd/cpd-scheme-rules/"
    portal_api_timeout_seconds: float = 10.0

    @property
    def base(self) -> str:
        return self.portal_url.rstrip("/")

    def issuer(self) -> str:
        if self.oidc_issuer:
            return self.oidc_issuer.rstrip("/")
        return (self.api_url or self.portal_url).rstrip("/") + "/dev-oidc"
